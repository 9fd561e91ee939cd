"""The Schedules page in a real browser against a real server: the editor's
live preview (as typed, stale answers dropped, the server's error in words
under the cron field and again on Save), the list (description, next run,
action, last outcome linking to its History entry, the enable switch), the
dashboard's card, History's trigger filter and a skipped run's reason, and
what a client sees. Scheduled runs are real: a six-field expression runs
every two seconds; waits are Playwright expectations, never sleeps. Fixtures
`server` and `browser` come from tests/conftest.py."""

import re
from urllib.parse import quote

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

from e2e_support import (DESKTOP, FAILED_RESOURCE, PHONE, USER_PASSWORD, api, api_sign_in, create_user,
                         expect_no_horizontal_scroll, heading, main_nav, open_page, unexpected, unique, url)
from helpers import wait_for, write_script

EVERY_2_S = "*/2 * * * * *"
RUN_WAIT = 20_000  # ms: a two-second schedule's first run, reported over the WebSocket


def make_action(page, server, body="echo scheduled", arguments=None):
    """A quick action running a fresh script; returns the action."""
    script = unique("sched") + ".sh"
    write_script(server, script, f"#!/bin/sh\n{body}\n")
    payload = {"name": unique("Action "), "script": script}
    if arguments:
        payload["arguments"] = arguments
    res = api(page, server, "POST", "/api/quick-actions", payload)
    assert res.status == 201, res.text()
    return res.json()["quick_action"]


def make_schedule(page, server, action, cron=EVERY_2_S, **fields):
    res = api(page, server, "POST", "/api/schedules",
              {"name": unique("Schedule "), "quick_action_id": action["id"], "cron": cron, **fields})
    assert res.status == 201, res.text()
    return res.json()["schedule"]


def preview(page, server, cron):
    """What the server's preview says about `cron` (status, body)."""
    res = api(page, server, "GET", f"/api/schedules/preview?cron={quote(cron)}")
    return res.status, res.json()


def scheduled_tasks(page, server, schedule_id, status=None):
    query = f"/api/history?schedule_id={schedule_id}&page_size=50" + (f"&status={status}" if status else "")
    res = api(page, server, "GET", query)
    assert res.status == 200, res.text()
    return res.json()["tasks"]


def open_editor(page):
    page.get_by_role("button", name="New schedule").first.click()
    return page.get_by_role("dialog", name="New schedule")


def row(page, name):
    return page.locator(f'tr.schedule-row[data-name="{name}"]')


def test_editor_previews_as_you_type_and_saves(server, browser):
    with open_page(browser, DESKTOP) as (page, seen):
        api_sign_in(page, server)
        action = make_action(page, server, arguments=[
            {"name": "target", "label": "Target", "type": "text", "default": "s3"},
            {"name": "token", "label": "Token", "type": "password"}])
        default_zone = api(page, server, "GET", "/api/schedules").json()["default_timezone"]
        page.goto(url(server, "/schedules"))
        expect(heading(page)).to_have_text("Schedules")
        expect(main_nav(page).get_by_role("link", name="Schedules")).to_have_attribute("aria-current", "page")
        expect(page.locator(".schedules-empty")).to_contain_text("No schedules yet.")

        dialog = open_editor(page)
        name = unique("Nightly ")
        dialog.get_by_label("Name", exact=True).fill(name)
        expect(dialog.get_by_label("Quick action")).to_be_enabled()
        dialog.get_by_label("Quick action").select_option(action["id"])
        # The action's argument form, with its default; a password cannot be kept.
        expect(dialog.get_by_label("Target")).to_have_value("s3")
        expect(dialog.locator("[data-password-arguments]")).to_contain_text("Token")
        expect(dialog.get_by_label("Time zone")).to_have_value(default_zone)

        # Typed key by key, the preview follows: the server's words and five runs.
        cron = dialog.get_by_label("Cron expression")
        described = dialog.locator("[data-preview-description]")
        runs = dialog.locator("[data-preview-runs] li")
        cron.press_sequentially("0 3 * * *")
        _, daily = preview(page, server, "0 3 * * *")
        expect(described).to_have_text(daily["description"])
        expect(runs).to_have_count(5)
        expect(runs.first).to_contain_text("03:00")
        expect(runs.first.locator("time")).to_have_attribute("datetime", daily["next"][0])
        expect(dialog.locator("[data-preview]")).to_contain_text(f"Times in {default_zone}.")

        # A slow answer about an older expression is dropped (its request
        # aborted) when a newer one is typed.
        held = []
        page.route(re.compile(r"/api/schedules/preview\?cron=0\+4\+"), lambda route: held.append(route))
        cron.fill("0 4 * * *")
        wait_for(lambda: held or page.wait_for_timeout(25), timeout=5, message="the held preview request")
        with page.expect_event("requestfailed", lambda r: "cron=0+4+" in r.url):
            dialog.get_by_role("button", name="Hourly").click()
        _, hourly = preview(page, server, "0 * * * *")
        expect(cron).to_have_value("0 * * * *")
        expect(described).to_have_text(hourly["description"])
        try:
            held[0].continue_()
        except PlaywrightError:
            pass  # the browser gave up on it already
        page.unroute(re.compile(r"/api/schedules/preview\?cron=0\+4\+"))

        # A bad expression: the server's words under the field, as typed and on Save.
        cron.fill("0 24 * * *")
        status, bad = preview(page, server, "0 24 * * *")
        assert status == 400 and "24" in bad["error"], bad
        expect(dialog.locator("[data-cron-error]")).to_have_text(bad["error"])
        expect(cron).to_have_attribute("aria-invalid", "true")
        expect(runs).to_have_count(0)
        with page.expect_response(lambda r: r.url.endswith("/api/schedules") and r.request.method == "POST") as refused:
            dialog.get_by_role("button", name="Create schedule").click()
        assert refused.value.status == 400
        message = refused.value.json()["fields"]["cron"]
        expect(dialog.locator(".field:has(input[name=cron]) .field-error:visible")).to_have_text(message)
        expect(dialog).to_be_visible()

        # Fixed, it saves: everything the form says is sent.
        cron.fill("0 3 * * *")
        expect(dialog.locator(".field:has(input[name=cron]) .field-error:visible")).to_have_count(0)
        expect(described).to_have_text(daily["description"])
        with page.expect_request(lambda r: r.url.endswith("/api/schedules") and r.method == "POST") as made:
            dialog.get_by_role("button", name="Create schedule").click()
        assert made.value.post_data_json == {
            "name": name, "quick_action_id": action["id"], "cron": "0 3 * * *", "timezone": default_zone,
            "arguments": {"target": "s3"}, "enabled": True, "overlap": "skip", "catch_up": "skip"}
        expect(dialog).to_have_count(0)
        expect(page.locator(".toast-success", has_text=f"Created the schedule {name}.")).to_be_visible()

        # The list: what it runs, when in words, and how soon it next runs.
        saved = next(s for s in api(page, server, "GET", "/api/schedules").json()["schedules"] if s["name"] == name)
        line = row(page, name)
        expect(line.locator("[data-runs]")).to_have_text(f"Runs {action['name']}")
        expect(line.locator("[data-description]")).to_have_text(saved["description"])
        expect(line.locator("[data-cron]")).to_have_text("0 3 * * *")
        nxt = line.locator("[data-next-run]")
        expect(nxt).to_have_attribute("data-next-run", saved["next_runs"][0])
        expect(nxt.locator("time")).to_have_text(re.compile(r"^in \d+ (min|h)$"))
        expect(nxt.locator("time")).to_have_attribute("title", saved["next_runs"][0])
        expect(line.locator("[data-last-run]")).to_have_count(0)
        expect(line).to_contain_text("Never")
        expect(line.get_by_role("switch", name=f"{name} enabled")).to_be_checked()

        # Edit sends what changed only.
        line.get_by_role("button", name=f"Edit {name}").click()
        dialog = page.get_by_role("dialog", name="Edit schedule")
        expect(dialog.get_by_label("Target")).to_have_value("s3")
        expect(dialog.locator("[data-preview-runs] li")).to_have_count(5)
        dialog.get_by_label("Target").fill("tape")
        dialog.get_by_label("When a run is still going").select_option("queue")
        with page.expect_request(lambda r: "/api/schedules/" in r.url and r.method == "PUT") as changed:
            dialog.get_by_role("button", name="Save changes").click()
        assert changed.value.post_data_json == {"overlap": "queue", "arguments": {"target": "tape"}}
        expect(dialog).to_have_count(0)
        assert unexpected(seen, FAILED_RESOURCE) == []
        assert page.evaluate("window.__cspViolations") == []

    # The list and the editor fit a phone.
    with open_page(browser, PHONE) as (page, seen):
        api_sign_in(page, server)
        page.goto(url(server, "/schedules"))
        expect(row(page, name)).to_be_visible()
        expect_no_horizontal_scroll(page, 390)
        row(page, name).get_by_role("button", name=f"Edit {name}").click()
        dialog = page.get_by_role("dialog", name="Edit schedule")
        expect(dialog.locator("[data-preview-runs] li")).to_have_count(5)
        assert dialog.evaluate("d => d.scrollWidth <= d.clientWidth")
        assert unexpected(seen) == []


def test_a_run_links_to_its_history_entry_and_the_switch_stops_it(server, browser):
    with open_page(browser, DESKTOP) as (page, seen):
        api_sign_in(page, server)
        action = make_action(page, server)
        page.goto(url(server, "/schedules"))
        expect(heading(page)).to_have_text("Schedules")
        dialog = open_editor(page)
        name = unique("Often ")
        dialog.get_by_label("Name", exact=True).fill(name)
        expect(dialog.get_by_label("Quick action")).to_be_enabled()
        dialog.get_by_label("Quick action").select_option(action["id"])
        expect(dialog.locator("[data-no-arguments]")).to_be_visible()
        dialog.get_by_label("Cron expression").fill(EVERY_2_S)
        expect(dialog.locator("[data-preview-runs] li")).to_have_count(5)
        dialog.get_by_role("button", name="Create schedule").click()
        expect(dialog).to_have_count(0)

        # The server pushes each run: the last outcome shows without a reload.
        line = row(page, name)
        expect(line.locator("[data-next-run]")).to_have_count(1)
        last = line.locator("a[data-last-run]")
        expect(last.locator(".task-status")).to_be_visible(timeout=RUN_WAIT)
        task_id = last.get_attribute("data-last-run")
        expect(last).to_have_attribute("href", f"/history?highlight_task={task_id}")

        # The dashboard's card lists its next run, once (it runs every 2 s).
        schedule_id = line.get_attribute("data-schedule-id")
        page.goto(url(server, "/"))
        card = page.locator('[data-card="schedules"]')
        ours = card.locator(f'[data-part="next"] li[data-schedule-id="{schedule_id}"]')
        expect(ours).to_have_count(1)
        expect(ours).to_contain_text(name)

        # Its History entry says which schedule started it.
        page.goto(url(server, "/schedules"))
        line.locator("a[data-last-run]").click()
        expect(page).to_have_url(re.compile(r"/history\?highlight_task="))
        opened = page.locator("tr.task-row.is-highlighted")
        expect(opened).to_have_attribute("data-trigger", "schedule")
        expect(opened.locator(".script-name")).to_contain_text(action["name"])
        expect(opened).to_contain_text(f"Schedule · {name}")
        expect(page.locator(".task-detail [data-schedule-name]")).to_have_text(name)

        # Switched off: no next run, and the server agrees.
        page.go_back()
        line = row(page, name)
        switch = line.get_by_role("switch", name=f"{name} enabled")
        expect(switch).to_be_checked()
        switch.click()
        expect(switch).not_to_be_checked()
        expect(line.locator("[data-next-run]")).to_have_count(0)
        expect(line).to_contain_text("Off")
        schedule = next(s for s in api(page, server, "GET", "/api/schedules").json()["schedules"] if s["name"] == name)
        assert (schedule["enabled"], schedule["next_runs"]) == (False, [])
        page.reload()
        expect(row(page, name).get_by_role("switch", name=f"{name} enabled")).not_to_be_checked()
        assert unexpected(seen, FAILED_RESOURCE) == []


def test_history_filters_by_trigger_and_says_why_a_run_was_skipped(server, browser):
    with open_page(browser, DESKTOP) as (page, seen):
        api_sign_in(page, server)
        # A run that outlasts the two seconds to the next: that one is skipped.
        slow = make_action(page, server, body="sleep 3")
        schedule = make_schedule(page, server, slow, overlap="skip")
        wait_for(lambda: scheduled_tasks(page, server, schedule["id"], "skipped"), timeout=15,
                 message="a skipped run")
        assert api(page, server, "PUT", f"/api/schedules/{schedule['id']}", {"enabled": False}).status == 200
        skipped = scheduled_tasks(page, server, schedule["id"], "skipped")[0]
        # And a run by hand, which the filter leaves out.
        res = api(page, server, "POST", f"/api/quick-actions/{make_action(page, server)['id']}/execute", {})
        assert res.status == 201, res.text()
        by_hand = res.json()["task_id"]

        page.goto(url(server, "/history"))
        expect(page.locator(f'tr.task-row[data-task-id="{by_hand}"]')).to_be_visible()
        page.get_by_label("Trigger").select_option("schedule")
        expect(page).to_have_url(re.compile(r"[?&]trigger=schedule\b"))
        rows = page.locator("tr.task-row")
        expect(page.locator(f'tr.task-row[data-task-id="{by_hand}"]')).to_have_count(0)
        expect(rows.first).to_be_visible()
        assert set(rows.evaluate_all("rs => rs.map(r => r.dataset.trigger)")) == {"schedule"}

        # Skipped: the status filter offers it, and the row says why.
        page.get_by_label("Status").select_option("skipped")
        expect(page).to_have_url(re.compile(r"status=skipped"))
        entry = page.locator(f'tr.task-row[data-task-id="{skipped["id"]}"]')
        expect(entry.locator(".task-status")).to_have_text("Skipped")
        expect(entry.locator("[data-exit-text]")).to_have_text(skipped["exit_text"])
        assert skipped["reason"] and skipped["reason"] in skipped["exit_text"]
        expect(entry).to_contain_text(f"Schedule · {schedule['name']}")

        # The address keeps the filters: a reload shows the same list.
        page.reload()
        expect(page.get_by_label("Trigger")).to_have_value("schedule")
        expect(page.get_by_label("Status")).to_have_value("skipped")
        expect(page.locator(f'tr.task-row[data-task-id="{skipped["id"]}"]')).to_be_visible()

        # The dashboard lists it among the recent failures, linking to it.
        page.goto(url(server, "/"))
        failure = page.locator(f'[data-card="schedules"] [data-part="failures"] li[data-task-id="{skipped["id"]}"]')
        expect(failure).to_contain_text(skipped["exit_text"])
        expect(failure.locator("a")).to_have_attribute("href", f"/history?highlight_task={skipped['id']}")
        assert unexpected(seen, FAILED_RESOURCE) == []


def test_clients_have_no_schedules(server, browser):
    username = unique("client")
    with open_page(browser, DESKTOP) as (admin, _):
        api_sign_in(admin, server)
        create_user(admin, server, username)

    with open_page(browser, DESKTOP) as (page, seen):
        api_sign_in(page, server, username, USER_PASSWORD)
        page.goto(url(server, "/"))
        expect(heading(page)).to_have_text("Dashboard")
        expect(main_nav(page).get_by_role("link", name="History")).to_be_visible()
        expect(main_nav(page).get_by_role("link", name="Schedules")).to_be_hidden()
        expect(page.locator('[data-card="recent-tasks"]')).to_be_visible()
        expect(page.locator('[data-card="schedules"]')).to_have_count(0)
        page.goto(url(server, "/schedules"))
        expect(heading(page)).to_have_text("Not available")
        page.goto(url(server, "/history"))
        expect(page.get_by_label("Status")).to_be_visible()
        expect(page.get_by_label("Trigger")).to_have_count(0)
        assert unexpected(seen) == []
        assert seen["bad_responses"] == []
