"""Quick actions, recent tasks and the scripts settings in a real browser
against a real server: an admin builds quick actions in Settings (add with
server-side validation, reorder, edit, delete), a client runs one from the
dashboard, watches it in the output drawer and follows it to History, empty states, and
Settings → Scripts (a refused change changes nothing; a good one persists).
Scripts are real files in the server's scripts directory. Fixtures
`server`, `fresh_server` and `browser` come from tests/conftest.py."""

import re
import stat

from playwright.sync_api import expect

from e2e_support import (DESKTOP, FAILED_RESOURCE, PHONE, USER_PASSWORD, api, api_sign_in, create_user,
                         expect_no_horizontal_scroll, heading, open_page, unexpected, url, expect_terminal,
                         unique)
from helpers import wait_for






def write_script(server, name, body, description="A test script"):
    """An executable script in the server's scripts directory."""
    path = server.data_dir / "scripts" / name
    path.write_text(f"#!/bin/sh\n# {description}\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def quick_actions(page, server):
    res = api(page, server, "GET", "/api/quick-actions")
    assert res.status == 200, res.text()
    return res.json()["quick_actions"]


def settings(page, server):
    res = api(page, server, "GET", "/api/settings")
    assert res.status == 200, res.text()
    return res.json()["settings"]


def admin_row(page, name):
    return page.locator(f'.qa-admin-row[data-name="{name}"]')


def admin_names(page):
    return page.locator(".qa-admin-row .qa-admin-name")


def toast_said(page, text, kind="success"):
    """Checks a toast, then dismisses it: toasts sit over the bottom right
    corner, where row buttons may be."""
    toast = page.locator(f".toast-{kind}", has_text=text)
    expect(toast).to_be_visible()
    toast.get_by_role("button", name="Dismiss notification").click()
    expect(toast).to_have_count(0)


class HeldRequests:
    """Holds matching requests until release(): lets a test see what the
    page shows while a request is in flight."""

    def __init__(self, page, pattern):
        self.page, self.pattern, self.held = page, pattern, []
        page.route(pattern, lambda route: self.held.append(route))

    def release(self):
        # Playwright delivers the route while the test waits in a Playwright
        # call, so wait with one (a time.sleep would never see it).
        for _ in range(200):
            if self.held:
                break
            self.page.wait_for_timeout(25)
        assert self.held, "the request was never made"
        while self.held:
            self.held.pop().continue_()
        self.page.unroute(self.pattern)


def test_admin_builds_quick_actions_in_settings(server, browser):
    first, second = unique("backup") + ".sh", unique("cleanup") + ".sh"
    write_script(server, first, "echo backing up")
    write_script(server, second, "echo cleaning up")
    # The module's server is shared: names make this test's rows its own.
    name_a, name_b = unique("Backup "), unique("Clean ")

    with open_page(browser, DESKTOP) as (page, seen):
        api_sign_in(page, server)
        page.goto(url(server, "/settings/quick-actions"))
        expect(heading(page)).to_have_text("Settings")
        expect(page.get_by_role("link", name="Quick actions")).to_have_attribute("aria-current", "page")
        expect(page.get_by_role("heading", name=re.compile("^Quick actions"))).to_be_visible()

        # Add: the script select lists the scripts directory's files.
        page.get_by_role("button", name="Add quick action").click()
        dialog = page.get_by_role("dialog", name="Add quick action")
        script_select = dialog.get_by_label("Script", exact=True)
        expect(script_select).to_be_enabled()
        expect(script_select.locator(f'option[value="{first}"]')).to_have_count(1)
        expect(script_select.locator('option[value="hello.sh"]')).to_have_count(1)
        # A missing name is said, and the message goes as soon as a name is typed.
        dialog.get_by_role("button", name="Add quick action").click()
        expect(dialog.locator(".form-error")).to_have_text("Enter a name.")
        dialog.get_by_label("Name", exact=True).fill(name_a)
        expect(dialog.locator(".form-error")).to_be_hidden()
        script_select.select_option(first)
        dialog.get_by_text("Choose an icon").click()
        dialog.get_by_role("button", name="database", exact=True).click()
        expect(dialog.get_by_label("Icon")).to_have_value("database")
        dialog.get_by_label("Description").fill("Copies the data away")
        dialog.get_by_label("Timeout in seconds").fill("30")
        with page.expect_request(lambda r: r.url.endswith("/api/quick-actions") and r.method == "POST") as made:
            dialog.get_by_role("button", name="Add quick action").click()
        assert made.value.post_data_json == {"name": name_a, "script": first, "icon": "database",
                                             "description": "Copies the data away", "timeout": 30}
        expect(dialog).to_have_count(0)
        toast_said(page, f"Added the quick action {name_a}.")
        row_a = admin_row(page, name_a)
        expect(row_a).to_contain_text(first)
        expect(row_a).to_contain_text("Copies the data away")
        expect(row_a.locator(".qa-icon svg")).to_have_count(1)

        # The server's validation reaches the form: the script vanished
        # from disk after the form listed it.
        page.get_by_role("button", name="Add quick action").click()
        dialog = page.get_by_role("dialog", name="Add quick action")
        dialog.get_by_label("Name", exact=True).fill(name_b)
        expect(dialog.get_by_label("Script", exact=True)).to_be_enabled()
        dialog.get_by_label("Script", exact=True).select_option(second)
        dialog.get_by_label("Icon").fill("🧹")
        gone = server.data_dir / "scripts" / second
        kept = gone.read_text()
        gone.unlink()
        dialog.get_by_role("button", name="Add quick action").click()
        expect(dialog.locator(".form-error")).to_contain_text(second)
        expect(dialog.get_by_label("Script", exact=True)).to_have_attribute("aria-invalid", "true")
        assert [a["name"] for a in quick_actions(page, server)].count(name_b) == 0
        write_script(server, second, kept.split("\n", 2)[2])
        dialog.get_by_role("button", name="Add quick action").click()
        expect(dialog).to_have_count(0)
        toast_said(page, f"Added the quick action {name_b}.")
        expect(admin_row(page, name_b).locator(".qa-icon")).to_have_text("🧹")

        # New ones go last; move the second up, with progress while the
        # server answers.
        names = [a["name"] for a in quick_actions(page, server)]
        assert names[-2:] == [name_a, name_b]
        held = HeldRequests(page, "**/api/quick-actions/reorder")
        up = page.get_by_role("button", name=f"Move {name_b} up")
        up.click()
        expect(up).to_have_attribute("aria-busy", "true")
        expect(page.get_by_role("button", name=f"Move {name_a} down")).to_be_disabled()
        held.release()
        expect(page.locator(".toast-success", has_text=f"Moved {name_b} up.")).to_be_visible()
        # Focus stays on the moved row, ready to move it again.
        assert page.evaluate("document.activeElement.closest('.qa-admin-row').dataset.name") == name_b
        toast_said(page, f"Moved {name_b} up.")
        names = [a["name"] for a in quick_actions(page, server)]
        assert names[-2:] == [name_b, name_a]
        expect(admin_names(page)).to_have_text(names)
        page.get_by_role("button", name=f"Move {name_b} down").click()
        toast_said(page, f"Moved {name_b} down.")
        names = [a["name"] for a in quick_actions(page, server)]
        assert names[-2:] == [name_a, name_b]
        expect(admin_names(page)).to_have_text(names)
        expect(page.get_by_role("button", name=f"Move {name_b} down")).to_be_disabled()

        # Edit sends only what changed; an emptied timeout becomes null.
        renamed = name_a + " all"
        page.get_by_role("button", name=f"Edit {name_a}").click()
        dialog = page.get_by_role("dialog", name="Edit quick action")
        expect(dialog.get_by_label("Name", exact=True)).to_have_value(name_a)
        expect(dialog.get_by_label("Script", exact=True)).to_have_value(first)
        expect(dialog.get_by_label("Timeout in seconds")).to_have_value("30")
        dialog.get_by_label("Name", exact=True).fill(renamed)
        dialog.get_by_label("Timeout in seconds").fill("")
        with page.expect_request(lambda r: "/api/quick-actions/" in r.url and r.method == "PUT") as changed:
            dialog.get_by_role("button", name="Save changes").click()
        assert changed.value.post_data_json == {"name": renamed, "timeout": None}
        expect(dialog).to_have_count(0)
        toast_said(page, f"Saved {renamed}.")
        expect(admin_row(page, renamed)).to_be_visible()
        saved = next(a for a in quick_actions(page, server) if a["name"] == renamed)
        assert (saved["script"], saved["icon"], saved["timeout"]) == (first, "database", None)

        # Delete, behind a confirmation that can be cancelled.
        page.get_by_role("button", name=f"Delete {name_b}").click()
        confirm = page.get_by_role("dialog", name="Delete quick action")
        expect(confirm).to_contain_text(name_b)
        expect(confirm).not_to_contain_text("null")  # a dialog without a description once printed one
        confirm.get_by_role("button", name="Cancel").click()
        expect(confirm).to_have_count(0)
        expect(admin_row(page, name_b)).to_be_visible()
        page.get_by_role("button", name=f"Delete {name_b}").click()
        page.get_by_role("dialog", name="Delete quick action").get_by_role("button", name="Delete").click()
        toast_said(page, f"Deleted the quick action {name_b}.")
        expect(admin_row(page, name_b)).to_have_count(0)
        assert name_b not in [a["name"] for a in quick_actions(page, server)]
        expect(admin_row(page, renamed)).to_be_visible()

        assert page.evaluate("window.__cspViolations") == []
        assert unexpected(seen, FAILED_RESOURCE) == []
        # The refused add, and nothing else.
        assert [re.sub(r"^4\d\d ", "4xx ", r) for r in seen["bad_responses"]] == [
            f"4xx {url(server, '/api/quick-actions')}"]


def test_client_runs_a_quick_action_from_the_dashboard(server, browser):
    username = unique("client")
    script = unique("greet") + ".sh"
    broken = unique("broken") + ".sh"
    write_script(server, script, 'echo "hello $TORU_USER"')
    write_script(server, broken, "echo never")
    name, broken_name = unique("Greet "), unique("Broken ")
    with open_page(browser, DESKTOP) as (admin, _):
        api_sign_in(admin, server)
        create_user(admin, server, username)
        for body in ({"name": name, "script": script, "icon": "rocket", "description": "Says hello to you"},
                     {"name": broken_name, "script": broken, "icon": "🧯"}):
            res = api(admin, server, "POST", "/api/quick-actions", body)
            assert res.status == 201, res.text()
    # The script goes away after the action was made: running it fails.
    (server.data_dir / "scripts" / broken).unlink()

    with open_page(browser, DESKTOP) as (page, seen):
        api_sign_in(page, server, username, USER_PASSWORD)
        page.goto(url(server, "/"))
        card = page.locator('[data-card="quick-actions"]')
        button = card.get_by_role("button", name=name, exact=True)
        expect(button).to_be_visible()
        expect(button).to_have_attribute("title", "Says hello to you")
        expect(button).to_contain_text("Says hello to you")
        expect(button.locator(".qa-icon svg")).to_have_count(1)
        expect(card.get_by_role("button", name=broken_name, exact=True).locator(".qa-icon")).to_have_text("🧯")
        # Clients get no link to settings they cannot open.
        expect(card.get_by_role("link", name="Manage")).to_have_count(0)
        expect(page.locator('[data-card="plugins"]').get_by_role("link", name="Manage")).to_have_count(0)

        # The button shows progress while the request is in flight.
        held = HeldRequests(page, "**/api/quick-actions/*/execute")
        with page.expect_response(lambda r: r.url.endswith("/execute")) as answered:
            button.click()
            expect(button).to_have_attribute("aria-busy", "true")
            expect(button).to_be_disabled()
            held.release()
        task_id = answered.value.json()["task_id"]
        expect(button).not_to_have_attribute("aria-busy", "true")
        # Its live output opens in a drawer, as the original did.
        drawer = page.locator(".dialog-drawer")
        expect(drawer).to_have_accessible_name(name)
        expect(drawer.locator(f'.drawer-body[data-task-id="{task_id}"]')).to_have_attribute(
            "data-status", "success", timeout=15000)
        expect_terminal(drawer, f"hello {username}")
        expect(drawer.locator("[data-exit-text]")).to_have_text("Exit code 0")
        link = drawer.get_by_role("link", name="History entry")
        expect(link).to_have_attribute("href", f"/history?highlight_task={task_id}")
        assert unexpected(seen) == []
        assert page.evaluate("window.__cspViolations") == []

        # Its link opens the task's History entry and closes the drawer
        # (History has its own tests: what it logs is not this test's business).
        link.click()
        expect(page).to_have_url(url(server, f"/history?highlight_task={task_id}"))
        expect(heading(page)).to_have_text("History")
        expect(drawer).to_have_count(0)
        seen["errors"].clear()
        seen["bad_responses"].clear()

        # The task is real: the client's own, and it succeeds.
        def finished():
            res = api(page, server, "GET", f"/api/history/{task_id}")
            assert res.status == 200, res.text()
            task = res.json()["task"]
            return task if task["status"] != "running" else None
        task = wait_for(finished, timeout=20, message="the quick action's task to end")
        assert (task["status"], task["started_by"], task["trigger"]) == ("success", username, "quick_action")
        assert f"hello {username}" in task["output"]

        # Recent tasks lists it, with its final status and a History link.
        page.goto(url(server, "/"))
        recent = page.locator('[data-card="recent-tasks"]')
        row = recent.locator(f'.task-row[data-task-id="{task_id}"]')
        # A client knows the action by its name, not by the script's file.
        expect(row.locator(".task-script")).to_have_text(name)
        expect(row).not_to_contain_text(script)
        expect(row.locator(".task-status")).to_have_attribute("data-status", "success", timeout=10000)
        expect(row.get_by_role("link")).to_have_attribute("href", f"/history?highlight_task={task_id}")
        expect(recent.get_by_role("link", name="All my tasks")).to_have_attribute("href", "/history")

        # A failure says what the server said.
        with page.expect_response(lambda r: r.url.endswith("/execute")) as failing:
            card.get_by_role("button", name=broken_name, exact=True).click()
        assert failing.value.status >= 400
        error = failing.value.json()["error"]
        expect(page.locator(".toast-error")).to_contain_text(f"{broken_name} could not start: {error}")
        assert unexpected(seen, FAILED_RESOURCE) == []
        assert page.evaluate("window.__cspViolations") == []

    # On a phone the buttons are full-size targets and nothing overflows.
    with open_page(browser, PHONE) as (page, seen):
        api_sign_in(page, server, username, USER_PASSWORD)
        page.goto(url(server, "/"))
        button = page.locator('[data-card="quick-actions"]').get_by_role("button", name=name, exact=True)
        expect(button).to_be_visible()
        box = button.bounding_box()
        assert box["height"] >= 44 and box["width"] >= 200, box
        expect(page.locator('[data-card="recent-tasks"] .task-row').first).to_be_visible()
        expect_no_horizontal_scroll(page, 390)
        assert unexpected(seen) == []


def test_empty_states(fresh_server, browser):
    server = fresh_server(env={"TRUST_PROXY": "1"}).start()
    username = unique("client")
    with open_page(browser, DESKTOP) as (page, seen):
        api_sign_in(page, server)
        create_user(page, server, username)
        page.goto(url(server, "/"))
        card = page.locator('[data-card="quick-actions"]')
        expect(card).to_contain_text("No quick actions yet.")
        card.get_by_role("link", name="Settings → Quick actions").click()
        expect(page).to_have_url(url(server, "/settings/quick-actions"))
        expect(page.locator(".qa-admin")).to_contain_text("No quick actions yet.")
        page.goto(url(server, "/"))
        expect(page.locator('[data-card="recent-tasks"]')).to_contain_text("No tasks yet.")
        assert unexpected(seen) == []

    with open_page(browser, DESKTOP) as (page, seen):
        api_sign_in(page, server, username, USER_PASSWORD)
        page.goto(url(server, "/"))
        card = page.locator('[data-card="quick-actions"]')
        expect(card).to_contain_text("No quick actions yet.")
        expect(card.get_by_role("link")).to_have_count(0)
        expect(page.locator('[data-card="recent-tasks"]')).to_contain_text("Tasks you start with a quick action")
        assert seen["bad_responses"] == []
        assert unexpected(seen) == []


def test_scripts_settings_typed_but_not_saved_ask_before_another_tab(server, browser):
    with open_page(browser, DESKTOP) as (page, seen):
        api_sign_in(page, server)
        page.goto(url(server, "/settings/scripts"))
        timeout = page.get_by_label("Task timeout")
        expect(timeout).to_be_visible()
        # Untouched (every kind of field as the server gave it): no question.
        page.locator('.tab[href="/settings/users"]').click()
        expect(page).to_have_url(url(server, "/settings/users"))
        expect(page.get_by_role("dialog")).to_have_count(0)

        page.go_back()
        expect(timeout).to_be_visible()
        timeout.fill("120")
        page.locator('.tab[href="/settings/users"]').click()
        ask = page.get_by_role("dialog", name="Leave this page?")
        ask.get_by_role("button", name="Stay").click()
        expect(page).to_have_url(url(server, "/settings/scripts"))
        expect(timeout).to_have_value("120")
        # "Undo changes" puts the saved values back: nothing left to lose.
        page.get_by_role("button", name="Undo changes").click()
        page.locator('.tab[href="/settings/users"]').click()
        expect(page).to_have_url(url(server, "/settings/users"))
        expect(ask).to_have_count(0)
        assert unexpected(seen) == []


def test_scripts_settings_refuse_bad_values_and_keep_good_ones(server, browser):
    with open_page(browser, DESKTOP) as (page, seen):
        api_sign_in(page, server)
        before = settings(page, server)
        page.goto(url(server, "/settings/scripts"))
        expect(page.locator('.tab[href="/settings/scripts"]')).to_have_attribute("aria-current", "page")
        directory = page.get_by_label("Scripts directory")
        expect(directory).to_have_value(before["scripts_dir"])
        expect(page.get_by_label("Stored output per task", exact=True)).to_have_value("1")
        expect(page.get_by_label("Stored output per task: unit")).to_have_value(str(1024 * 1024))
        expect(page.get_by_label("Task timeout")).to_have_value("")

        # Nothing changed: nothing is sent.
        page.get_by_role("button", name="Save").click()
        toast_said(page, "Nothing to save", kind="info")

        # A directory that does not exist is refused, and so is the other
        # change saved with it: all or nothing.
        missing = str(server.data_dir / "no-such-dir")
        directory.fill(missing)
        page.get_by_label("Keep history for").fill("30")
        with page.expect_request(lambda r: r.url.endswith("/api/settings") and r.method == "PUT") as sent:
            page.get_by_role("button", name="Save").click()
        assert sent.value.post_data_json == {"scripts_dir": missing, "retention_days": 30}
        field = page.locator('[data-setting="scripts_dir"]')
        expect(field.locator(".field-error")).to_contain_text("no-such-dir")
        expect(directory).to_have_attribute("aria-invalid", "true")
        expect(page.locator(".settings-form > .form-error")).to_contain_text("Not saved")
        assert settings(page, server) == before
        page.reload()
        expect(page.get_by_label("Scripts directory")).to_have_value(before["scripts_dir"])
        expect(page.get_by_label("Keep history for")).to_have_value(str(before["retention_days"]))

        # A good change: sizes in MiB go out as bytes; only changes are sent.
        other = server.data_dir / "more-scripts"
        other.mkdir(exist_ok=True)
        page.get_by_label("Scripts directory").fill(str(other))
        page.get_by_label("Stored output per task", exact=True).fill("2")
        page.get_by_label("Task timeout").fill("600")
        with page.expect_request(lambda r: r.url.endswith("/api/settings") and r.method == "PUT") as sent:
            page.get_by_role("button", name="Save").click()
        assert sent.value.post_data_json == {"scripts_dir": str(other), "task_timeout_seconds": 600,
                                             "output_cap_bytes": 2 * 1024 * 1024}
        toast_said(page, "3 settings saved.")
        page.reload()
        expect(page.get_by_label("Scripts directory")).to_have_value(str(other))
        expect(page.get_by_label("Stored output per task", exact=True)).to_have_value("2")
        expect(page.get_by_label("Task timeout")).to_have_value("600")
        after = settings(page, server)
        assert (after["output_cap_bytes"], after["task_timeout_seconds"]) == (2 * 1024 * 1024, 600)

        # Emptying the timeout means none (null); KiB work too.
        page.get_by_label("Task timeout").fill("")
        page.get_by_label("Scripts directory").fill(before["scripts_dir"])
        page.get_by_label("Stored output per task", exact=True).fill("512")
        page.get_by_label("Stored output per task: unit").select_option("KiB")
        expect(page.locator('[data-setting="output_cap_bytes"] .field-exact')).to_contain_text("524,288 bytes")
        page.get_by_role("button", name="Save").click()
        toast_said(page, "3 settings saved.")
        after = settings(page, server)
        assert (after["scripts_dir"], after["output_cap_bytes"], after["task_timeout_seconds"]) == (
            before["scripts_dir"], 512 * 1024, None)

        assert unexpected(seen, FAILED_RESOURCE) == []
        assert seen["bad_responses"] == [f"400 {url(server, '/api/settings')}"]
        assert page.evaluate("window.__cspViolations") == []


# ---- Actions with arguments, confirmation and grants (issue 17) ----

ARGS_SCRIPT = 'for a in "$@"; do printf "arg=[%s]\\n" "$a"; done; printf "token=[%s]\\n" "$TORU_ARG_TOKEN"'


def action_with_arguments(admin, server, client_id):
    """An action with one argument of most types, a confirmation, granted
    to one client; returns (action, its script name). The script prints
    its argv and the password's variable."""
    script, branches = unique("deploy") + ".sh", unique("branches") + ".sh"
    write_script(server, script, ARGS_SCRIPT)
    write_script(server, branches, 'printf "main\\ndev\\n"')
    body = {"name": unique("Deploy "), "script": script, "icon": "rocket", "confirm": "This deploys to production.",
            "allowed_users": [client_id], "arguments": [
                {"name": "domain", "label": "Domain", "type": "text", "required": True, "pattern": "[a-z.]+",
                 "description": "The site to deploy"},
                {"name": "workers", "label": "Workers", "type": "int", "min": 1, "max": 8, "default": 2},
                {"name": "branch", "label": "Branch", "type": "choice", "required": True, "choices_from": branches},
                {"name": "dry_run", "label": "Dry run", "type": "bool", "default": True},
                {"name": "token", "label": "Token", "type": "password"}]}
    res = api(admin, server, "POST", "/api/quick-actions", body)
    assert res.status == 201, res.text()
    return res.json()["quick_action"], script


def test_action_form_shows_server_errors_confirms_then_streams(server, browser):
    username = unique("client")
    with open_page(browser, DESKTOP) as (admin, _):
        api_sign_in(admin, server)
        user = create_user(admin, server, username)
        action, _ = action_with_arguments(admin, server, user["id"])
    name = action["name"]

    with open_page(browser, DESKTOP) as (page, seen):
        api_sign_in(page, server, username, USER_PASSWORD)
        page.goto(url(server, "/"))
        page.locator('[data-card="quick-actions"]').get_by_role("button", name=name, exact=True).click()
        dialog = page.get_by_role("dialog", name=name)
        # Phone-friendly inputs for each type; the options of a
        # choices_from argument come from its script.
        domain = dialog.get_by_label("Domain")
        expect(domain).to_have_attribute("aria-required", "true")
        workers = dialog.get_by_label("Workers")
        expect(workers).to_have_value("2")
        for attr, value in (("type", "number"), ("inputmode", "numeric"), ("min", "1"), ("max", "8")):
            expect(workers).to_have_attribute(attr, value)
        branch = dialog.get_by_label("Branch", exact=True)
        expect(branch.locator("option:not([disabled])")).to_have_text(["main", "dev"])
        expect(dialog.get_by_role("switch", name="Dry run")).to_be_checked()
        expect(dialog.get_by_label("Token")).to_have_attribute("type", "password")

        # The server's errors land under their fields, all at once; nothing runs.
        domain.fill("Not A Domain")
        with page.expect_response(lambda r: r.url.endswith("/execute")) as first:
            dialog.get_by_role("button", name="Continue").click()
        assert first.value.status == 400
        errors = first.value.json()["fields"]
        assert set(errors) == {"domain", "branch"}
        domain_field = dialog.locator('[data-argument="domain"]')
        expect(domain_field.locator(".field-error")).to_have_text(errors["domain"])
        expect(domain).to_have_attribute("aria-invalid", "true")
        expect(dialog.locator('[data-argument="branch"] .field-error')).to_have_text(errors["branch"])

        # Then the confirmation names the action and says what it runs with.
        domain.fill("example.org")
        branch.select_option("dev")
        dialog.get_by_role("switch", name="Dry run").uncheck()
        dialog.get_by_label("Token").fill("s3cret value")
        with page.expect_response(lambda r: r.url.endswith("/execute")) as second:
            dialog.get_by_role("button", name="Continue").click()
        assert second.value.status == 409
        step = dialog.locator('[data-step="confirm"]')
        expect(step.get_by_role("heading")).to_have_text(f"Run {name}?")
        expect(step).to_contain_text("This deploys to production.")
        expect(step.locator("dd")).to_have_text(["example.org", "2", "dev", "No", "••••"])
        with page.expect_request(lambda r: r.url.endswith("/execute")) as sent:
            step.get_by_role("button", name="Run", exact=True).click()
        assert sent.value.post_data_json == {"confirmed": True, "arguments": {
            "domain": "example.org", "workers": 2, "branch": "dev", "dry_run": False, "token": "s3cret value"}}

        # The live output: argv in declared order, as literal values.
        drawer = page.locator(".dialog-drawer")
        expect(drawer.locator(".drawer-body")).to_have_attribute("data-status", "success", timeout=15000)
        # (a password only in the environment: argv shows in `ps`).
        text = expect_terminal(drawer, r"token=\[s3cret value\]")
        assert re.findall(r"arg=\[(.*)\]", text) == ["example.org", "2", "dev", "false", ""]
        assert unexpected(seen, FAILED_RESOURCE) == []
        assert page.evaluate("window.__cspViolations") == []

    # On a phone: the same form fits, with full-size targets.
    with open_page(browser, PHONE) as (page, seen):
        api_sign_in(page, server, username, USER_PASSWORD)
        page.goto(url(server, "/"))
        page.locator('[data-card="quick-actions"]').get_by_role("button", name=name, exact=True).click()
        dialog = page.get_by_role("dialog", name=name)
        expect(dialog.get_by_label("Branch", exact=True).locator("option")).to_have_count(3)
        for control in (dialog.get_by_label("Domain"), dialog.get_by_label("Workers"),
                        dialog.get_by_label("Branch", exact=True), dialog.locator(".action-switch")):
            # offsetHeight: the layout size, not the opening animation's scale.
            assert control.evaluate("el => el.offsetHeight") >= 44
        assert dialog.evaluate("d => d.offsetWidth") <= 390
        assert dialog.evaluate("d => d.scrollWidth <= d.clientWidth")
        expect_no_horizontal_scroll(page, 390)
        assert unexpected(seen) == []


def test_editor_builds_arguments_with_preview_and_grants(server, browser):
    username = unique("client")
    script = unique("edit") + ".sh"
    write_script(server, script, ARGS_SCRIPT)
    name = unique("Rotate ")
    with open_page(browser, DESKTOP) as (page, seen):
        api_sign_in(page, server)
        user = create_user(page, server, username, display_name="Grant Ee")
        page.goto(url(server, "/settings/quick-actions"))
        page.get_by_role("button", name="Add quick action").click()
        dialog = page.get_by_role("dialog", name="Add quick action")
        dialog.get_by_label("Name", exact=True).fill(name)
        expect(dialog.get_by_label("Script", exact=True)).to_be_enabled()
        dialog.get_by_label("Script", exact=True).select_option(script)
        preview = dialog.locator(".qa-preview")

        # Two arguments; the preview follows every change.
        dialog.get_by_role("button", name="Add argument").click()
        first = dialog.locator('.qa-arg[data-arg-index="0"]')
        first.get_by_label("Argument name").fill("log")
        first.get_by_label("Label").fill("Log file")
        first.get_by_label("Type").select_option("choice")
        first.get_by_label("Options, one per line").fill("syslog\nauth.log")
        expect(preview.get_by_label("Log file")).to_be_visible()
        expect(preview.get_by_label("Log file").locator("option")).to_have_text(["(none)", "syslog", "auth.log"])
        dialog.get_by_role("button", name="Add argument").click()
        second = dialog.locator('.qa-arg[data-arg-index="1"]')
        second.get_by_label("Argument name").fill("Keep-Days")  # the server refuses this name
        second.get_by_label("Label").fill("Days to keep")
        second.get_by_label("Type").select_option("int")
        second.get_by_label("Minimum").fill("1")
        expect(preview.get_by_label("Days to keep")).to_have_attribute("inputmode", "numeric")
        expect(preview.get_by_label("Days to keep")).to_have_attribute("min", "1")
        # Reorder: the second goes first, in the preview too.
        dialog.get_by_role("button", name="Move argument 2 up").click()
        expect(dialog.locator(".qa-arg-title")).to_have_text(["Argument 1: Keep-Days", "Argument 2: log"])
        expect(preview.locator(".action-field > label, .action-field .action-switch-label")).to_have_text(
            ["Days to keep (optional)", "Log file (optional)"])
        dialog.get_by_label("Ask to confirm").fill("Old logs are deleted.")
        expect(preview.locator(".qa-preview-confirm")).to_contain_text("Old logs are deleted.")

        # Grants: chosen users, one ticked.
        dialog.get_by_role("radio", name=re.compile("^Chosen users")).check()
        dialog.get_by_role("checkbox", name=re.compile("^Grant Ee")).check()
        expect(dialog.locator(".qa-grant-note")).to_have_text("1 user chosen, and every admin.")

        # The server's error lands under the field it names.
        with page.expect_response(lambda r: r.url.endswith("/api/quick-actions") and r.request.method == "POST") as bad:
            dialog.get_by_role("button", name="Add quick action").click()
        assert bad.value.status == 400
        fields = bad.value.json()["fields"]
        assert list(fields) == ["arguments.0.name"], fields
        card = dialog.locator('.qa-arg[data-arg-index="0"]')
        expect(card.get_by_label("Argument name")).to_have_attribute("aria-invalid", "true")
        expect(card.locator(".field-error:visible")).to_have_text(fields["arguments.0.name"])
        card.get_by_label("Argument name").fill("keep_days")
        with page.expect_request(lambda r: r.url.endswith("/api/quick-actions") and r.method == "POST") as made:
            dialog.get_by_role("button", name="Add quick action").click()
        assert made.value.post_data_json == {
            "name": name, "script": script, "confirm": "Old logs are deleted.", "allowed_users": [user["id"]],
            "arguments": [
                {"name": "keep_days", "label": "Days to keep", "type": "int", "required": False, "min": 1},
                {"name": "log", "label": "Log file", "type": "choice", "required": False,
                 "choices": ["syslog", "auth.log"]}]}
        expect(dialog).to_have_count(0)
        toast_said(page, f"Added the quick action {name}.")
        row = admin_row(page, name)
        expect(row).to_contain_text("2 arguments")
        expect(row).to_contain_text("Asks to confirm")
        expect(row.locator('[data-grant="users"]')).to_have_text("1 user")

        # Editing shows what was saved; only the grant change is sent.
        page.get_by_role("button", name=f"Edit {name}").click()
        dialog = page.get_by_role("dialog", name="Edit quick action")
        expect(dialog.locator(".qa-arg-title")).to_have_text(["Argument 1: keep_days", "Argument 2: log"])
        expect(dialog.get_by_role("radio", name=re.compile("^Chosen users"))).to_be_checked()
        expect(dialog.get_by_role("checkbox", name=re.compile("^Grant Ee"))).to_be_checked()
        dialog.get_by_role("radio", name=re.compile("^Admins only")).check()
        with page.expect_request(lambda r: "/api/quick-actions/" in r.url and r.method == "PUT") as changed:
            dialog.get_by_role("button", name="Save changes").click()
        assert changed.value.post_data_json == {"allowed_users": []}
        expect(admin_row(page, name).locator('[data-grant="admins"]')).to_have_text("Admins only")
        assert unexpected(seen, FAILED_RESOURCE) == []
        assert page.evaluate("window.__cspViolations") == []

    # The editor fits a phone.
    with open_page(browser, PHONE) as (page, seen):
        api_sign_in(page, server)
        page.goto(url(server, "/settings/quick-actions"))
        page.get_by_role("button", name=f"Edit {name}").click()
        dialog = page.get_by_role("dialog", name="Edit quick action")
        expect(dialog.locator(".qa-arg")).to_have_count(2)
        assert dialog.evaluate("d => d.scrollWidth <= d.clientWidth")
        expect_no_horizontal_scroll(page, 390)
        assert unexpected(seen) == []


def test_history_shows_arguments_and_reruns_with_the_form_prefilled(server, browser):
    username = unique("client")
    with open_page(browser, DESKTOP) as (admin, _):
        api_sign_in(admin, server)
        user = create_user(admin, server, username)
        action, script = action_with_arguments(admin, server, user["id"])

    with open_page(browser, DESKTOP) as (page, seen):
        api_sign_in(page, server, username, USER_PASSWORD)
        res = api(page, server, "POST", f"/api/quick-actions/{action['id']}/execute", {"confirmed": True, "arguments": {
            "domain": "old.example", "workers": 3, "branch": "main", "dry_run": True, "token": "hunter2 secret"}})
        assert res.status == 201, res.text()
        first = res.json()["task_id"]
        page.goto(url(server, f"/history?highlight_task={first}"))
        detail = page.locator(f'.task-detail[data-task-id="{first}"]')
        args = detail.locator("[data-arguments]")
        expect(args.locator("dt")).to_have_text(["domain", "workers", "branch", "dry_run", "token"])
        expect(args.locator("dd")).to_have_text(["old.example", "3", "main", "Yes", "••••"])

        # Re-run: the form again, with this run's values (the password empty).
        page.locator(f'tr.task-row[data-task-id="{first}"]').get_by_role("button", name=f"Run {script} again").click()
        dialog = page.get_by_role("dialog", name=f"Run {action['name']} again")
        expect(dialog.get_by_label("Domain")).to_have_value("old.example")
        expect(dialog.get_by_label("Workers")).to_have_value("3")
        expect(dialog.get_by_label("Branch", exact=True)).to_have_value("main")
        expect(dialog.get_by_role("switch", name="Dry run")).to_be_checked()
        expect(dialog.get_by_label("Token")).to_have_value("")
        dialog.get_by_label("Workers").fill("5")
        dialog.get_by_role("button", name="Continue").click()
        step = dialog.locator('[data-step="confirm"]')
        expect(step).to_contain_text("This deploys to production.")
        with page.expect_response(lambda r: r.url.endswith(f"/api/history/{first}/rerun")
                                  and r.request.post_data_json.get("confirmed")) as rerun:
            step.get_by_role("button", name="Run again").click()
        assert rerun.value.request.post_data_json["arguments"] == {
            "domain": "old.example", "workers": 5, "branch": "main", "dry_run": True}
        second = rerun.value.json()["task_id"]
        expect(page).to_have_url(url(server, f"/history?highlight_task={second}"))

        task = api(page, server, "GET", f"/api/history/{second}").json()["task"]
        assert (task["started_by"], task["arguments"]["workers"]) == (username, 5)
        assert unexpected(seen, FAILED_RESOURCE) == []
        assert page.evaluate("window.__cspViolations") == []
