"""The web UI shell in a real browser against a real server: sidebar and
router on desktop, the drawer on a phone, the CSP, the login page, and how
API failures reach the user. Fixtures `server` and `browser` come from
tests/conftest.py; every test but the login page's signs in as the env
admin first (through the API: the login form has its own tests)."""

import re
from pathlib import Path

from playwright.sync_api import expect

from helpers import ADMIN_PASSWORD

from e2e_support import (DESKTOP, FAILED_RESOURCE, PHONE, api, api_sign_in, form_sign_in, heading,
                         main_nav, open_page, unexpected, url)

STATIC = Path(__file__).resolve().parents[2] / "static"

NAV = [
    ("/", "Dashboard"),
    ("/monitor", "System Monitor"),
    ("/scripts", "Scripts"),
    ("/schedules", "Schedules"),
    ("/history", "History"),
    ("/alerts", "Alerts"),
    ("/plugins", "Plugins"),
    ("/settings", "Settings"),
]


def test_desktop_sidebar_router_history_and_deep_links(server, browser):
    with open_page(browser, DESKTOP) as (page, seen):
        api_sign_in(page, server)
        page.goto(url(server, "/"))
        sidebar = page.locator("#sidebar")
        expect(sidebar).to_be_visible()
        expect(page.get_by_role("button", name="Menu", exact=True)).to_be_hidden()
        expect(heading(page)).to_have_text("Dashboard")
        expect(page).to_have_title("Dashboard · Toru")

        # The dashboard's server card shows what /api/health says.
        health = page.request.get(url(server, "/api/health")).json()
        expect(page.locator('[data-health="version"]')).to_have_text(health["version"])
        expect(page.locator('[data-health="uptime"]')).to_have_text(re.compile(r"^\d+ (s|min)"))

        # A marker in the document survives only if the router handles the
        # clicks without full page loads.
        page.evaluate("window.__sameDocument = true")
        nav = main_nav(page)
        for path, title in NAV[1:] + NAV[:1]:
            link = nav.get_by_role("link", name=title, exact=True)
            link.click()
            expect(page).to_have_url(url(server, path))
            expect(heading(page)).to_have_text(title)
            expect(page).to_have_title(f"{title} · Toru")
            expect(link).to_have_attribute("aria-current", "page")
            expect(nav.locator('[aria-current="page"]')).to_have_count(1)
        assert page.evaluate("window.__sameDocument") is True

        # Browser back and forward walk the same history: ... Plugins,
        # Settings, Dashboard.
        page.go_back()
        expect(page).to_have_url(url(server, "/settings"))
        expect(heading(page)).to_have_text("Settings")
        page.go_back()
        expect(page).to_have_url(url(server, "/plugins"))
        expect(heading(page)).to_have_text("Plugins")
        expect(nav.get_by_role("link", name="Plugins", exact=True)).to_have_attribute("aria-current", "page")
        page.go_forward()
        expect(heading(page)).to_have_text("Settings")

        # Deep link and reload: the server's SPA fallback plus the router.
        page.goto(url(server, "/settings"))
        page.reload()
        expect(heading(page)).to_have_text("Settings")
        expect(page).to_have_title("Settings · Toru")
        expect(nav.get_by_role("link", name="Settings", exact=True)).to_have_attribute("aria-current", "page")

        # The original Toru's address for the monitor still works.
        page.goto(url(server, "/system-monitor?range=1h"))
        expect(page).to_have_url(url(server, "/monitor?range=1h"))
        expect(heading(page)).to_have_text("System Monitor")

        page.goto(url(server, "/no/such/page"))
        expect(heading(page)).to_have_text("Not found")
        expect(page).to_have_title("Not found · Toru")
        expect(page.locator("main")).to_contain_text("/no/such/page")
        expect(nav.locator('[aria-current="page"]')).to_have_count(0)
        page.get_by_role("link", name="Go to the dashboard").click()
        expect(page).to_have_url(url(server, "/"))
        expect(heading(page)).to_have_text("Dashboard")

        assert seen["errors"] == []
        assert seen["bad_responses"] == []


def test_phone_drawer_navigation_and_touch_targets(server, browser):
    with open_page(browser, PHONE) as (page, seen):
        api_sign_in(page, server)
        page.goto(url(server, "/"))
        expect(heading(page)).to_have_text("Dashboard")
        sidebar = page.locator("#sidebar")
        expect(sidebar).to_have_count(1)
        expect(sidebar).to_be_hidden()

        menu = page.get_by_role("button", name="Menu", exact=True)
        expect(menu).to_be_visible()
        expect(menu).to_have_attribute("aria-expanded", "false")
        box = menu.bounding_box()
        assert box["width"] >= 44 and box["height"] >= 44, box

        menu.tap()
        expect(sidebar).to_be_visible()
        expect(sidebar).to_be_in_viewport(ratio=0.95)  # slid fully in
        expect(menu).to_have_attribute("aria-expanded", "true")

        links = main_nav(page).get_by_role("link")
        expect(links).to_have_count(len(NAV))
        for i in range(len(NAV)):
            box = links.nth(i).bounding_box()
            assert box is not None and box["height"] >= 44, (NAV[i], box)

        main_nav(page).get_by_role("link", name="Scripts", exact=True).tap()
        expect(page).to_have_url(url(server, "/scripts"))
        expect(heading(page)).to_have_text("Scripts")
        expect(sidebar).to_be_hidden()
        expect(menu).to_have_attribute("aria-expanded", "false")

        # Tapping the dimmed page beside the drawer closes it and stays put.
        menu.tap()
        expect(sidebar).to_be_in_viewport(ratio=0.95)
        page.touchscreen.tap(370, 500)
        expect(sidebar).to_be_hidden()
        expect(page).to_have_url(url(server, "/scripts"))

        # Escape closes it too and gives focus back to the menu button.
        menu.tap()
        expect(sidebar).to_be_visible()
        page.keyboard.press("Escape")
        expect(sidebar).to_be_hidden()
        expect(menu).to_be_focused()

        # Nothing sticks out sideways on a phone.
        assert page.evaluate("document.documentElement.scrollWidth") <= 390

        assert seen["errors"] == []
        assert seen["bad_responses"] == []


def test_csp_blocks_nothing(server, browser):
    with open_page(browser, DESKTOP) as (page, seen):
        # Signed out first: the login page, then signing in through its form.
        response = page.goto(url(server, "/login"))
        # Without the header this test could not fail, so insist on it.
        csp = response.headers.get("content-security-policy", "")
        assert "default-src 'self'" in csp and "script-src 'self'" in csp, csp
        expect(heading(page)).to_have_text("Sign in")
        form_sign_in(page, "admin", ADMIN_PASSWORD)
        expect(heading(page)).to_have_text("Dashboard")
        # The stylesheets applied (the sidebar is fixed only through layout.css).
        assert page.locator("#sidebar").evaluate("el => getComputedStyle(el).position") == "fixed"
        assert page.evaluate("getComputedStyle(document.body).getPropertyValue('--primary').trim()") == "#493FAA"

        for path, title in NAV:
            page.goto(url(server, path))
            expect(heading(page)).to_have_text(title)
        # Menus and dialogs are built at run time too.
        page.locator("#sidebar .user-button").click()
        page.get_by_role("menuitem", name="Change password").click()
        expect(page.get_by_role("dialog", name="Change password")).to_be_visible()
        page.keyboard.press("Escape")
        expect(page.get_by_role("dialog")).to_have_count(0)
        # A toast exercises dynamically built DOM and its CSS animation.
        page.evaluate("import('/static/js/ui/toast.js').then((m) => m.showToast('CSP check', 'success'))")
        expect(page.locator(".toast", has_text="CSP check")).to_be_visible()

        assert page.evaluate("window.__cspViolations") == []
        assert seen["csp"] == []
        assert unexpected(seen) == []


def test_login_page_has_no_sidebar_and_shows_server_error(server, browser):
    with open_page(browser, DESKTOP) as (page, seen):
        page.goto(url(server, "/login?next=/settings"))
        expect(heading(page)).to_have_text("Sign in")
        expect(page).to_have_title("Sign in · Toru")
        expect(page.locator("#sidebar")).to_have_count(1)
        expect(page.locator("#sidebar")).to_be_hidden()
        expect(page.get_by_role("button", name="Menu", exact=True)).to_be_hidden()

        page.get_by_label("Username").fill("nobody")
        page.get_by_label("Password").fill("not the password")
        with page.expect_response(lambda r: r.url.endswith("/api/auth/login")) as info:
            page.get_by_role("button", name="Sign in").click()
        answer = info.value
        assert answer.status >= 400
        assert answer.request.post_data_json == {"username": "nobody", "password": "not the password"}
        # Whatever the server says (404 until accounts exist, 401 after) is
        # shown as is, and no redirect happens for /api/auth/* calls.
        expect(page.locator("#login-error")).to_have_text(answer.json()["error"])
        expect(page).to_have_url(url(server, "/login?next=/settings"))
        expect(page.get_by_role("button", name="Sign in")).to_be_enabled()

        assert unexpected(seen, FAILED_RESOURCE) == []


def test_api_failures_become_toasts_and_401_goes_to_login(server, browser):
    with open_page(browser, DESKTOP) as (page, seen):
        api_sign_in(page, server)
        # The server cannot be made to fail on demand, so the browser fakes
        # the answers of /api/health that the dashboard asks for.
        page.route("**/api/health", lambda route: route.fulfill(
            status=503, json={"error": "Sampler is warming up"}))
        page.goto(url(server, "/"))
        toast = page.locator(".toast-error")
        expect(toast).to_contain_text("Sampler is warming up")
        expect(page.locator('[data-health="status"]')).to_have_text("Unavailable")
        toast.get_by_role("button", name="Dismiss notification").click()
        expect(toast).to_have_count(0)

        page.unroute("**/api/health")
        page.route("**/api/health", lambda route: route.abort("connectionrefused"))
        page.reload()
        expect(page.locator(".toast-error")).to_contain_text(
            "Cannot reach the server — check that Toru is running")

        page.unroute("**/api/health")
        page.route("**/api/health", lambda route: route.fulfill(status=401, json={"error": "Not signed in"}))
        page.goto(url(server, "/?tab=x"))
        expect(page).to_have_url(url(server, "/login?next=%2F%3Ftab%3Dx"))
        expect(heading(page)).to_have_text("Sign in")
        # The redirect is the answer; no error toast on top of it.
        expect(page.locator(".toast-error")).to_have_count(0)

        assert unexpected(seen, FAILED_RESOURCE, re.compile("net::ERR_CONNECTION_REFUSED"),
                          re.compile("status of 503")) == []


def test_a_dialog_with_typed_input_asks_before_escape_or_close_discards_it(server, browser):
    with open_page(browser, DESKTOP) as (page, seen):
        api_sign_in(page, server)
        page.goto(url(server, "/alerts"))
        new_rule = page.get_by_role("button", name="New rule")

        # Nothing typed: Escape closes at once.
        new_rule.click()
        editor = page.get_by_role("dialog", name="New alert rule")
        expect(editor).to_be_visible()
        page.keyboard.press("Escape")
        expect(editor).to_have_count(0)

        # Typed: Escape asks; "Keep editing" keeps every character.
        new_rule.click()
        editor.get_by_label("Name").fill("Half-written rule")
        page.keyboard.press("Escape")
        ask = page.get_by_role("dialog", name="Discard changes?")
        expect(ask).to_be_visible()
        expect(ask.get_by_role("button", name="Keep editing")).to_be_focused()  # a stray Enter keeps it
        ask.get_by_role("button", name="Keep editing").click()
        expect(ask).to_have_count(0)
        expect(editor.get_by_label("Name")).to_have_value("Half-written rule")

        # The close button asks too; "Discard" closes the editor, nothing saved.
        editor.get_by_role("button", name="Close").click()
        ask.get_by_role("button", name="Discard").click()
        expect(page.get_by_role("dialog")).to_have_count(0)
        assert not [r for r in api(page, server, "GET", "/api/alerts/rules").json()["rules"]
                    if r["name"] == "Half-written rule"]

        # Its own Cancel is a deliberate choice: no question.
        new_rule.click()
        editor.get_by_label("Name").fill("Cancelled rule")
        editor.get_by_role("button", name="Cancel").click()
        expect(page.get_by_role("dialog")).to_have_count(0)
        assert unexpected(seen) == []


def test_static_sources_follow_the_csp_and_colour_rules():
    """The rules of STYLE.md §6 that a grep can check: no HTML parsing of
    strings, no inline script or handlers or style attributes, hex colours
    only in tokens.css."""
    html_sinks = re.compile(r"\b(innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval)\b|new Function")
    hex_colour = re.compile(r"#[0-9a-fA-F]{3,8}\b")
    problems = []
    for path in sorted(STATIC.rglob("*")):
        if path.suffix not in {".js", ".css", ".html"} or "vendor" in path.parts:
            continue
        text = path.read_text(encoding="utf-8")
        rel = path.relative_to(STATIC)
        if path.suffix == ".js" and html_sinks.search(text):
            problems.append(f"{rel}: {html_sinks.search(text).group(0)}")
        if path.suffix == ".html":
            if re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text):
                problems.append(f"{rel}: inline <script>")
            if re.search(r"\s(on[a-z]+|style)\s*=", text):
                problems.append(f"{rel}: inline handler or style attribute")
        if path.name != "tokens.css" and path.suffix in {".css", ".js", ".html"}:
            for match in hex_colour.finditer(text):
                problems.append(f"{rel}: hex colour {match.group(0)}")
    assert problems == []


def test_every_rule_of_the_plugin_kit_is_scoped_to_plugin_containers():
    """css/plugin-kit.css is added to the page by plugin pages and stays:
    each of its selectors must start at `.toru-plugin` (the class of the
    container a bundle is mounted into), so it cannot restyle an app page."""
    text = re.sub(r"/\*.*?\*/", "", (STATIC / "css" / "plugin-kit.css").read_text(encoding="utf-8"), flags=re.S)
    selectors = []
    for prelude in re.findall(r"([^{}]+)\{", text):
        prelude = prelude.strip()
        if prelude.startswith("@"):
            assert prelude.startswith("@media"), prelude  # no @import, @font-face or global @keyframes
            continue
        selectors += [s.strip() for s in prelude.split(",")]
    assert len(selectors) > 20
    assert [s for s in selectors if not s.startswith(".toru-plugin ")] == []
