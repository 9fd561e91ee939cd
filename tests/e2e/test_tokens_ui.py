"""Settings → API tokens in a real browser against a real server: making a
token (scopes, expiry), its secret shown once and working from a script,
the list (scopes, prefix, expiry, last use), revoking it, and what a client
sees. Fixtures `server` and `browser` come from tests/conftest.py; helpers
from e2e_support.py."""

import re
from datetime import date, timedelta

from playwright.sync_api import expect

from e2e_support import (DESKTOP, FAILED_RESOURCE, PHONE, USER_PASSWORD, api, api_sign_in, create_user,
                         expect_no_horizontal_scroll, open_page, unexpected, unique, url)
from helpers import token_client

SECRET = re.compile(r"^toru_[A-Za-z0-9_-]{40,}$")


def token_row(page, name):
    return page.locator(".tokens-table tbody tr", has=page.locator("[data-token-name]", has_text=name))


def create_through_dialog(page, name, scopes, expires=None):
    """Fills and submits the New API token dialog; returns the request's JSON."""
    page.get_by_role("button", name="New token").click()
    dialog = page.get_by_role("dialog", name="New API token")
    dialog.get_by_label("Name").fill(name)
    for scope in scopes:
        dialog.get_by_role("checkbox", name=re.compile(rf"^{scope}\b")).check()
    if expires:
        dialog.get_by_label("Expires").fill(expires)
    with page.expect_request(lambda r: r.url.endswith("/api/tokens") and r.method == "POST") as sent:
        dialog.get_by_role("button", name="Create token").click()
    expect(dialog).to_have_count(0)
    return sent.value.post_data_json


def test_create_use_and_revoke_a_token(server, browser):
    name = unique("backup job ")
    expires = (date.today() + timedelta(days=365)).isoformat()
    with open_page(browser, DESKTOP, permissions=["clipboard-read", "clipboard-write"]) as (page, seen):
        api_sign_in(page, server)
        page.goto(url(server, "/settings/tokens"))
        expect(page.get_by_role("heading", name="API tokens")).to_be_visible()
        expect(page.get_by_role("link", name="API tokens")).to_have_attribute("aria-current", "page")

        page.get_by_role("button", name="New token").click()
        dialog = page.get_by_role("dialog", name="New API token")
        # Every scope the server lists, each with its explanation; an admin may pick admin.
        expect(dialog.get_by_role("checkbox")).to_have_count(4)
        expect(dialog.get_by_role("checkbox", name=re.compile(r"^admin\b"))).to_be_visible()
        dialog.get_by_role("button", name="Cancel").click()
        assert create_through_dialog(page, name, ["read", "run"], expires) == {
            "name": name, "scopes": ["read", "run"], "expires_at": expires}

        # The secret, once: focused in a read-only field, with a warning, Copy and a curl line.
        panel = page.locator("[data-token-secret-panel]")
        expect(panel).to_contain_text("Copy it now: it will not be shown again")
        field = panel.get_by_label("Secret")
        expect(field).to_be_focused()
        expect(field).to_have_attribute("readonly", "")
        secret = field.input_value()
        assert SECRET.match(secret), secret
        expect(panel.locator(".token-usage")).to_have_text(
            f'curl -H "Authorization: Bearer {secret}" {server.url.rstrip("/")}/api/auth/me')
        panel.get_by_role("button", name="Copy").click()
        expect(page.locator(".toast-success")).to_have_text("Copied")
        assert page.evaluate("navigator.clipboard.readText()") == secret

        # The list: name, scopes, prefix, expiry (end of that day, UTC), never used.
        row = token_row(page, name)
        expect(row.locator("[data-token-prefix]")).to_have_text(secret[:8] + "…")
        expect(row.locator(".badge")).to_have_text(["read", "run"])
        expect(row.locator("[data-expires] time")).to_have_attribute("datetime", f"{expires}T23:59:59.000Z")
        expect(row.locator("[data-last-used]")).to_have_text("Never")
        expect(row.locator("[data-token-owner]")).to_have_count(0)  # their own

        panel.get_by_role("button", name="Done").click()
        expect(panel).to_have_count(0)
        assert secret not in page.content()
        page.reload()
        expect(token_row(page, name)).to_be_visible()
        assert secret not in page.content()

        # The secret works from a script, and its use shows up.
        script = token_client(server, secret)
        me = script.get("/api/auth/me")
        assert me.status == 200 and me.json["user"]["username"] == "admin", me
        page.reload()
        used = token_row(page, name).locator("[data-last-used]")
        expect(used.locator("time")).to_have_text("just now")
        expect(used).to_contain_text(f"from {script.ip}")

        # Revoking asks first; then the row goes and the secret is refused.
        token_row(page, name).get_by_role("button", name=f"Revoke {name}").click()
        confirm = page.get_by_role("dialog", name="Revoke token")
        expect(confirm).to_contain_text(f"Revoke “{name}” ({secret[:8]}…)?")
        confirm.get_by_role("button", name="Revoke").click()
        expect(page.locator(".toast-success", has_text="was revoked")).to_be_visible()
        expect(token_row(page, name)).to_have_count(0)
        assert script.get("/api/auth/me").status == 401

        assert seen["bad_responses"] == []
        assert unexpected(seen) == []


def test_a_client_sees_only_their_tokens_and_no_admin_scope(server, browser):
    username = unique("tokclient")
    admin_token = unique("admin token ")
    with open_page(browser, DESKTOP) as (admin, admin_seen):
        api_sign_in(admin, server)
        create_user(admin, server, username)
        res = api(admin, server, "POST", "/api/tokens", {"name": admin_token, "scopes": ["admin"]})
        assert res.status == 201, res.text()
        explanations = api(admin, server, "GET", "/api/tokens").json()["scopes"]

        with open_page(browser, DESKTOP) as (page, seen):
            api_sign_in(page, server, username, USER_PASSWORD)
            page.goto(url(server, "/settings"))
            sections = page.get_by_role("navigation", name="Settings sections")
            expect(sections.get_by_role("link")).to_have_text(["My account", "API tokens"])
            sections.get_by_role("link", name="API tokens").click()
            expect(page).to_have_url(url(server, "/settings/tokens"))
            expect(page.locator(".table-wrap")).to_contain_text("No API tokens yet")

            page.get_by_role("button", name="New token").click()
            dialog = page.get_by_role("dialog", name="New API token")
            expect(dialog.locator(".choice-label")).to_have_text(["metrics", "read", "run"])
            expect(dialog.locator(".choice-help")).to_have_text([explanations[s] for s in ("metrics", "read", "run")])

            # The server's field errors, all at once, under the fields they name.
            dialog.get_by_label("Name").fill("   ")
            dialog.get_by_role("checkbox", name=re.compile(r"^read\b")).check()
            dialog.get_by_label("Expires").fill((date.today() - timedelta(days=2)).isoformat())
            dialog.get_by_role("button", name="Create token").click()
            expect(dialog.locator(".field:has(input[name=name]) .field-error")).to_have_text("Required")
            expect(dialog.get_by_label("Name")).to_have_attribute("aria-invalid", "true")
            expect(dialog.locator(".field:has(input[name=expires_at]) .field-error")).to_have_text("Must be in the future")
            dialog.get_by_role("button", name="Cancel").click()

            mine = unique("client token ")
            assert create_through_dialog(page, mine, ["read"]) == {"name": mine, "scopes": ["read"]}
            page.locator("[data-token-secret-panel]").get_by_role("button", name="Done").click()
            expect(page.locator(".tokens-table tbody tr")).to_have_count(1)
            expect(token_row(page, mine).locator("[data-expires]")).to_have_text("Never")
            expect(token_row(page, mine).locator("[data-token-owner]")).to_have_count(0)
            expect(page.locator("main")).not_to_contain_text(admin_token)

            assert seen["bad_responses"] == [f"400 {url(server, '/api/tokens')}"]
            assert unexpected(seen, FAILED_RESOURCE) == []

        # The admin sees whose it is.
        admin.goto(url(server, "/settings/tokens"))
        expect(token_row(admin, mine).locator("[data-token-owner]")).to_have_text(f"Owner: {username}")
        expect(token_row(admin, admin_token).locator("[data-token-owner]")).to_have_count(0)
        expect(token_row(admin, admin_token).locator(".badge")).to_have_text(["admin"])
        assert unexpected(admin_seen) == []


def test_tokens_are_cards_on_a_phone(server, browser):
    with open_page(browser, PHONE) as (page, seen):
        api_sign_in(page, server)
        name = unique("phone token with a rather long name ")
        assert api(page, server, "POST", "/api/tokens", {"name": name, "scopes": ["metrics", "read", "run"]}).status == 201
        page.goto(url(server, "/settings/tokens"))
        row = token_row(page, name)
        expect(row).to_be_visible()
        assert row.evaluate("el => getComputedStyle(el).display") == "block"
        expect_no_horizontal_scroll(page, 390)
        revoke = row.get_by_role("button", name=f"Revoke {name}")
        box = revoke.bounding_box()
        assert box["width"] >= 44 and box["height"] >= 44, box
        assert unexpected(seen) == []
