"""Shared by the browser tests: page contexts that record what is worth
failing on, and signing in through the API or the login form."""

import itertools
import re
import secrets
from contextlib import contextmanager

from playwright.sync_api import expect

from helpers import ADMIN_PASSWORD, wait_for

DESKTOP = {"viewport": {"width": 1280, "height": 800}}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True,
         "device_scale_factor": 3}
USER_PASSWORD = "correct horse battery staple"

# Injected through the DevTools protocol, so the page's CSP does not apply to
# it; it records violations the console might word differently.
RECORD_CSP_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__cspViolations.push(`${e.violatedDirective} blocked ${e.blockedURI}`);
});
"""

# The browser logs every 4xx/5xx fetch as a console error; tests that provoke
# one on purpose allow exactly this message.
FAILED_RESOURCE = re.compile(r"^console: Failed to load resource: the server responded with a status of 4\d\d")

# Each context speaks from its own address (CF-Connecting-IP, honoured
# because the module server runs with TRUST_PROXY=1), so one test's failed
# sign-ins never lock out another's.
_addresses = itertools.count(1)


def url(server, path):
    return server.url.rstrip("/") + path


@contextmanager
def open_page(browser, options, **context_options):
    """A page in a fresh context, with everything worth failing on recorded:
    console errors (with the URL they are about), uncaught exceptions, CSP
    messages, 4xx/5xx responses."""
    n = next(_addresses)
    headers = {"CF-Connecting-IP": f"10.250.{n // 256 % 256}.{n % 256}"}
    context = browser.new_context(**options, extra_http_headers=headers, **context_options)
    try:
        context.add_init_script(RECORD_CSP_VIOLATIONS)
        page = context.new_page()
        seen = {"errors": [], "csp": [], "bad_responses": []}

        def on_console(message):
            if "content security policy" in message.text.lower():
                seen["csp"].append(message.text)
            if message.type == "error":
                where = (message.location or {}).get("url", "")
                seen["errors"].append(f"console: {message.text}" + (f" ({where})" if where else ""))

        page.on("console", on_console)
        page.on("pageerror", lambda exc: seen["errors"].append(f"pageerror: {exc}"))
        page.on("response", lambda r: r.status >= 400 and seen["bad_responses"].append(f"{r.status} {r.url}"))
        yield page, seen
    finally:
        context.close()


def unexpected(seen, *allowed):
    """Recorded errors that match none of the `allowed` patterns."""
    return [e for e in seen["errors"] if not any(p.search(e) for p in allowed)]


def heading(page):
    return page.locator("main h1")


def main_nav(page):
    return page.get_by_role("navigation", name="Main")


def api_sign_in(page, server, username="admin", password=ADMIN_PASSWORD):
    """Signs the page's context in through the API (it shares cookies with
    the pages); returns the user."""
    res = page.request.post(url(server, "/api/auth/login"), data={"username": username, "password": password},
                            headers={"Origin": server.url})
    assert res.status == 200, res.text()
    return res.json()["user"]


def form_sign_in(page, username, password):
    """Fills and submits the login form on the current page."""
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def api(page, server, method, path, body=None):
    """A same-origin API call with the context's session; returns the response."""
    return page.request.fetch(url(server, path), method=method, data=body,
                              headers={"Origin": server.url} if method != "GET" else None)


def create_user(page, server, username, role="client", password=USER_PASSWORD, display_name=None):
    """Creates a DB user with the (admin) session of the page's context."""
    body = {"username": username, "password": password, "role": role}
    if display_name is not None:
        body["display_name"] = display_name
    res = api(page, server, "POST", "/api/users", body)
    assert res.status == 201, res.text()
    return res.json()["user"]


def expect_no_horizontal_scroll(page, width):
    assert page.evaluate("document.documentElement.scrollWidth") <= width


__all__ = ["expect"]


def record_websockets(page):
    """Route every /api/ws of `page` through a proxy the test can cut; returns
    the list of (route, messages the page sent) per connection, growing."""
    import json
    connections = []

    def proxy(ws):
        sent = []
        upstream = ws.connect_to_server()

        def from_page(message):
            sent.append(json.loads(message))
            upstream.send(message)
        ws.on_message(from_page)
        connections.append((ws, sent))
    page.route_web_socket(re.compile(r"/api/ws$"), proxy)
    return connections


TERMINAL_TEXT = "el => el.toruTerminal.text()"  # the text of an output terminal's whole buffer


def expect_terminal(locator, pattern, timeout=15_000):
    """Waits until the terminal inside `locator` matches `pattern` (a regex); returns its text."""
    term = locator.locator(".output-terminal")
    expect(term).to_have_class(re.compile(r"\boutput-terminal-ready\b"), timeout=timeout)
    wait_for(lambda: re.search(pattern, term.evaluate(TERMINAL_TEXT)), timeout=timeout / 1000,
             message=f"terminal text matching {pattern!r}")
    return term.evaluate(TERMINAL_TEXT)


def unique(prefix):
    """A name no other test's rows share on a module's server."""
    return f"{prefix}{secrets.token_hex(3)}"

