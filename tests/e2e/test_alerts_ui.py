"""The Alerts page in a real browser against a real server (docs/alerts.md):
a webhook channel created in the editor and "Send test" to a receiver on
127.0.0.1 (the result in words, the receiver got it), the rule editor's
metric picker with the current value and the server's field errors, a
critical alert that really fires (cpu_percent >= 0, sampled every 0.5 s)
putting a banner on other pages and a count in the sidebar, silenced from
the page, and what a client sees (no editors). Waits are Playwright
expectations, never sleeps."""

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import expect

from e2e_support import (DESKTOP, FAILED_RESOURCE, USER_PASSWORD, api, api_sign_in, create_user, heading,
                         main_nav, open_page, unexpected, unique, url)
from helpers import ServerProcess, wait_for

FIRE_WAIT = 15_000  # ms: a rule that holds at once fires on the next sample


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """This module's own server, sampling every 0.5 s so rules fire fast."""
    proc = ServerProcess(tmp_path_factory.mktemp("data") / "data",
                         env={"TRUST_PROXY": "1", "TORU_SAMPLE_INTERVAL": "0.5"}).start()
    yield proc
    proc.stop()


@pytest.fixture
def receiver():
    """A webhook receiver on 127.0.0.1: every request as (path, headers, body)."""
    got = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            got.append((self.path, dict(self.headers), body))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    httpd.got = got
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def make_rule(page, server, **fields):
    body = {"name": unique("Rule "), "kind": "metric", "severity": "critical",
            "condition": {"metric": "cpu_percent", "op": ">=", "threshold": 0, "for_seconds": 0}, **fields}
    res = api(page, server, "POST", "/api/alerts/rules", body)
    assert res.status == 201, res.text()
    return res.json()["rule"]


def delete_rule(page, server, rule):
    assert api(page, server, "DELETE", f"/api/alerts/rules/{rule['id']}").status == 200


def firing_of(page, server, rule):
    return [a for a in api(page, server, "GET", "/api/alerts").json()["firing"] if a["rule_id"] == rule["id"]]


def test_channel_editor_send_test_shows_the_result_in_words(server, browser, receiver):
    with open_page(browser, DESKTOP) as (page, seen):
        api_sign_in(page, server)
        types = api(page, server, "GET", "/api/alerts/channels").json()["types"]
        page.goto(url(server, "/alerts"))
        expect(heading(page)).to_have_text("Alerts")
        expect(main_nav(page).get_by_role("link", name="Alerts", exact=True)).to_have_attribute("aria-current", "page")
        if not types["apprise"]["available"]:
            # Apprise shown unavailable, with the server's reason.
            expect(page.locator("[data-unavailable]")).to_contain_text(types["apprise"]["reason"])

        page.get_by_role("button", name="New channel").click()
        dialog = page.get_by_role("dialog", name="New channel")
        name = unique("Hook ")
        dialog.get_by_label("Name", exact=True).fill(name)
        expect(dialog.get_by_label("Preset")).to_have_value("generic")
        if not types["apprise"]["available"]:
            expect(dialog.locator('option[value="apprise"]')).to_be_disabled()
            expect(dialog.locator("[data-type-reason]")).to_contain_text(types["apprise"]["reason"])
        # Each type its own fields: email's SMTP fields, then back to a webhook.
        dialog.get_by_label("Type").select_option("email")
        expect(dialog.get_by_label("SMTP server")).to_be_visible()
        expect(dialog.get_by_label("Port")).to_have_attribute("placeholder", "587")
        dialog.get_by_label("Type").select_option("webhook")
        expect(dialog.get_by_label("SMTP server")).to_have_count(0)
        # A bad URL: the server's words under the URL field, nothing saved.
        dialog.get_by_label("URL", exact=True).fill("not a url")
        dialog.get_by_role("button", name="Create channel").click()
        url_field = dialog.get_by_label("URL", exact=True)
        expect(url_field).to_have_attribute("aria-invalid", "true")
        expect(dialog.locator(".field-error")).to_contain_text("http:// or https://")
        hook = f"http://127.0.0.1:{receiver.server_address[1]}/hook"
        url_field.fill(hook)
        expect(url_field).not_to_have_attribute("aria-invalid", "true")
        dialog.get_by_label("Signing secret").fill("s3cret-for-the-test")
        dialog.get_by_role("button", name="Create channel").click()
        expect(dialog).to_be_hidden()

        row = page.locator(f'.alert-channel[data-channel="{name}"]')
        expect(row).to_contain_text("Webhook · Generic JSON")
        row.get_by_role("button", name="Send test").click()
        result = row.locator("[data-test-result]")
        port = receiver.server_address[1]
        expect(result).to_contain_text(f"Delivered: 127.0.0.1:{port} answered HTTP 200")
        expect(result).to_have_attribute("data-ok", "true")
        path, headers, body = receiver.got[-1]
        assert path == "/hook" and json.loads(body)["alert"] == "Toru test notification"
        assert headers.get("X-Toru-Signature", "").startswith("sha256=")
        # The attempt is in the recent deliveries.
        expect(page.locator(".alert-deliveries-table tbody tr").first).to_contain_text(name)
        expect(page.locator(".alert-deliveries-table tbody tr").first).to_contain_text("Delivered")

        # The secret is shown as set, never its value; keeping it keeps it.
        row.get_by_role("button", name=f"Edit {name}").click()
        edit = page.get_by_role("dialog", name=f"Edit {name}")
        expect(edit.locator('[data-secret="secret"] [data-secret-state]')).to_have_text("Set")
        expect(edit.locator('[data-secret="token"] [data-secret-state]')).to_be_hidden()
        assert "s3cret" not in edit.inner_text()
        expect(edit.get_by_label("URL", exact=True)).to_have_value(hook)
        edit.get_by_role("button", name="Save changes").click()
        expect(edit).to_be_hidden()
        channel = next(c for c in api(page, server, "GET", "/api/alerts/channels").json()["channels"] if c["name"] == name)
        assert channel["config"]["secret"] == {"set": True}
        assert unexpected(seen, FAILED_RESOURCE) == []


def test_rule_editor_metric_picker_and_field_errors(server, browser):
    with open_page(browser, DESKTOP) as (page, seen):
        api_sign_in(page, server)
        page.goto(url(server, "/alerts"))
        page.get_by_role("button", name="New rule").click()
        dialog = page.get_by_role("dialog", name="New alert rule")
        expect(dialog.get_by_label("Kind")).to_have_value("metric")
        dialog.get_by_label("Metric").select_option("memory_percent")
        # The current value from the catalogue, next to the threshold.
        expect(dialog.locator("[data-current]")).to_have_text(re.compile(r"^Now: \d+(\.\d)?%$"))
        # A metric per mount offers today's mounts.
        dialog.get_by_label("Metric").select_option("disk_percent")
        expect(dialog.get_by_label("Mount")).to_be_visible()
        expect(dialog.get_by_label("Mount").locator('option[value="/"]')).to_have_count(1)
        dialog.get_by_label("Mount").select_option("/")
        expect(dialog.locator("[data-current]")).to_have_text(re.compile(r"^Now: \d+(\.\d)?% \(mount /\)$"))
        dialog.get_by_label("Metric").select_option("memory_percent")
        expect(dialog.get_by_label("Mount")).to_be_hidden()

        # No name, no threshold: the server's 400 names both fields, shown at them.
        with page.expect_response(lambda r: r.url.endswith("/api/alerts/rules") and r.request.method == "POST") as sent:
            dialog.get_by_role("button", name="Create rule").click()
        assert sent.value.status == 400
        fields = sent.value.json()["fields"]
        assert {"name", "condition.threshold"} <= set(fields)
        name_input = dialog.get_by_label("Name", exact=True)
        threshold = dialog.get_by_label("Threshold")
        expect(name_input).to_have_attribute("aria-invalid", "true")
        expect(threshold).to_have_attribute("aria-invalid", "true")
        for input_, key in ((threshold, "condition.threshold"), (name_input, "name")):
            message = dialog.locator(f"#{input_.get_attribute('id')}-server-error")
            expect(message).to_have_text(fields[key])
            expect(input_).to_have_attribute("aria-describedby", re.compile(r"server-error"))
        expect(dialog.locator(".form-error")).to_contain_text("correct the fields")

        name = unique("Memory ")
        name_input.fill(name)
        dialog.get_by_label("When it is").select_option(">")
        threshold.fill("1000")  # never fires
        dialog.get_by_label("For (seconds)", exact=True).fill("30")
        dialog.get_by_label("Severity").select_option("critical")
        dialog.get_by_role("button", name="Create rule").click()
        expect(dialog).to_be_hidden()
        row = page.locator(f'tr.alert-rule-row[data-rule="{name}"]')
        expect(row.locator("[data-condition]")).to_have_text("Metric threshold: Memory used above 1000.0% for 30 s")
        rule = next(r for r in api(page, server, "GET", "/api/alerts/rules").json()["rules"] if r["name"] == name)
        assert rule["condition"] == {"metric": "memory_percent", "op": ">", "threshold": 1000, "for_seconds": 30,
                                     "labels": {}}
        assert rule["severity"] == "critical"
        delete_rule(page, server, rule)
        assert unexpected(seen, FAILED_RESOURCE) == []


def test_critical_alert_banner_sidebar_count_and_silence(server, browser):
    with open_page(browser, DESKTOP) as (page, seen):
        api_sign_in(page, server)
        page.goto(url(server, "/monitor"))
        banner = page.locator(".alert-banner")
        count = main_nav(page).locator("[data-alert-count]")
        expect(heading(page)).to_have_text("System Monitor")
        expect(banner).to_be_hidden()
        expect(count).to_be_hidden()

        rule = make_rule(page, server)
        # Fires on a real sample; the push brings the banner and the count to this page.
        expect(banner).to_be_visible(timeout=FIRE_WAIT)
        expect(banner).to_contain_text(rule["name"])
        expect(count).to_have_text("1")
        expect(heading(page)).to_have_text("System Monitor")

        banner.get_by_role("link", name="See alerts").click()
        expect(heading(page)).to_have_text("Alerts")
        item = page.locator(f'.alert-item[data-rule="{rule["name"]}"]')
        expect(item).to_have_attribute("data-severity", "critical")
        expect(item.locator("[data-value]")).to_have_text(re.compile(r"^\d+(\.\d)?%$"))
        expect(item).to_contain_text("Firing since")

        item.get_by_role("button", name="Silence").click()
        page.get_by_role("menuitem", name="For 1 hour").click()
        expect(item.locator("[data-silenced]")).to_contain_text("Silenced")
        silenced = firing_of(page, server, rule)[0]["silenced_until"]
        assert silenced is not None
        # Silenced: no banner, still counted as firing.
        expect(banner).to_be_hidden()
        expect(count).to_have_text("1")

        # The rule goes: its alert ends quietly, into the history.
        delete_rule(page, server, rule)
        expect(item).to_have_count(0)
        expect(count).to_be_hidden()
        entry = page.locator('[data-history] li[data-status="resolved"]', has_text=rule["name"])
        expect(entry).to_contain_text("rule deleted")
        assert unexpected(seen) == []


def test_client_sees_alerts_but_no_editors(server, browser):
    username = unique("client")
    with open_page(browser, DESKTOP) as (admin, _):
        api_sign_in(admin, server)
        create_user(admin, server, username)
        rule = make_rule(admin, server)
        wait_for(lambda: firing_of(admin, server, rule), timeout=FIRE_WAIT / 1000, message="the rule to fire")
        try:
            with open_page(browser, DESKTOP) as (page, seen):
                api_sign_in(page, server, username, USER_PASSWORD)
                page.goto(url(server, "/"))
                expect(page.locator(".alert-banner")).to_contain_text(rule["name"])
                main_nav(page).get_by_role("link", name="Alerts", exact=True).click()
                expect(heading(page)).to_have_text("Alerts")
                item = page.locator(f'.alert-item[data-rule="{rule["name"]}"]')
                expect(item).to_be_visible()
                expect(item.get_by_role("button", name="Silence")).to_have_count(0)
                expect(page.locator("[data-editor]")).to_have_count(0)
                expect(page.get_by_role("button", name="New rule")).to_have_count(0)
                expect(page.get_by_role("button", name="New channel")).to_have_count(0)
                expect(page.locator("[data-history]")).to_be_visible()
                assert unexpected(seen) == []
        finally:
            delete_rule(admin, server, rule)
