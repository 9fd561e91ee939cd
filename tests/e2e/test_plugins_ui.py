"""Plugins in a real browser against a real server running real plugin
processes (tests/fixtures/plugins/ui_plugin.py, one copy per mode):

- `files`, `files-loop`, `files-off`: bundle.js is a file next to the
  binary (<data>/plugins/<id>/bundle.js, copied from ui_bundle.js);
  `files-off` is disabled in config.json; `files-loop` crash-loops while
  `<data>/files-loop.control` says "crash".
- `served`: bundle.js comes from the plugin over the protocol.
- `throwing` (mount throws), `noreg` (registers nothing), `nobundle`.

The sidebar, plugin pages (mount through api.fetch, unmount, switching,
errors, deep links), the manager (enable/disable/restart against the real
processes, rescan), the logs viewer, a client's read-only view, a phone,
and the dashboard card. Every test fails on unexpected console errors."""

import json
import os
import re
import shutil
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from helpers import ADMIN_PASSWORD, FIXTURE_PLUGINS, ServerProcess, install_plugin, wait_for
from e2e_support import (DESKTOP, FAILED_RESOURCE, PHONE, USER_PASSWORD, api, api_sign_in,
                         expect_no_horizontal_scroll, heading, open_page, unexpected, url)

ENV = {"TRUST_PROXY": "1", "TORU_PLUGIN_BACKOFF_BASE": "0.05"}
FILE_BUNDLED = ["files", "files-loop", "files-off"]
SERVED = ["served", "throwing", "noreg", "nobundle"]
ENABLED = ["files", "files-loop", "served", "throwing", "noreg", "nobundle"]
WAIT = 30_000  # ms: a loaded 2-core machine starts seven Python plugins
# The throwing fixture's exception, which plugin-view.js logs for authors.
MOUNT_FAILED = re.compile(r"^console: Plugin throwing: mount failed")
# A bundle that is not there: the 404 and the browser's refusal to run its
# JSON error body as a script are what the browser itself reports.
NO_BUNDLE = re.compile(r"^console: Refused to execute script from '.*/api/plugins/nobundle/bundle\.js'")


@pytest.fixture(scope="module")
def ui_server(tmp_path_factory):
    data = tmp_path_factory.mktemp("plugins-ui") / "data"
    for name in FILE_BUNDLED + SERVED:
        install_plugin(data, "ui_plugin", name)
    for name in FILE_BUNDLED:
        (data / "plugins" / name).mkdir()
        shutil.copy(FIXTURE_PLUGINS / "ui_bundle.js", data / "plugins" / name / "bundle.js")
    (data / "plugins" / ".metadata").mkdir()
    (data / "plugins" / ".metadata" / "config.json").write_text(json.dumps({"plugins": {"files-off": False}}))
    proc = ServerProcess(data, env=ENV).start()
    admin = proc.client()
    assert admin.post("/api/auth/login", json={"username": "admin",
                                               "password": proc.env["ADMIN_PASSWORD"]}).status == 200
    proc.admin = admin
    wait_for(lambda: all_running(admin), timeout=60, message="the enabled fixture plugins to run")
    yield proc
    proc.stop()


def plugins(client):
    return {p["id"]: p for p in client.get("/api/plugins").json["plugins"]}


def plugin(client, plugin_id):
    return client.get(f"/api/plugins/{plugin_id}").json["plugin"]


def all_running(client):
    found = plugins(client)
    return all(found.get(i, {}).get("state") == "running" and found[i]["health"] == "healthy" for i in ENABLED)


def gone(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def nav_item(page, plugin_id):
    return page.locator(f'#nav-plugins li[data-plugin="{plugin_id}"]')


def fixture_stats(page, plugin_id):
    return page.evaluate(f"(window.__toruFixture || {{}})[{json.dumps(plugin_id)}] || null")


def test_sidebar_lists_enabled_plugins_with_live_health(ui_server, browser):
    with open_page(browser, DESKTOP) as (page, seen):
        api_sign_in(page, ui_server)
        page.goto(url(ui_server, "/"))
        expect(heading(page)).to_have_text("Dashboard")
        items = page.locator("#nav-plugins li[data-plugin]")
        # Enabled plugins, by name; the disabled one is not listed.
        expect(items).to_have_count(len(ENABLED), timeout=WAIT)
        names = [f"UI {i}" for i in sorted(ENABLED)]
        expect(items.locator(".nav-label")).to_have_text(names)
        expect(nav_item(page, "files-off")).to_have_count(0)
        for plugin_id in ENABLED:
            expect(nav_item(page, plugin_id).locator(".health-dot")).to_have_attribute("data-health", "green")
        # Icons are text: the emoji of `files`, a letter for the others.
        expect(nav_item(page, "files").locator(".plugin-icon")).to_have_text("\u2728")
        expect(nav_item(page, "served").locator(".plugin-icon")).to_have_text("S")
        expect(nav_item(page, "files").locator("a")).to_have_attribute("href", "/plugin/files")

        # Disabling and enabling elsewhere (the API) shows up live: no reload.
        page.evaluate("window.__sameDocument = true")
        admin = ui_server.admin
        assert admin.post("/api/plugins/noreg/disable").status == 200
        expect(nav_item(page, "noreg")).to_have_count(0)
        assert admin.post("/api/plugins/noreg/enable").status == 200
        expect(nav_item(page, "noreg")).to_have_count(1)
        expect(nav_item(page, "noreg").locator(".health-dot")).to_have_attribute("data-health", "green", timeout=WAIT)
        assert page.evaluate("window.__sameDocument") is True
        assert unexpected(seen) == []
        assert seen["bad_responses"] == []


def test_health_dot_turns_red_on_a_crash_loop_and_green_after_recovery(ui_server, browser):
    control = ui_server.data_dir / "files-loop.control"
    polled = []
    with open_page(browser, DESKTOP) as (page, seen):
        api_sign_in(page, ui_server)
        page.goto(url(ui_server, "/history"))
        expect(heading(page)).to_have_text("History")
        dot = nav_item(page, "files-loop").locator(".health-dot")
        expect(dot).to_have_attribute("data-health", "green", timeout=WAIT)
        before = plugin(ui_server.admin, "files-loop")["pid"]
        page.on("request", lambda r: "/api/plugins" in r.url and polled.append(r.url))
        try:
            control.write_text("crash")
            expect(dot).to_have_attribute("data-health", "red", timeout=20_000)
        finally:
            control.unlink()
        expect(dot).to_have_attribute("data-health", "green", timeout=WAIT)
        after = plugin(ui_server.admin, "files-loop")
        assert after["state"] == "running" and after["pid"] != before and after["restarts"] >= 2, after
        wait_for(lambda: gone(before), timeout=10, message="the first process to be gone")
        # The dot followed pushed messages: the page asked the API nothing.
        assert polled == []
        assert unexpected(seen) == []


def test_plugin_pages_mount_through_api_fetch_and_unmount_cleanly(ui_server, browser):
    with open_page(browser, DESKTOP) as (page, seen):
        user = api_sign_in(page, ui_server)
        page.goto(url(ui_server, "/"))
        expect(heading(page)).to_have_text("Dashboard")
        page.evaluate("window.__sameDocument = true")

        # The file bundle, reached from the sidebar; its text came from the
        # plugin's own route through api.fetch (a relative path).
        nav_item(page, "files").locator("a").click()
        expect(page).to_have_url(url(ui_server, "/plugin/files"))
        expect(heading(page)).to_have_text("UI files")
        expect(page).to_have_title("UI files · Toru")
        expect(nav_item(page, "files").locator("a")).to_have_attribute("aria-current", "page")
        message = page.locator(".plugin-container .fixture-message")
        expect(message).to_have_text("Hello from files")
        expect(message).to_have_attribute("data-path", "/hello?from=bundle")
        expect(message).to_have_attribute("data-user", user["username"])
        assert int(message.get_attribute("data-pid")) == plugin(ui_server.admin, "files")["pid"]
        expect(page.locator(".plugin-container .fixture-user")).to_have_text(f"{user['username']} (admin)")
        assert fixture_stats(page, "files") == {"loads": 1, "mounts": 1, "unmounts": 0, "listeners": 1, "pings": 0}

        # api.showToast and the plugin-toast event.
        page.locator(".fixture-toast").click()
        expect(page.locator(".toast-success", has_text="Saved by files")).to_be_visible()
        page.locator(".fixture-event-toast").click()
        expect(page.locator(".toast-info", has_text="Event from files")).to_be_visible()

        # Another plugin: the first is unmounted, its listener removed, its
        # script gone. This bundle came over the protocol and registered as
        # window["toru_plugin_<id>"].
        nav_item(page, "served").locator("a").click()
        expect(page.locator(".plugin-container .fixture-message")).to_have_text("Hello from served")
        expect(page.locator(".plugin-container .fixture-message")).to_have_attribute("data-path", "/hello")
        stats = fixture_stats(page, "files")
        assert (stats["mounts"], stats["unmounts"], stats["listeners"]) == (1, 1, 0), stats
        expect(page.locator("script[data-plugin-bundle]")).to_have_count(1)
        expect(page.locator('script[data-plugin-bundle="served"]')).to_have_count(1)
        expect(page.locator(".plugin-container")).to_have_count(1)

        # And back (browser history): mounted afresh, exactly one listener.
        page.go_back()
        expect(page).to_have_url(url(ui_server, "/plugin/files"))
        expect(page.locator(".plugin-container .fixture-message")).to_have_text("Hello from files")
        stats = fixture_stats(page, "files")
        assert (stats["loads"], stats["mounts"], stats["unmounts"], stats["listeners"]) == (2, 2, 1, 1), stats
        assert fixture_stats(page, "served")["unmounts"] == 1
        page.evaluate("window.dispatchEvent(new Event('fixture-ping'))")
        assert fixture_stats(page, "files")["pings"] == 1
        expect(page.locator(".plugin-container")).to_have_count(1)
        expect(page.locator("script[data-plugin-bundle]")).to_have_count(1)

        # api.navigate leaves the plugin: unmount recorded, nothing left behind.
        page.locator(".fixture-navigate").click()
        expect(page).to_have_url(url(ui_server, "/history"))
        expect(heading(page)).to_have_text("History")
        stats = fixture_stats(page, "files")
        assert (stats["unmounts"], stats["listeners"]) == (2, 0), stats
        expect(page.locator("script[data-plugin-bundle]")).to_have_count(0)
        assert page.evaluate("window.ToruPlugins.files === undefined && window.toru_plugin_served === undefined")
        assert page.evaluate("window.__sameDocument") is True
        assert unexpected(seen) == []
        assert seen["bad_responses"] == []


def test_broken_plugins_show_an_error_panel_never_a_blank_page(ui_server, browser):
    with open_page(browser, DESKTOP) as (page, seen):
        api_sign_in(page, ui_server)
        cases = [
            ("throwing", "fixture bundle exploded in mount"),
            ("noreg", "registered nothing"),
            ("nobundle", "no bundle.js"),
            ("files-off", "Enable it on the Plugins page"),
            ("no-such-plugin", "No plugin has the id"),
        ]
        for plugin_id, text in cases:
            page.goto(url(ui_server, f"/plugin/{plugin_id}"))
            panel = page.locator(f'[data-plugin-error="{plugin_id}"]')
            expect(panel).to_be_visible(timeout=WAIT)
            expect(panel).to_contain_text(text)
            expect(page.locator("#sidebar")).to_be_visible()  # the shell still stands
            expect(page.locator(".plugin-container")).to_have_count(0)
            expect(page.locator("script[data-plugin-bundle]")).to_have_count(0)
        # The throwing bundle got its unmount call to clean up.
        page.goto(url(ui_server, "/plugin/throwing"))
        panel = page.locator('[data-plugin-error="throwing"]')
        expect(panel).to_contain_text("mount() threw")
        assert page.evaluate("window.__throwingUnmounted") == 1
        # The panel links to the plugin's details and logs.
        panel.get_by_role("link", name="Open its details and logs").click()
        expect(page).to_have_url(url(ui_server, "/plugins/throwing"))
        expect(heading(page)).to_have_text("UI throwing")
        expect(page.get_by_role("heading", name="Logs")).to_be_visible()
        assert unexpected(seen, MOUNT_FAILED, FAILED_RESOURCE, NO_BUNDLE) == []
        assert sorted(set(re.sub(r"^\d+ .*/api/", "", r) for r in seen["bad_responses"])) == [
            "plugins/no-such-plugin", "plugins/nobundle/bundle.js"], seen["bad_responses"]


def test_deep_link_and_reload_of_a_plugin_page(ui_server, browser):
    with open_page(browser, DESKTOP) as (page, seen):
        api_sign_in(page, ui_server)
        page.goto(url(ui_server, "/plugin/served"))
        expect(page.locator(".plugin-container .fixture-message")).to_have_text("Hello from served", timeout=WAIT)
        page.reload()
        expect(page.locator(".plugin-container .fixture-message")).to_have_text("Hello from served", timeout=WAIT)
        assert fixture_stats(page, "served") == {"loads": 1, "mounts": 1, "unmounts": 0, "listeners": 0}
        expect(nav_item(page, "served").locator("a")).to_have_attribute("aria-current", "page")
        # Signed out, the deep link goes through the login page and back.
        page.context.clear_cookies()
        page.goto(url(ui_server, "/plugin/files"))
        expect(page).to_have_url(re.compile(r"/login\?next=%2Fplugin%2Ffiles$"))
        page.get_by_label("Username").fill("admin")
        page.get_by_label("Password").fill(ui_server.env["ADMIN_PASSWORD"])
        page.get_by_role("button", name="Sign in").click()
        expect(page.locator(".plugin-container .fixture-message")).to_have_text("Hello from files", timeout=WAIT)
        assert unexpected(seen, re.compile(r"status of 401")) == []


def test_manager_controls_change_the_real_processes(ui_server, browser):
    admin = ui_server.admin
    with open_page(browser, DESKTOP) as (page, seen):
        api_sign_in(page, ui_server)
        page.goto(url(ui_server, "/plugins"))
        expect(heading(page)).to_have_text("Plugins")
        card = page.locator('article[data-plugin="served"]')
        expect(card).to_be_visible()
        expect(card.locator(".plugin-card-name")).to_have_text("UI served")
        expect(card).to_contain_text("v2.1.0")
        expect(card).to_contain_text("by tests")
        expect(card).to_contain_text("Browser-test plugin in mode served.")
        expect(card.locator(".plugin-state")).to_have_text("Running")
        first = plugin(admin, "served")["pid"]
        expect(card.locator('[data-figure="pid"]')).to_have_text(str(first))
        expect(card.locator('[data-figure="uptime"]')).to_have_text(re.compile(r"^\d+ (s|min)"))
        expect(card.locator('[data-figure="cpu"]')).to_have_text(re.compile(r"^\d+\.\d%$"))
        expect(card.locator('[data-figure="rss"]')).to_have_text(re.compile(r"^\d+(\.\d)? (KiB|MiB)$"))
        # The disabled plugin's card says so.
        expect(page.locator('article[data-plugin="files-off"] .plugin-state')).to_have_text("Disabled")

        # Restart: a new process, the old one gone.
        card.get_by_role("button", name="Restart UI served").click()
        expect(page.locator(".toast-success", has_text="UI served restarted")).to_be_visible(timeout=WAIT)
        wait_for(lambda: plugin(admin, "served")["state"] == "running", timeout=30, message="served to run")
        second = plugin(admin, "served")["pid"]
        assert second != first
        wait_for(lambda: gone(first), timeout=10, message="the old process to be gone")
        expect(card.locator('[data-figure="pid"]')).to_have_text(str(second))

        # Disable: stopped for real, gone from the sidebar; enable: back.
        switch = card.get_by_role("switch")
        expect(switch).to_be_checked()
        switch.click()
        expect(page.locator(".toast-success", has_text="UI served is disabled")).to_be_visible(timeout=WAIT)
        state = plugin(admin, "served")
        assert (state["enabled"], state["state"], state["pid"]) == (False, "stopped", None), state
        wait_for(lambda: gone(second), timeout=10, message="the disabled plugin's process to be gone")
        expect(switch).not_to_be_checked()
        expect(card.locator(".plugin-state")).to_have_text("Disabled")
        expect(card.locator('[data-figure="pid"]')).to_have_text("—")
        expect(nav_item(page, "served")).to_have_count(0)
        config = json.loads((ui_server.data_dir / "plugins" / ".metadata" / "config.json").read_text())
        assert config["plugins"]["served"] is False or config["plugins"]["served"] == {"enabled": False}

        switch.click()
        expect(page.locator(".toast-success", has_text="UI served is enabled")).to_be_visible(timeout=WAIT)
        wait_for(lambda: plugin(admin, "served")["state"] == "running", timeout=30, message="served to run again")
        third = plugin(admin, "served")["pid"]
        assert third not in (first, second) and not gone(third)
        expect(switch).to_be_checked()
        expect(card.locator(".plugin-state")).to_have_text("Running", timeout=WAIT)
        expect(nav_item(page, "served").locator(".health-dot")).to_have_attribute("data-health", "green", timeout=WAIT)

        # Rescan reports what it found.
        page.get_by_role("button", name="Rescan").click()
        expect(page.locator(".toast-success", has_text="Plugins rescanned")).to_be_visible(timeout=WAIT)
        assert unexpected(seen) == []
        assert seen["bad_responses"] == []


def test_logs_viewer_filters_pages_searches_and_tails(ui_server, browser):
    with open_page(browser, DESKTOP, locale="en-GB", timezone_id="Asia/Tokyo",
                   permissions=["clipboard-read", "clipboard-write"]) as (page, seen):
        api_sign_in(page, ui_server)
        page.goto(url(ui_server, "/plugins/files"))
        expect(heading(page)).to_have_text("UI files")
        expect(page.locator('.plugin-meta [data-field="version"]')).to_have_text("2.1.0")
        expect(page.locator('.plugin-runtime [data-field="state"]')).to_have_text("running")
        expect(page.locator(".event-item").first).to_be_visible()
        expect(page.locator('.event-item[data-event-type="started"]').first).to_be_visible()

        lines = page.locator(".log-line")
        messages = lines.locator(".log-message")
        # Newest first: the fixture's last start-up line leads.
        expect(messages.first).to_have_text("line 119 info")
        # Timestamps in the browser's time zone (Tokyo here).
        stamp = lines.first.locator("time")
        moment = datetime.fromisoformat(stamp.get_attribute("datetime").replace("Z", "+00:00"))
        expect(stamp).to_contain_text(moment.astimezone(ZoneInfo("Asia/Tokyo")).strftime("%H:%M:%S"))

        page.get_by_label("Per page").select_option("50")
        expect(lines).to_have_count(50)
        # Info and above: no debug line on either page; the pages differ.
        page.get_by_label("Level").select_option("info")
        expect(messages.first).to_have_text("line 119 info")
        expect(lines).to_have_count(50)
        expect(page.locator('.log-line[data-level="debug"]')).to_have_count(0)
        first_page = messages.all_text_contents()
        page.get_by_role("button", name="Older").click()
        expect(messages.first).not_to_have_text("line 119 info")
        expect(page.locator(".pager-label")).to_have_text("Page 2")
        expect(page.locator('.log-line[data-level="debug"]')).to_have_count(0)
        second_page = messages.all_text_contents()
        assert second_page and not set(first_page) & set(second_page)
        # Lines 0..119 minus debug ones (i % 5 == 0) are 96 per start.
        assert int(second_page[0].split()[1]) < int(first_page[-1].split()[1])
        page.get_by_role("button", name="Newer").click()
        expect(messages.first).to_have_text("line 119 info")

        # Errors only.
        page.get_by_label("Level").select_option("error")
        expect(messages.first).to_have_text("line 118 error")
        levels = page.locator(".log-line").evaluate_all("els => els.map((el) => el.dataset.level)")
        assert levels and set(levels) == {"error"}, levels

        # Search within the page.
        page.get_by_label("Search").fill("line 11")
        expect(messages).to_have_text(["line 118 error", "line 113 error"])
        expect(page.locator('[data-logs="summary"]')).to_contain_text("2 of")
        page.get_by_label("Search").fill("")
        expect(messages.first).to_have_text("line 118 error")

        # Copy a line.
        lines.first.get_by_role("button", name="Copy line").click()
        expect(page.locator(".toast-success", has_text="Log line copied.")).to_be_visible()
        copied = json.loads(page.evaluate("navigator.clipboard.readText()"))
        assert copied["message"] == "line 118 error" and copied["plugin"] == "files"

        # Live tail: a line the plugin logs now appears without a click.
        page.get_by_label("Level").select_option("")
        page.get_by_role("switch", name="Live tail").check()
        res = api(page, ui_server, "POST", "/api/plugins/route/files/log", "tail marker 42")
        assert res.status == 200, res.text()
        expect(messages.first).to_have_text("tail marker 42", timeout=WAIT)
        expect(lines.first).to_have_attribute("data-level", "warn")
        page.get_by_role("switch", name="Live tail").uncheck()
        assert unexpected(seen) == []
        assert seen["bad_responses"] == []


def test_a_client_sees_plugins_read_only_and_the_api_refuses_controls(ui_server, browser):
    admin = ui_server.admin
    username = "pluginviewer"
    res = admin.post("/api/users", json={"username": username, "password": USER_PASSWORD, "role": "client"})
    assert res.status == 201, res
    client = ui_server.client()
    assert client.post("/api/auth/login", json={"username": username, "password": USER_PASSWORD}).status == 200
    for method, path in [("POST", "/api/plugins/served/enable"), ("POST", "/api/plugins/served/disable"),
                         ("POST", "/api/plugins/served/restart"), ("POST", "/api/plugins/rescan"),
                         ("GET", "/api/plugins/served/logs"), ("GET", "/api/plugins/served/events")]:
        answer = client.request(method, path, json_body={} if method == "POST" else None)
        assert answer.status == 403, (path, answer)
    assert plugin(admin, "served")["state"] == "running"

    with open_page(browser, DESKTOP) as (page, seen):
        api_sign_in(page, ui_server, username, USER_PASSWORD)
        page.goto(url(ui_server, "/plugins"))
        expect(heading(page)).to_have_text("Plugins")
        expect(page.locator("article[data-plugin]")).to_have_count(7)
        expect(page.locator('article[data-plugin="served"] .plugin-state')).to_have_text("Running")
        expect(page.get_by_role("switch")).to_have_count(0)
        expect(page.get_by_role("button", name=re.compile("^Restart"))).to_have_count(0)
        expect(page.get_by_role("button", name="Rescan")).to_have_count(0)

        page.locator('article[data-plugin="served"]').get_by_role("link", name="Details").click()
        expect(heading(page)).to_have_text("UI served")
        expect(page.locator('.plugin-runtime [data-field="state"]')).to_have_text("running")
        expect(page.get_by_text("Logs and events of plugins are shown to admins.")).to_be_visible()
        expect(page.get_by_role("heading", name="Logs")).to_have_count(0)
        expect(page.get_by_role("switch")).to_have_count(0)

        # Clients use plugin pages; the plugin learns who they are.
        nav_item(page, "files").locator("a").click()
        message = page.locator(".plugin-container .fixture-message")
        expect(message).to_have_text("Hello from files", timeout=WAIT)
        expect(message).to_have_attribute("data-user", username)
        expect(page.locator(".plugin-container .fixture-user")).to_have_text(f"{username} (client)")
        assert unexpected(seen) == []
        assert seen["bad_responses"] == []


def test_phone_viewport(ui_server, browser):
    with open_page(browser, PHONE) as (page, seen):
        api_sign_in(page, ui_server)
        page.goto(url(ui_server, "/plugins"))
        expect(page.locator('article[data-plugin="files"]')).to_be_visible()
        expect_no_horizontal_scroll(page, 390)
        # Touch-size controls on the cards.
        card = page.locator('article[data-plugin="files"]')
        for control in (card.locator("label.switch"), card.get_by_role("button", name="Restart UI files"),
                        card.get_by_role("link", name="Details and logs")):
            box = control.bounding_box()
            assert box is not None and box["height"] >= 44, box

        menu = page.get_by_role("button", name="Menu", exact=True)
        menu.tap()
        link = nav_item(page, "served").locator("a")
        expect(link).to_be_in_viewport()
        box = link.bounding_box()
        assert box["height"] >= 44, box
        link.tap()
        expect(page.locator("#sidebar")).to_be_hidden()
        expect(page.locator(".plugin-container .fixture-message")).to_have_text("Hello from served", timeout=WAIT)
        expect_no_horizontal_scroll(page, 390)

        page.goto(url(ui_server, "/plugins/files"))
        expect(page.locator(".log-line").first).to_be_visible(timeout=WAIT)
        expect_no_horizontal_scroll(page, 390)
        for name in ("Older", "Refresh"):
            box = page.get_by_role("button", name=name).bounding_box()
            assert box["height"] >= 44, (name, box)
        page.goto(url(ui_server, "/plugin/throwing"))
        expect(page.locator('[data-plugin-error="throwing"]')).to_be_visible(timeout=WAIT)
        expect_no_horizontal_scroll(page, 390)
        assert unexpected(seen, MOUNT_FAILED) == []
        assert seen["bad_responses"] == []


def test_dashboard_plugin_health_card(ui_server, browser):
    wait_for(lambda: all_running(ui_server.admin), timeout=60, message="the fixture plugins to settle")
    with open_page(browser, DESKTOP) as (page, seen):
        api_sign_in(page, ui_server)
        page.goto(url(ui_server, "/"))
        card = page.locator('[data-card="plugins"]')
        expect(card.locator('[data-metric="plugins-running"]')).to_have_text(str(len(ENABLED)), timeout=WAIT)
        expect(card.locator('[data-metric="plugins-failed"]')).to_have_text("0")
        expect(card.locator('[data-metric="plugins-other"]')).to_have_text("1 more is disabled, stopped or starting.")
        # A plugin that crash-loops counts as failed, live.
        control = ui_server.data_dir / "files-loop.control"
        try:
            control.write_text("crash")
            expect(card.locator('[data-metric="plugins-failed"]')).to_have_text("1", timeout=20_000)
            expect(card.get_by_role("link", name="UI files-loop")).to_be_visible()
        finally:
            control.unlink()
        expect(card.locator('[data-metric="plugins-failed"]')).to_have_text("0", timeout=WAIT)
        card.get_by_role("link", name="Manage").click()
        expect(page).to_have_url(url(ui_server, "/plugins"))
        expect(heading(page)).to_have_text("Plugins")
        assert unexpected(seen) == []
        assert seen["bad_responses"] == []


def test_plugin_settings_sections_mount_in_settings_and_unmount_on_leave(ui_server, browser):
    with open_page(browser, DESKTOP) as (page, seen):
        api_sign_in(page, ui_server)
        page.goto(url(ui_server, "/settings/plugins"))
        expect(page.get_by_role("link", name="Plugins", exact=True).first).to_be_visible()
        # The file bundles export mountSettings; served/throwing/noreg/nobundle do not.
        sections = page.locator("[data-plugin-settings]")
        expect(sections).to_have_count(2, timeout=WAIT)
        files = page.locator('[data-plugin-settings="files"] .fixture-settings')
        expect(files).to_have_text("Settings of files for admin")
        expect(files).to_have_attribute("data-path", "/hello")  # api.fetch rooted at its route
        expect(page.locator('.plugin-settings-card[data-plugin="files"] .card-title')).to_have_text("\u2728UI files")
        assert fixture_stats(page, "files")["settingsMounts"] == 1
        page.locator(".tabs").get_by_role("link", name="Instance").click()
        expect(page.locator("#instance-id")).to_be_visible()
        stats = fixture_stats(page, "files")
        assert (stats["settingsMounts"], stats["settingsUnmounts"], stats["mounts"]) == (1, 1, 0), stats
        assert fixture_stats(page, "files-loop")["settingsUnmounts"] == 1
        assert page.evaluate("document.querySelectorAll('script[data-plugin-bundle]').length") == 0
        assert page.evaluate("Object.keys(window.ToruPlugins || {}).length") == 0
        assert unexpected(seen) == []
        assert seen["bad_responses"] == []


def test_config_editor_saves_and_shows_errors_inline(ui_server, browser):
    admin = ui_server.admin
    with open_page(browser, DESKTOP) as (page, seen):
        api_sign_in(page, ui_server)
        page.goto(url(ui_server, "/plugins/served"))
        field = page.get_by_label("Config (a JSON object)")
        expect(field).to_have_value("{}", timeout=WAIT)
        error = page.locator("#plugin-config-error")
        field.fill('{"colour": "teal", "n": 2}')
        page.get_by_role("button", name="Save config").click()
        expect(page.locator(".toast-success", has_text="Config saved")).to_be_visible()
        expect(page.locator('[data-field="config-saved"]')).to_contain_text("by admin")
        expect(page.locator('.plugin-events [data-event-type="config_changed"]').first).to_contain_text(
            "Config changed by admin")
        assert admin.get("/api/plugins/served/config").json["config"] == {"colour": "teal", "n": 2}
        # Not JSON: said under the field, nothing sent.
        field.fill('{"colour": ')
        page.get_by_role("button", name="Save config").click()
        expect(error).to_contain_text("Not valid JSON")
        expect(field).to_have_attribute("aria-invalid", "true")
        # JSON, but not an object: the server's reason, under the field.
        field.fill("[1, 2]")
        page.get_by_role("button", name="Save config").click()
        expect(error).to_have_text("config must be a JSON object ({…}), not an array")
        assert admin.get("/api/plugins/served/config").json["config"] == {"colour": "teal", "n": 2}
        assert unexpected(seen, FAILED_RESOURCE) == []
        assert [r.split()[0] for r in seen["bad_responses"]] == ["400"]


def test_unsaved_config_asks_before_a_link_back_or_reload_leaves_it(ui_server, browser):
    with open_page(browser, DESKTOP) as (page, seen):
        api_sign_in(page, ui_server)
        page.goto(url(ui_server, "/plugins"))
        page.locator('article[data-plugin="served"]').get_by_role("link", name="Details and logs").click()
        expect(page).to_have_url(url(ui_server, "/plugins/served"))
        field = page.get_by_label("Config (a JSON object)")
        expect(field).to_be_enabled(timeout=WAIT)
        saved = field.input_value()
        ask = page.get_by_role("dialog", name="Leave this page?")

        # A sidebar link: "Stay" keeps the page and the text.
        field.fill('{"draft": true}')
        page.locator("#sidebar").get_by_role("link", name="Dashboard").click()
        expect(ask.get_by_role("button", name="Stay")).to_be_focused()
        ask.get_by_role("button", name="Stay").click()
        expect(page).to_have_url(url(ui_server, "/plugins/served"))
        expect(field).to_have_value('{"draft": true}')

        # Back asks too, and the address stays the page's until the answer.
        page.go_back()
        expect(ask).to_be_visible()
        expect(page).to_have_url(url(ui_server, "/plugins/served"))
        ask.get_by_role("button", name="Stay").click()
        expect(field).to_have_value('{"draft": true}')

        # Text put back as it was saved: nothing to lose, no question.
        field.fill(saved)
        page.go_back()
        expect(page).to_have_url(url(ui_server, "/plugins"))
        expect(ask).to_have_count(0)

        # A reload (or closing the tab) gets the browser's own question.
        page.go_forward()
        expect(field).to_be_enabled(timeout=WAIT)
        field.fill('{"draft": 2}')
        asked = []
        page.once("dialog", lambda dialog: (asked.append(dialog.type), dialog.accept()))
        page.reload()
        assert asked == ["beforeunload"]
        assert ui_server.admin.get("/api/plugins/served/config").json["config"] != {"draft": 2}
        assert unexpected(seen, FAILED_RESOURCE) == []


def test_dashboard_lists_recent_plugin_events_linking_to_each_plugin(ui_server, browser):
    admin = ui_server.admin
    with open_page(browser, DESKTOP) as (page, seen):
        api_sign_in(page, ui_server)
        page.goto(url(ui_server, "/"))
        card = page.locator('[data-card="plugin-events"]')
        expect(card.locator(".event-item").first).to_be_visible(timeout=WAIT)
        newest = admin.get("/api/plugins/events?limit=1").json["events"][0]
        assert card.locator(".event-item").first.get_attribute("data-plugin") == newest["plugin_id"]
        # A new event arrives at the top, live.
        assert admin.put("/api/plugins/noreg/config", json={"config": {"k": 1}}).status == 200
        first = card.locator(".event-item").first
        expect(first).to_contain_text("UI noreg — Config changed by admin", timeout=WAIT)
        first.get_by_role("link", name="UI noreg").click()
        expect(page).to_have_url(url(ui_server, "/plugins/noreg"))
        assert unexpected(seen) == []
        assert seen["bad_responses"] == []


def test_a_plugins_own_route_typed_as_an_address_opens_its_page(ui_server, browser):
    with open_page(browser, DESKTOP) as (page, seen):
        api_sign_in(page, ui_server)
        page.goto(url(ui_server, "/files"))  # the route in its metadata
        expect(page).to_have_url(url(ui_server, "/plugin/files"))
        expect(heading(page)).to_have_text("UI files")
        page.goto(url(ui_server, "/no-such-plugin"))
        expect(heading(page)).to_have_text("Not found")
        assert seen["bad_responses"] == []



# The computed styles compared on an app page before and after the plugin kit
# is loaded: the page, its heading, a button, a card.
APP_STYLES = """() => {
  const props = ['color', 'background-color', 'border-top-color', 'border-radius', 'padding-top', 'padding-left',
                 'min-height', 'font-size', 'font-weight', 'display', 'gap', 'margin-bottom', 'box-shadow'];
  const pick = (el) => { const s = getComputedStyle(el); return Object.fromEntries(props.map((p) => [p, s[p]])); };
  return {
    body: pick(document.body),
    heading: pick(document.querySelector('main h1')),
    button: pick(document.querySelector('main .btn')),
    card: pick(document.querySelector('article[data-plugin="files"]')),
  };
}"""

# Adds the kit's primary button, input and card inside the plugin container
# and the same elements on the page outside it; returns their styles and the
# --primary token.
KIT_PROBE = """() => {
  const make = (where) => {
    const card = document.createElement('section');
    card.className = 'toru-card toru-stack kit-probe';
    const input = document.createElement('input');
    input.className = 'toru-input';
    const button = document.createElement('button');
    button.className = 'toru-btn toru-btn-primary';
    button.textContent = 'Probe';
    card.append(input, button);
    where.append(card);
    const s = (el) => getComputedStyle(el);
    const out = {
      button: {bg: s(button).backgroundColor, color: s(button).color, minHeight: s(button).minHeight},
      input: {border: s(input).borderTopColor, minHeight: s(input).minHeight},
      card: {bg: s(card).backgroundColor, radius: s(card).borderTopLeftRadius, padding: s(card).paddingTop,
             display: s(card).display},
    };
    card.remove();
    return out;
  };
  const root = getComputedStyle(document.documentElement);
  const token = (name) => root.getPropertyValue(name).trim();
  return {
    inside: make(document.querySelector('.plugin-container')),
    outside: make(document.querySelector('main')),
    primary: token('--primary'), onPrimary: token('--on-primary'), surface: token('--surface'),
    links: document.querySelectorAll('link[data-plugin-kit]').length,
  };
}"""


def rgb(hex_colour):
    value = hex_colour.lstrip("#")
    return "rgb({}, {}, {})".format(*(int(value[i:i + 2], 16) for i in (0, 2, 4)))


def test_plugin_kit_styles_plugin_pages_and_leaves_app_pages_alone(ui_server, browser):
    with open_page(browser, DESKTOP) as (page, seen):
        api_sign_in(page, ui_server)
        page.goto(url(ui_server, "/plugins"))
        expect(page.locator('article[data-plugin="files"]')).to_be_visible()
        assert page.locator("link[data-plugin-kit]").count() == 0
        before = page.evaluate(APP_STYLES)

        # A plugin page: the kit is loaded with the bundle, the container is scoped.
        nav_item(page, "files").locator("a").click()
        expect(page.locator(".plugin-container .fixture-message")).to_have_text("Hello from files", timeout=WAIT)
        expect(page.locator(".plugin-container")).to_have_class(re.compile(r"\btoru-plugin\b"))
        probe = page.evaluate(KIT_PROBE)
        assert probe["links"] == 1
        inside, outside = probe["inside"], probe["outside"]
        assert inside["button"] == {"bg": rgb(probe["primary"]), "color": rgb(probe["onPrimary"]), "minHeight": "44px"}
        assert inside["input"]["minHeight"] == "44px"
        assert inside["card"] == {"bg": rgb(probe["surface"]), "radius": "12px", "padding": "20px", "display": "flex"}
        # The same classes outside the container are not styled by the kit.
        assert outside["button"]["bg"] != rgb(probe["primary"])
        assert outside["button"]["minHeight"] != "44px" and outside["input"]["minHeight"] != "44px"
        assert outside["card"]["padding"] == "0px" and outside["card"]["display"] == "block"

        # Another plugin page adds no second <link>; back on an app page,
        # with the kit loaded, nothing looks different.
        nav_item(page, "served").locator("a").click()
        expect(page.locator(".plugin-container .fixture-message")).to_have_text("Hello from served", timeout=WAIT)
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Plugins").click()
        expect(page.locator('article[data-plugin="files"]')).to_be_visible()
        assert page.locator("link[data-plugin-kit]").count() == 1
        assert page.evaluate(APP_STYLES) == before
        assert unexpected(seen) == []
        assert seen["bad_responses"] == []


# The dashboard's cards grouped into visual rows (by their top edge): each
# row's top, the heights and the left and right edges of its cards, and the
# edges of the grid it is in.
DASHBOARD_ROWS = """() => {
  const rows = [];
  for (const grid of document.querySelectorAll('.dashboard-tasks, .dashboard-grid')) {
    const g = grid.getBoundingClientRect();
    const byTop = new Map();
    for (const card of grid.children) {
      const r = card.getBoundingClientRect();
      const top = Math.round(r.top);
      if (!byTop.has(top)) byTop.set(top, []);
      byTop.get(top).push({card: card.dataset.card, height: r.height, left: r.left, right: r.right});
    }
    for (const [top, cards] of byTop) rows.push({top, cards, gridLeft: g.left, gridRight: g.right});
  }
  return rows;
}"""


def check_dashboard_rows(page, width):
    rows = page.evaluate(DASHBOARD_ROWS)
    assert len(rows) >= 4, rows
    for row in rows:
        cards = row["cards"]
        heights = [c["height"] for c in cards]
        assert max(heights) - min(heights) <= 1, (width, row)
        # Full rows: the first card starts at the grid's left edge, the last
        # ends at its right edge — no hole at the end of any row.
        assert abs(min(c["left"] for c in cards) - row["gridLeft"]) <= 1, (width, row)
        assert abs(max(c["right"] for c in cards) - row["gridRight"]) <= 1, (width, row)
    return rows


def test_dashboard_cards_share_a_row_height_and_leave_no_hole(ui_server, browser):
    username = "dashboard-rows"
    res = ui_server.admin.post("/api/users", json={"username": username, "password": USER_PASSWORD, "role": "client"})
    assert res.status == 201, res
    for who, password, cards in (("admin", ADMIN_PASSWORD, 10), (username, USER_PASSWORD, 9)):
        with open_page(browser, DESKTOP) as (page, seen):
            api_sign_in(page, ui_server, who, password)
            page.goto(url(ui_server, "/"))
            grid = page.locator(".dashboard-grid")
            expect(grid).not_to_have_attribute("aria-busy", "true")
            expect(grid.locator(":scope > .card")).to_have_count(cards)
            if who == "admin":
                expect(page.locator('[data-card="plugin-events"] .event-item').first).to_be_visible(timeout=WAIT)
            rows = check_dashboard_rows(page, 1280)
            # Desktop: quick actions and recent tasks side by side, then three columns.
            assert [len(r["cards"]) for r in rows[:3]] == [2, 3, 3], rows
            for width in (1024, 768):  # tablets: two columns
                page.set_viewport_size({"width": width, "height": 900})
                rows = check_dashboard_rows(page, width)
                assert max(len(r["cards"]) for r in rows) == 2, (width, rows)
            assert unexpected(seen) == []
            assert seen["bad_responses"] == []
