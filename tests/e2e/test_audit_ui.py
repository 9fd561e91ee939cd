"""Settings → Audit log in a real browser: rows listed newest first, the
action filter, a row's details dialog, export links carrying the filters,
the chain check, and cards on a phone."""

import json
from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import expect

from e2e_support import DESKTOP, PHONE, api_sign_in, create_user, expect_no_horizontal_scroll, open_page, unique, \
    unexpected, url


def test_audit_log_lists_filters_and_shows_details(server, browser):
    name = unique("aud")
    with open_page(browser, DESKTOP) as (page, seen):
        api_sign_in(page, server)
        create_user(page, server, name, display_name="Audited")
        page.goto(url(server, "/settings/audit"))
        rows = page.locator(".audit-table tbody tr")
        expect(rows.first).to_be_visible()
        ids = rows.evaluate_all("els => els.map((e) => Number(e.dataset.id))")
        assert ids == sorted(ids, reverse=True) and len(ids) >= 2

        page.get_by_label("Action").fill("user.create")
        expect(rows).to_have_count(1)
        row = rows.first
        expect(row).to_contain_text("user:admin")
        expect(row).to_contain_text(name)
        expect(row.locator(".badge")).to_have_text("OK")

        href = page.locator('a[data-export="csv"]').get_attribute("href")
        assert parse_qs(urlsplit(href).query) == {"action": ["user.create"], "format": ["csv"]}

        row.get_by_role("button", name="Details").click()
        dialog = page.get_by_role("dialog")
        expect(dialog).to_contain_text("user.create")
        details = json.loads(dialog.locator(".audit-json").inner_text())
        assert details["values"] == {"username": name, "role": "client", "display_name": "Audited"}
        assert "password" in details["fields"]
        dialog.get_by_role("button", name="Close").click()
        expect(dialog).to_have_count(0)

        page.get_by_label("Outcome").select_option(label="Denied")
        expect(page.locator(".table-note")).to_have_text("No rows match these filters.")

        page.get_by_role("button", name="Check chain").click()
        expect(page.locator(".audit-chain")).to_contain_text("Chain intact")
        assert seen["bad_responses"] == []
        assert unexpected(seen) == []


def test_audit_log_is_cards_on_a_phone(server, browser):
    with open_page(browser, PHONE) as (page, seen):
        api_sign_in(page, server)
        page.goto(url(server, "/settings/audit"))
        expect(page.locator(".audit-table tbody tr").first).to_be_visible()
        expect_no_horizontal_scroll(page, 390)
        assert unexpected(seen) == []
