"""Two-factor sign-in in a real browser: setting it up under Settings → My
account (QR code, key, confirming code, recovery codes), the two-step
sign-in on a desktop and on a phone (numeric keypad, "Use a recovery
code"), an admin's reset on the Users page, and an admin sent to set it up
when require_2fa_for_admins is on. Codes are computed from the key the page
shows, with toru's own TOTP function."""

import re

from playwright.sync_api import expect

from e2e_support import (DESKTOP, FAILED_RESOURCE, PHONE, USER_PASSWORD, api, api_sign_in, create_user, form_sign_in,
                         heading, open_page, unexpected, unique, url)
from helpers import ADMIN_PASSWORD, fresh_totp_step, totp_code, wait_for


def set_up_in_the_page(page, server):
    """Settings → My account → Set up … Turn on; returns (secret, recovery codes, step)."""
    page.goto(url(server, "/settings/account"))
    card = page.locator("#two-factor")
    expect(card).to_contain_text("Off.")
    card.get_by_role("button", name="Set up").click()
    qr = card.get_by_role("img", name=re.compile("QR code"))
    expect(qr).to_be_visible()
    # Drawn, not blocked by the CSP: the image decoded to its size.
    wait_for(lambda: qr.evaluate("img => img.complete && img.naturalWidth > 0"), message="QR code drawn")
    secret = card.locator("[data-secret]").get_attribute("data-secret")
    assert card.locator("[data-secret]").inner_text() == " ".join(re.findall(".{1,4}", secret))
    field = card.get_by_label("Enter the 6-digit code the app now shows")
    assert field.get_attribute("inputmode") == "numeric" and field.get_attribute("autocomplete") == "one-time-code"
    step = fresh_totp_step()
    field.fill("000000" if totp_code(secret, step) != "000000" else "111111")
    card.get_by_role("button", name="Turn on").click()
    expect(card.locator(".form-error")).to_contain_text("does not match")
    field.fill(totp_code(secret, step - 1))
    card.get_by_role("button", name="Turn on").click()
    codes = card.locator("[data-recovery-codes]")
    expect(codes).to_be_visible()
    recovery = codes.inner_text().split()
    assert len(recovery) == 10 and all(re.fullmatch(r"[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}", c) for c in recovery)
    with page.expect_download() as download:
        card.get_by_role("button", name="Download").click()
    text = open(download.value.path()).read()
    assert all(c in text for c in recovery) and download.value.suggested_filename.endswith(".txt")
    card.get_by_role("button", name="Done").click()
    expect(card.locator(".badge-success")).to_have_text("On")
    expect(card.locator("[data-recovery-left]")).to_contain_text("10 recovery codes left")
    return secret, recovery, step


def password_step(page, server, username):
    page.goto(url(server, "/login"))
    form_sign_in(page, username, USER_PASSWORD)
    field = page.get_by_label("Authentication code")
    expect(field).to_be_visible()
    expect(field).to_be_focused()
    expect(page.get_by_label("Password")).to_be_hidden()
    return field


def test_set_up_then_sign_in_in_two_steps_on_desktop_and_phone(server, browser):
    username = unique("tf")
    with open_page(browser, DESKTOP) as (admin, _):
        api_sign_in(admin, server)
        create_user(admin, server, username)

    with open_page(browser, DESKTOP) as (page, seen):
        api_sign_in(page, server, username, USER_PASSWORD)
        secret, recovery, step = set_up_in_the_page(page, server)
        api(page, server, "POST", "/api/auth/logout")

        field = password_step(page, server, username)
        assert field.get_attribute("inputmode") == "numeric"
        assert field.get_attribute("autocomplete") == "one-time-code" and field.get_attribute("pattern") == "[0-9]*"
        field.fill(totp_code(secret, step + 3))
        page.get_by_role("button", name="Verify").click()
        expect(page.locator("#login-error")).to_contain_text("Invalid code")
        field.fill(totp_code(secret, step))
        page.get_by_role("button", name="Verify").click()
        expect(heading(page)).to_have_text("Dashboard")
        assert unexpected(seen, FAILED_RESOURCE) == []
        assert page.evaluate("window.__cspViolations") == []

    with open_page(browser, PHONE) as (page, seen):
        field = password_step(page, server, username)
        # Back to step one, and on again.
        page.get_by_role("button", name="Back").tap()
        expect(page.get_by_label("Password")).to_be_visible()
        expect(page.get_by_label("Password")).to_have_value("")
        field = password_step(page, server, username)
        page.get_by_role("button", name="Use a recovery code").tap()
        field = page.get_by_label("Recovery code")
        expect(field).to_be_focused()
        assert field.get_attribute("inputmode") == "text" and field.get_attribute("pattern") is None
        field.fill(recovery[0].upper())
        page.get_by_role("button", name="Verify").tap()
        expect(heading(page)).to_have_text("Dashboard")
        expect(page.locator(".toast", has_text="9 left")).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        assert unexpected(seen, FAILED_RESOURCE) == []

    # An admin sees the badge and resets it (the phone was lost).
    with open_page(browser, DESKTOP) as (page, seen):
        api_sign_in(page, server)
        page.goto(url(server, "/settings/users"))
        row = page.locator(f'.users-table tr[data-username="{username}"]')
        expect(row.locator("[data-totp]")).to_have_text("2FA")
        row.get_by_role("button", name=f"Actions for {username}").click()
        page.get_by_role("menuitem", name="Reset two-factor").click()
        page.get_by_role("dialog", name="Reset two-factor sign-in").get_by_role("button", name="Reset two-factor").click()
        expect(page.locator(".toast-success", has_text="Two-factor sign-in of")).to_be_visible()
        expect(row.locator("[data-totp]")).to_have_count(0)
        assert unexpected(seen) == []


def test_an_admin_without_it_is_sent_to_set_it_up(fresh_server, browser):
    proc = fresh_server().start()
    with open_page(browser, DESKTOP) as (page, seen):
        api_sign_in(page, proc)
        page.goto(url(proc, "/settings/users"))
        switch = page.get_by_role("switch", name="Require two-factor sign-in for admins")
        expect(switch).to_be_enabled()
        switch.check()
        page.get_by_role("dialog", name="Require two-factor sign-in").get_by_role("button", name="Require it").click()
        expect(page).to_have_url(url(proc, "/settings/account"))
        expect(page.locator(".two-factor-required")).to_be_visible()
        assert api(page, proc, "GET", "/api/users").status == 403

        # Signing in again lands on the set-up, whatever `next` said.
        api(page, proc, "POST", "/api/auth/logout")
        page.goto(url(proc, "/login?next=/scripts"))
        form_sign_in(page, "admin", ADMIN_PASSWORD)
        expect(page).to_have_url(url(proc, "/settings/account"))
        _, recovery, _ = set_up_in_the_page(page, proc)
        assert api(page, proc, "GET", "/api/users").status == 200
        page.goto(url(proc, "/settings/users"))
        expect(page.get_by_role("switch", name="Require two-factor sign-in for admins")).to_be_checked()
        page.goto(url(proc, "/scripts"))
        expect(page).to_have_url(url(proc, "/scripts"))

        # New recovery codes for an old one; then off, with the password and a new one.
        page.goto(url(proc, "/settings/account"))
        card = page.locator("#two-factor")
        card.get_by_role("button", name="New recovery codes").click()
        dialog = page.get_by_role("dialog", name="New recovery codes")
        dialog.get_by_label("Code from your app, or a recovery code").fill(recovery[0])
        dialog.get_by_role("button", name="Make new codes").click()
        fresh = card.locator("[data-recovery-codes]").inner_text().split()
        assert len(fresh) == 10 and not set(fresh) & set(recovery)
        card.get_by_role("button", name="Done").click()
        card.get_by_role("button", name="Turn off").click()
        dialog = page.get_by_role("dialog", name="Turn off two-factor sign-in")
        dialog.get_by_label("Password", exact=True).fill("not the password")
        dialog.get_by_label("Code from your app, or a recovery code").fill(fresh[0])
        dialog.get_by_role("button", name="Turn off").click()
        expect(dialog.locator(".form-error")).to_have_text("Wrong password")
        dialog.get_by_label("Password", exact=True).fill(ADMIN_PASSWORD)
        dialog.get_by_role("button", name="Turn off").click()
        expect(dialog).to_have_count(0)
        # Still required: the page says so again, and the server agrees.
        expect(card.locator(".two-factor-required")).to_be_visible()
        assert api(page, proc, "GET", "/api/users").status == 403
        assert unexpected(seen, FAILED_RESOURCE) == []
