"""Settings → My account → Sessions in a real browser: one user signed in
from two browsers; the first lists both and signs the other out, which then
lands on the sign-in page. And an admin's Sessions dialog on Settings →
Users. Fixtures from tests/conftest.py, helpers from e2e_support.py."""

import re

from playwright.sync_api import expect

from e2e_support import (DESKTOP, FAILED_RESOURCE, PHONE, USER_PASSWORD, api_sign_in, create_user, open_page,
                         unexpected, unique, url)

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
ANDROID = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/126.0.0.0 Mobile Safari/537.36")


def session_row(page, device):
    return page.locator(".session-row", has=page.locator(".session-device", has_text=device))


def test_sign_out_another_browser_from_my_account(server, browser):
    username = unique("sess")
    with open_page(browser, DESKTOP, user_agent=FIREFOX) as (laptop, laptop_seen), \
            open_page(browser, PHONE, user_agent=ANDROID) as (phone, phone_seen):
        api_sign_in(laptop, server)
        create_user(laptop, server, username)
        api_sign_in(laptop, server, username, USER_PASSWORD)
        api_sign_in(phone, server, username, USER_PASSWORD)
        phone.goto(url(server, "/"))
        expect(phone.locator("main h1")).to_have_text("Dashboard")

        laptop.goto(url(server, "/settings/account"))
        card = laptop.locator("#sessions")
        expect(card.get_by_role("heading", name="Sessions")).to_be_visible()
        mine, other = session_row(laptop, "Firefox 128 on Linux"), session_row(laptop, "Chrome 126 on Android")
        expect(card.locator(".session-row")).to_have_count(2)
        expect(mine.get_by_text("This device")).to_be_visible()
        expect(mine.get_by_role("button", name=re.compile("^Sign out"))).to_have_count(0)
        expect(other.locator("[data-last-seen]")).to_have_text(re.compile(r"just now|ago"))
        expect(card.get_by_role("button", name="Sign out everywhere else")).to_be_enabled()

        other.get_by_role("button", name=re.compile("^Sign out")).click()
        laptop.get_by_role("dialog", name="Sign out a session").get_by_role("button", name="Sign out").click()
        expect(laptop.locator(".toast-success", has_text="Chrome 126 on Android is signed out.")).to_be_visible()
        expect(card.locator(".session-row")).to_have_count(1)
        expect(card.get_by_role("button", name="Sign out everywhere else")).to_be_disabled()

        phone.goto(url(server, "/settings"))
        expect(phone).to_have_url(url(server, "/login?next=%2Fsettings"))
        expect(phone.locator("main h1")).to_have_text("Sign in")

        assert unexpected(laptop_seen) == []
        assert unexpected(phone_seen, FAILED_RESOURCE) == []


def test_an_admin_signs_a_user_out_everywhere(server, browser):
    username = unique("sessadm")
    with open_page(browser, DESKTOP) as (admin, seen), open_page(browser, DESKTOP, user_agent=ANDROID) as (user, _):
        api_sign_in(admin, server)
        create_user(admin, server, username)
        api_sign_in(user, server, username, USER_PASSWORD)

        admin.goto(url(server, "/settings/users"))
        admin.get_by_role("button", name=f"Actions for {username}").click()
        admin.get_by_role("menuitem", name="Sessions").click()
        dialog = admin.get_by_role("dialog", name=f"Sessions of {username}")
        expect(dialog.locator(".session-row")).to_have_count(1)
        expect(dialog.locator(".session-device")).to_have_text("Chrome 126 on Android")
        dialog.get_by_role("button", name="Sign out everywhere").click()
        admin.get_by_role("dialog", name="Sign out everywhere").get_by_role("button", name="Sign out everywhere").click()
        expect(dialog.get_by_text("Not signed in anywhere.")).to_be_visible()
        assert user.request.get(url(server, "/api/auth/me")).status == 401
        assert unexpected(seen) == []
