"""Accounts in a real browser against a real server: the sign-in guard and
`next`, the login lockout countdown, the user menu and changing one's own
password, Settings (users, login history, instance, my account), what a
client sees, and display names that must stay text. Fixtures `server`,
`fresh_server` and `browser` come from tests/conftest.py; helpers from
e2e_support.py."""

import re

from playwright.sync_api import expect

from e2e_support import (DESKTOP, FAILED_RESOURCE, PHONE, USER_PASSWORD, api, api_sign_in, create_user,
                         expect_no_horizontal_scroll, form_sign_in, heading, main_nav, open_page, unexpected, url,
                         unique)
from helpers import ADMIN_PASSWORD

XSS = '<img src=x onerror="window.__xss=1">'
NEW_PASSWORD = "plum lantern orbit seventeen"



def user_row(page, username):
    return page.locator(f'.users-table tr[data-username="{username}"]')


def toast_said(page, text):
    """Checks the success toast, then dismisses it as a user would: toasts
    sit over the bottom right corner, where row actions may be."""
    toast = page.locator(".toast-success", has_text=text)
    expect(toast).to_be_visible()
    toast.get_by_role("button", name="Dismiss notification").click()
    expect(toast).to_have_count(0)


def open_user_menu(page):
    """The account menu: the sidebar's on desktop, the top bar's on a phone."""
    topbar = page.get_by_role("button", name=re.compile(r"^Account menu"))
    if topbar.is_visible():
        topbar.tap()
    else:
        page.locator("#sidebar .user-button").click()
    expect(page.get_by_role("menu")).to_be_visible()


def test_signed_out_visit_goes_to_login_and_back(server, browser):
    with open_page(browser, DESKTOP) as (page, seen):
        page.goto(url(server, "/settings/login-history"))
        expect(page).to_have_url(url(server, "/login?next=%2Fsettings%2Flogin-history"))
        expect(heading(page)).to_have_text("Sign in")
        expect(page.locator("#sidebar")).to_be_hidden()

        form_sign_in(page, "admin", ADMIN_PASSWORD)
        expect(page).to_have_url(url(server, "/settings/login-history"))
        expect(heading(page)).to_have_text("Settings")
        expect(page.get_by_role("heading", name="Login history")).to_be_visible()
        expect(page.locator("#sidebar [data-user-name]")).to_have_text("Administrator")
        expect(page.locator("#sidebar [data-user-role]")).to_have_text("Admin")

        # Signed in, /login goes on to `next`, but never to another site.
        page.goto(url(server, "/login?next=//evil.example/x"))
        expect(page).to_have_url(url(server, "/"))
        expect(heading(page)).to_have_text("Dashboard")
        page.goto(url(server, "/login?next=/plugins"))
        expect(page).to_have_url(url(server, "/plugins"))

        # Signing out ends the session: deep links go back to the login page.
        open_user_menu(page)
        page.get_by_role("menuitem", name="Sign out").click()
        expect(page).to_have_url(url(server, "/login"))
        expect(page.locator(".toast", has_text="You are signed out.")).to_be_visible()
        assert api(page, server, "GET", "/api/auth/me").status == 401
        page.goto(url(server, "/settings"))
        expect(page).to_have_url(url(server, "/login?next=%2Fsettings"))

        assert unexpected(seen) == []


def test_display_names_are_text_never_markup(server, browser):
    username = unique("xss")
    with open_page(browser, DESKTOP) as (page, seen):
        api_sign_in(page, server)
        page.goto(url(server, "/settings/users"))
        expect(user_row(page, "admin")).to_be_visible()

        page.get_by_role("button", name="Add user").click()
        dialog = page.get_by_role("dialog", name="Add user")
        expect(dialog).to_be_visible()
        # The password policy shows before anything is typed.
        expect(dialog.locator(".hints")).to_contain_text("12 to 256 characters")
        expect(dialog.locator(".hints")).to_contain_text("Not a commonly used password")
        expect(dialog.locator(".hints")).to_contain_text("“toru” or “admin”")
        dialog.get_by_label("Username").fill(username)
        dialog.get_by_label("Display name").fill(XSS)
        expect(dialog.get_by_role("radio", name=re.compile("^Client"))).to_be_checked()
        # Only the length is checked here; a short password never reaches the server.
        dialog.get_by_label("Password", exact=True).fill("too short")
        with page.expect_request(lambda r: r.url.endswith("/api/users") and r.method == "POST") as created:
            dialog.get_by_role("button", name="Add user").click()
            expect(dialog.locator(".form-error")).to_have_text("The password must be at least 12 characters long.")
            dialog.get_by_label("Password", exact=True).fill(USER_PASSWORD)
            expect(dialog.locator('[data-rule="length"]')).to_have_class(re.compile(r"\bhint-ok\b"))
            dialog.get_by_role("button", name="Add user").click()
        assert created.value.post_data_json == {"username": username, "password": USER_PASSWORD, "role": "client",
                                                "display_name": XSS}
        expect(dialog).to_have_count(0)
        expect(page.locator(".toast-success")).to_contain_text(f"Added {XSS} ({username}) as a client.")

        row = user_row(page, username)
        expect(row.locator("[data-display-name]")).to_have_text(XSS)
        expect(row.locator("img")).to_have_count(0)
        # The confirmation dialog quotes the name as text too.
        row.get_by_role("button", name=f"Actions for {username}").click()
        page.get_by_role("menuitem", name="Delete user").click()
        confirm = page.get_by_role("dialog", name="Delete user")
        expect(confirm).to_contain_text(f"Delete {XSS} ({username})?")
        confirm.get_by_role("button", name="Cancel").click()
        expect(confirm).to_have_count(0)
        expect(row).to_be_visible()
        assert page.locator("main img, dialog img").count() == 0
        assert page.evaluate("window.__xss") is None
        assert unexpected(seen) == []

    # Signed in as that user, the sidebar's user menu shows the same text.
    with open_page(browser, DESKTOP) as (page, seen):
        api_sign_in(page, server, username, USER_PASSWORD)
        page.goto(url(server, "/settings"))
        expect(page.locator("#sidebar [data-user-name]")).to_have_text(XSS)
        expect(page.locator(".account-name")).to_have_text(XSS)
        open_user_menu(page)
        expect(page.locator(".menu-header-name")).to_have_text(XSS)
        assert page.locator("img").count() == 0
        assert page.evaluate("window.__xss") is None
        assert page.evaluate("window.__cspViolations") == []
        assert unexpected(seen) == []


def test_change_own_password_sign_out_and_in_again(server, browser):
    username = unique("carol")
    with open_page(browser, DESKTOP) as (admin, _):
        api_sign_in(admin, server)
        create_user(admin, server, username, display_name="Carol Shaw")

    with open_page(browser, DESKTOP) as (page, seen):
        page.goto(url(server, "/"))
        expect(heading(page)).to_have_text("Sign in")
        form_sign_in(page, username, USER_PASSWORD)
        expect(heading(page)).to_have_text("Dashboard")

        open_user_menu(page)
        expect(page.locator(".menu-header-name")).to_have_text("Carol Shaw")
        page.get_by_role("menuitem", name="Change password").click()
        dialog = page.get_by_role("dialog", name="Change password")
        expect(dialog).to_be_visible()
        expect(dialog.get_by_label("Current password")).to_be_focused()
        expect(dialog.locator(".hints")).to_contain_text("12 to 256 characters")

        current = dialog.get_by_label("Current password")
        new = dialog.get_by_label("New password", exact=True)
        confirm = dialog.get_by_label("Confirm new password")
        submit = dialog.get_by_role("button", name="Change password")
        error = dialog.locator(".form-error")

        current.fill(USER_PASSWORD)
        new.fill(NEW_PASSWORD)
        confirm.fill(NEW_PASSWORD + "!")
        submit.click()
        expect(error).to_have_text("The new passwords do not match.")
        expect(confirm).to_have_attribute("aria-invalid", "true")

        # The server's word, shown in the dialog (a wrong current password
        # answers 401, which must not send anyone to the login page).
        current.fill("not my password at all")
        confirm.fill(NEW_PASSWORD)
        submit.click()
        expect(error).to_have_text("Current password is wrong")
        expect(dialog).to_be_visible()
        current.fill(USER_PASSWORD)
        new.fill(f"my {username} password")
        confirm.fill(f"my {username} password")
        submit.click()
        expect(error).to_have_text("Password must not contain the username")

        new.fill(NEW_PASSWORD)
        confirm.fill(NEW_PASSWORD)
        submit.click()
        expect(dialog).to_have_count(0)
        expect(page.locator(".toast-success")).to_contain_text("Password changed")

        open_user_menu(page)
        page.get_by_role("menuitem", name="Sign out").click()
        expect(page).to_have_url(url(server, "/login"))

        form_sign_in(page, username, USER_PASSWORD)
        expect(page.locator("#login-error")).to_have_text("Invalid username or password")
        form_sign_in(page, username, NEW_PASSWORD)
        expect(heading(page)).to_have_text("Dashboard")
        expect(page.locator("#sidebar [data-user-name]")).to_have_text("Carol Shaw")

        assert unexpected(seen, FAILED_RESOURCE) == []


def test_lockout_shows_a_live_countdown(fresh_server, browser):
    # A pristine server: three failures lock this address for a minute.
    fresh = fresh_server().start()
    with open_page(browser, DESKTOP) as (page, seen):
        page.clock.install()
        page.goto(url(fresh, "/login"))
        expect(heading(page)).to_have_text("Sign in")
        error = page.locator("#login-error")
        submit = page.locator('#main form button[type="submit"]')
        for _ in range(2):
            form_sign_in(page, "admin", "not the admin password")
            expect(error).to_have_text("Invalid username or password")
            expect(submit).to_be_enabled()

        # The third failure starts the lock, and its answer says so at once.
        page.get_by_label("Password").fill("still not the password")
        with page.expect_response(lambda r: r.url.endswith("/api/auth/login")) as info:
            submit.click()
        assert info.value.status == 401
        retry_after = info.value.json()["retry_after"]
        assert 55 <= retry_after <= 60, retry_after
        expect(error).to_have_text(re.compile(r"^Too many attempts\. Try again in (1:00|0:5\d)$"))
        expect(submit).to_be_disabled()
        first = error.text_content()

        # It ticks every second...
        page.clock.run_for(2000)
        expect(error).not_to_have_text(first)
        expect(error).to_have_text(re.compile(r"^Too many attempts\. Try again in 0:5\d$"))
        expect(submit).to_be_disabled()
        # ...and lets the user try again when the time is up.
        page.clock.run_for((retry_after + 1) * 1000)
        expect(error).to_have_text("You can try again now.")
        expect(submit).to_be_enabled()
        expect(submit).to_have_text("Sign in")
        # The browser's clock was fast-forwarded, the server's was not: still
        # locked, even for the right password, and the countdown returns.
        page.get_by_label("Password").fill(ADMIN_PASSWORD)
        with page.expect_response(lambda r: r.url.endswith("/api/auth/login")) as info:
            submit.click()
        assert info.value.status == 429
        expect(error).to_have_text(re.compile(r"^Too many attempts\. Try again in"))

        assert unexpected(seen, FAILED_RESOURCE) == []


def test_client_sees_only_their_pages(server, browser):
    username = unique("client")
    with open_page(browser, DESKTOP) as (admin, _):
        api_sign_in(admin, server)
        create_user(admin, server, username, display_name="Cli Ent")

    with open_page(browser, DESKTOP) as (page, seen):
        api_sign_in(page, server, username, USER_PASSWORD)
        page.goto(url(server, "/"))
        expect(heading(page)).to_have_text("Dashboard")
        nav = main_nav(page)
        # History lists a client's own quick-action runs; Scripts is for admins.
        expect(nav.get_by_role("link")).to_have_text(["Dashboard", "System Monitor", "History", "Alerts",
                                                      "Plugins", "Settings"])
        expect(nav.get_by_text("Scripts", exact=True)).to_be_hidden()
        expect(page.locator("#sidebar [data-user-role]")).to_have_text("Client")

        nav.get_by_role("link", name="Settings", exact=True).click()
        expect(heading(page)).to_have_text("Settings")
        expect(page.get_by_role("heading", name="My account")).to_be_visible()
        expect(page.get_by_role("heading", name="Change password")).to_be_visible()
        # Their own account and their API tokens; nothing else.
        expect(page.get_by_role("navigation", name="Settings sections").get_by_role("link")).to_have_text(
            ["My account", "API tokens"])
        for admin_only in ("Users", "Login history", "Instance"):
            expect(page.get_by_role("heading", name=admin_only)).to_have_count(0)
            expect(page.get_by_role("link", name=admin_only)).to_have_count(0)

        # Deep links to admin pages explain instead of failing.
        page.goto(url(server, "/settings/users"))
        expect(page.locator("main")).to_contain_text("This section is for admins only.")
        page.goto(url(server, "/scripts"))
        expect(heading(page)).to_have_text("Not available")
        expect(nav.locator('[aria-current="page"]')).to_have_count(0)

        # None of that asked the server for something it would refuse.
        assert seen["bad_responses"] == []
        assert unexpected(seen) == []


def test_admin_manages_a_user_behind_confirmations(server, browser):
    username = unique("dave")
    with open_page(browser, DESKTOP) as (page, seen):
        api_sign_in(page, server)
        user = create_user(page, server, username, display_name="Dave Null")
        page.goto(url(server, "/settings/users"))
        row = user_row(page, username)
        expect(row).to_contain_text("Client")
        expect(row).to_contain_text("Active")
        # The env admin is listed without controls.
        expect(user_row(page, "admin").get_by_role("button")).to_have_count(0)
        # ...and says where its password comes from (this server sets ADMIN_PASSWORD).
        expect(user_row(page, "admin").locator(".cell-note")).to_have_attribute(
            "title", re.compile("ADMIN_PASSWORD in the server's environment"))
        actions = row.get_by_role("button", name=f"Actions for {username}")
        box = actions.bounding_box()
        assert box["width"] >= 44 and box["height"] >= 44, box

        def choose(item):
            actions.click()
            page.get_by_role("menuitem", name=item, exact=True).click()

        # Role change, confirmed.
        choose("Make admin")
        page.get_by_role("dialog", name="Make admin").get_by_role("button", name="Make admin").click()
        expect(row).to_contain_text("Admin")
        toast_said(page, f"Dave Null ({username}) is now an admin.")

        # Deactivate: Cancel changes nothing; focus starts on Cancel.
        choose("Deactivate")
        dialog = page.get_by_role("dialog", name="Deactivate user")
        expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()
        page.keyboard.press("Escape")
        expect(dialog).to_have_count(0)
        expect(row).to_contain_text("Active")

        # Reset password: the dialog is the prompt; the policy is shown.
        choose("Reset password")
        dialog = page.get_by_role("dialog", name="Reset password")
        expect(dialog.locator(".hints")).to_contain_text("12 to 256 characters")
        dialog.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
        dialog.get_by_role("button", name="Set password").click()
        expect(dialog).to_have_count(0)
        toast_said(page, "New password set for Dave Null")
        client = server.client()
        assert client.post("/api/auth/login", json={"username": username, "password": NEW_PASSWORD}).status == 200

        choose("Deactivate")
        page.get_by_role("dialog", name="Deactivate user").get_by_role("button", name="Deactivate").click()
        expect(row).to_contain_text("Inactive")
        toast_said(page, "is deactivated")
        assert client.get("/api/auth/me").status == 401  # deactivating ended the session
        choose("Activate")
        expect(row).to_contain_text("Active")
        expect(row).not_to_contain_text("Inactive")
        toast_said(page, "is active again")

        choose("Delete user")
        page.get_by_role("dialog", name="Delete user").get_by_role("button", name="Delete user").click()
        expect(row).to_have_count(0)
        assert api(page, server, "PATCH", f"/api/users/{user['id']}", {"active": True}).status == 404

        assert seen["bad_responses"] == []
        assert unexpected(seen) == []


def test_login_history_filters_and_pages(server, browser):
    hist, paged = unique("hist"), unique("paged")
    with open_page(browser, DESKTOP) as (page, seen):
        api_sign_in(page, server)
        create_user(page, server, hist)
        create_user(page, server, paged)
        # Attempts from their own addresses (see ServerProcess.client).
        assert server.client().post("/api/auth/login", json={"username": hist, "password": "wrong password x"}).status == 401
        assert server.client().post("/api/auth/login", json={"username": hist, "password": USER_PASSWORD}).status == 200
        for _ in range(26):
            assert server.client().post("/api/auth/login", json={"username": paged, "password": USER_PASSWORD}).status == 200

        page.goto(url(server, "/settings/login-history"))
        rows = page.locator(".history-table tbody tr")
        expect(rows).to_have_count(25)
        # Newest first.
        times = rows.locator("time").evaluate_all("els => els.map((e) => Date.parse(e.getAttribute('datetime')))")
        assert times == sorted(times, reverse=True)

        page.get_by_label("Username").fill(hist)
        expect(rows).to_have_count(2)
        expect(page.locator(".pager-summary")).to_have_text("2 attempts")
        expect(page.locator(".pager-label")).to_have_text("Page 1 of 1")
        expect(rows.nth(0)).to_contain_text("Success")
        expect(rows.nth(0)).to_contain_text("Signed in")
        expect(rows.nth(1)).to_contain_text("Failed")
        expect(rows.nth(1)).to_contain_text("Wrong password")
        expect(rows.nth(0)).to_contain_text(hist)

        result = page.get_by_label("Result")
        result.select_option(label="Failed")
        expect(rows).to_have_count(1)
        expect(rows.first).to_contain_text("Wrong password")
        result.select_option(label="Successful")
        expect(rows).to_have_count(1)
        expect(rows.first).to_contain_text("Signed in")
        result.select_option(label="All results")
        expect(rows).to_have_count(2)

        page.get_by_label("Username").fill("nobody-" + hist)
        expect(page.locator(".table-note")).to_have_text("No sign-in attempts match these filters.")

        # Paging: 26 attempts are two pages of 25.
        page.get_by_label("Username").fill(paged)
        expect(page.locator(".pager-summary")).to_have_text("26 attempts")
        expect(page.locator(".pager-label")).to_have_text("Page 1 of 2")
        expect(rows).to_have_count(25)
        prev = page.get_by_role("button", name="Previous")
        nxt = page.get_by_role("button", name="Next")
        expect(prev).to_be_disabled()
        nxt.click()
        expect(page.locator(".pager-label")).to_have_text("Page 2 of 2")
        expect(rows).to_have_count(1)
        expect(nxt).to_be_disabled()
        prev.click()
        expect(page.locator(".pager-label")).to_have_text("Page 1 of 2")
        expect(rows).to_have_count(25)

        assert seen["bad_responses"] == []
        assert unexpected(seen) == []


def test_instance_id_matches_the_api_and_copies(server, browser):
    with open_page(browser, DESKTOP, permissions=["clipboard-read", "clipboard-write"]) as (page, seen):
        api_sign_in(page, server)
        info = api(page, server, "GET", "/api/instance").json()
        page.goto(url(server, "/settings/instance"))
        expect(page.locator("#instance-id")).to_have_text(info["instance_id"])
        assert re.fullmatch(r"[0-9a-f-]{36}", info["instance_id"]), info
        expect(page.locator('[data-instance="version"]')).to_have_text(info["version"])
        expect(page.locator("main")).to_contain_text(info["data_dir"])

        page.get_by_role("button", name="Copy").click()
        expect(page.locator(".toast-success")).to_have_text("Copied")
        assert page.evaluate("navigator.clipboard.readText()") == info["instance_id"]
        assert unexpected(seen) == []


def test_instance_page_shows_an_untrusted_proxy_notice(fresh_server, browser):
    proc = fresh_server().start()  # no TRUST_PROXY
    with open_page(browser, DESKTOP) as (page, seen):
        api_sign_in(page, proc)
        page.request.get(url(proc, "/api/health"), headers={"X-Forwarded-For": "198.51.100.7"})
        page.goto(url(proc, "/settings/instance"))
        notice = page.locator('[data-notice="untrusted_proxy"]')
        expect(notice).to_contain_text("TRUST_PROXY is off")
        expect(page.locator("#instance-id")).to_be_visible()
        assert unexpected(seen) == []


def test_phone_settings_and_user_menu(server, browser):
    long_name = unique("averyveryverylongusername") + "x" * 30
    with open_page(browser, PHONE) as (page, seen):
        api_sign_in(page, server)
        create_user(page, server, long_name, display_name="Maximiliana Wolfeschlegelsteinhausenbergerdorff-Longname")
        page.goto(url(server, "/settings/users"))
        row = user_row(page, long_name)
        expect(row).to_be_visible()
        # Rows are cards: no visible header row, nothing wider than the screen.
        assert row.evaluate("el => getComputedStyle(el).display") == "block"
        assert page.locator(".users-table thead").evaluate("el => el.getBoundingClientRect().height") <= 1
        expect_no_horizontal_scroll(page, 390)
        actions = row.get_by_role("button", name=f"Actions for {long_name}")
        box = actions.bounding_box()
        assert box["width"] >= 44 and box["height"] >= 44, box
        actions.tap()
        menu = page.get_by_role("menu")
        expect(menu).to_be_in_viewport(ratio=1)
        for item in menu.get_by_role("menuitem").all():
            assert round(item.bounding_box()["height"], 2) >= 44  # layout floats: 43.99997 is 44 px
        page.keyboard.press("Escape")
        expect(menu).to_be_hidden()

        page.get_by_role("button", name="Add user").tap()
        dialog = page.get_by_role("dialog", name="Add user")
        expect(dialog).to_be_visible()
        assert dialog.bounding_box()["width"] <= 390
        dialog.get_by_role("button", name="Cancel").tap()
        expect(dialog).to_have_count(0)

        page.goto(url(server, "/settings/login-history"))
        expect(page.locator(".history-table tbody tr").first).to_be_visible()
        expect_no_horizontal_scroll(page, 390)

        # The account menu sits in the top bar...
        account = page.get_by_role("button", name=re.compile(r"^Account menu"))
        box = account.bounding_box()
        assert box["width"] >= 44 and box["height"] >= 44, box
        account.tap()
        expect(page.get_by_role("menuitem", name="Sign out")).to_be_in_viewport()
        page.get_by_role("menuitem", name="Change password").tap()
        dialog = page.get_by_role("dialog", name="Change password")
        expect(dialog).to_be_in_viewport()
        assert dialog.bounding_box()["width"] <= 390
        # This admin's password comes from ADMIN_PASSWORD: the dialog says so instead of a form.
        expect(dialog).to_contain_text("ADMIN_PASSWORD")
        expect(dialog.locator("input[type=password]")).to_have_count(0)
        dialog.locator(".form-actions").get_by_role("button", name="Close").tap()
        expect(dialog).to_have_count(0)

        # ...and at the foot of the drawer.
        page.get_by_role("button", name="Menu", exact=True).tap()
        sidebar_user = page.locator("#sidebar .user-button")
        expect(sidebar_user).to_be_in_viewport()
        assert sidebar_user.bounding_box()["height"] >= 44
        sidebar_user.tap()
        page.get_by_role("menuitem", name="Sign out").tap()
        expect(page).to_have_url(url(server, "/login"))
        expect(heading(page)).to_have_text("Sign in")
        expect_no_horizontal_scroll(page, 390)

        assert unexpected(seen) == []
