"""The Scripts and History pages in a real browser against a real server
running real scripts: ANSI colours and stderr in the xterm.js terminal,
several runs as tabs, cancel, refusals as toasts, a million lines, the
History table (filters, paging, output, live tail through
/history?highlight_task=ID, re-run, delete) and a client's view. Scripts
are written into the server's scripts directory (<data>/scripts) by each
test, under names of their own, since the module shares one server.

The terminal's text is read through `el.toruTerminal.text()`, a property
the terminal component sets on purpose for this (not an attribute: the
text can be megabytes); colours are checked on the spans xterm.js's DOM
renderer draws (`xterm-fg-N` classes)."""

import os
import re
import tempfile
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import expect

from helpers import ADMIN_PASSWORD, TaskSocket, wait_for
from e2e_support import (record_websockets, DESKTOP, FAILED_RESOURCE, PHONE, USER_PASSWORD, api, api_sign_in,
                         create_user, expect_no_horizontal_scroll, heading, main_nav, open_page, unexpected, url,
                         TERMINAL_TEXT, expect_terminal)

SHOTS = Path(os.environ.get("TORU_SCREENSHOTS", tempfile.gettempdir()))


@pytest.fixture(scope="module")
def admin_ws(server):
    """A WebSocket signed in as the env admin, for starting tasks directly."""
    client = server.client()
    assert client.post("/api/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD}).status == 200
    sock = TaskSocket(server, client)
    yield sock
    sock.close()


def write_script(server, stem, body, executable=True, shebang="#!/bin/sh"):
    """A script with a unique name in the server's scripts directory."""
    name = f"{stem}-{uuid.uuid4().hex[:8]}.sh"
    path = server.data_dir / "scripts" / name
    path.write_text(f"{shebang}\n{body}\n" if shebang else f"{body}\n")
    path.chmod(0o755 if executable else 0o644)
    return name


def script_row(page, name):
    return page.locator(f'tr[data-script="{name}"]')


def run_panel(page, name):
    """The panel of the (only) run of `name` on the Scripts page."""
    tab = page.locator(".run-tab", has=page.get_by_role("tab", name=name, exact=True))
    expect(tab).to_have_count(1)
    task_id = tab.get_attribute("data-task-id")
    return task_id, page.locator(f'.run-panel[data-task-id="{task_id}"]')


def terminal_text(locator):
    return locator.locator(".output-terminal").evaluate(TERMINAL_TEXT)



def no_trouble(seen, *allowed):
    assert unexpected(seen, *allowed) == []
    assert seen["csp"] == []


def test_a_run_shows_colours_stderr_status_and_exit_code(server, browser):
    name = write_script(server, "colours", "\n".join([
        "# Paints a few words",
        r"printf '\033[32mgreen-word\033[0m \033[1;34mblue-word\033[0m\n'",
        "echo err-line >&2",
        "echo after-err",
        "exit 3",
    ]))
    with open_page(browser, DESKTOP) as (page, seen):
        api_sign_in(page, server)
        page.goto(url(server, "/scripts"))
        expect(heading(page)).to_have_text("Scripts")
        row = script_row(page, name)
        expect(row).to_contain_text("Paints a few words")
        expect(row).to_contain_text(re.compile(r"\d+ B"))
        # The search narrows the list by name or description.
        page.get_by_role("searchbox", name="Search", exact=True).fill("paints a few")
        expect(page.locator("tr[data-script]")).to_have_count(1)
        page.get_by_role("searchbox", name="Search", exact=True).fill("no-such-script-here")
        expect(page.locator("main")).to_contain_text("No script matches this search.")
        page.get_by_role("searchbox", name="Search", exact=True).fill("")

        row.get_by_role("button", name=f"Run {name}").click()
        task_id, panel = run_panel(page, name)
        expect(page.get_by_role("tab", name=name)).to_have_attribute("aria-selected", "true")
        expect(panel).to_have_attribute("data-status", "failed")
        expect(panel.locator(".task-status")).to_have_text("Failed")
        expect(panel.locator("[data-exit-text]")).to_have_text("Exit code 3")
        expect(panel.locator("[data-duration]")).to_have_text(re.compile(r"^\d+(\.\d)? s$"))
        text = expect_terminal(panel, r"after-err")
        assert "green-word blue-word" in text and "err-line" in text, text
        assert "\x1b" not in text and "[32m" not in text  # colours were rendered, not printed

        # xterm.js's DOM renderer: ANSI green (2) and blue (4) are spans of
        # their own; stderr is bright red (9), stdout keeps the default.
        rows = panel.locator(".xterm-rows")
        expect(rows.locator("span.xterm-fg-2", has_text="green-word")).to_have_count(1)
        # Bold blue: xterm.js draws bold text in the bright colour (12).
        expect(rows.locator("span.xterm-bold", has_text="blue-word")).to_have_class(re.compile(r"\bxterm-fg-(4|12)\b"))
        expect(rows.locator("span.xterm-fg-9", has_text="err-line")).to_have_count(1)
        assert rows.locator("span", has_text="after-err").first.get_attribute("class") in (None, "")
        err_colour = rows.locator("span.xterm-fg-9", has_text="err-line").evaluate("e => getComputedStyle(e).color")
        out_colour = rows.locator("span", has_text="after-err").first.evaluate("e => getComputedStyle(e).color")
        assert err_colour != out_colour

        # The History entry link opens that task.
        panel.get_by_role("link", name="History entry").click()
        expect(page).to_have_url(url(server, f"/history?highlight_task={task_id}"))
        history_row = page.locator(f'tr.task-row[data-task-id="{task_id}"]')
        expect(history_row).to_have_class(re.compile(r"\bis-highlighted\b"))
        expect(history_row.locator(".task-status")).to_have_text("Failed")
        detail = page.locator(f'tr.task-detail[data-task-id="{task_id}"]')
        expect_terminal(detail, r"green-word blue-word[\s\S]*after-err")
        # xterm.js (its <style> elements, its script tags) fits the CSP.
        assert page.evaluate("window.__cspViolations") == []
        no_trouble(seen)


def test_utf8_output_arrives_as_binary_frames_and_reads_right(server, browser):
    # An emoji cut in two by a pause (two reads, so possibly two frames),
    # CJK, accents, on stdout and stderr: the page asks for binary frames
    # and the terminal decodes them as one stream.
    name = write_script(server, "utf8", "\n".join([
        r"printf 'smile \360\237'", "sleep 0.3", r"printf '\230\200 end\n'",
        # Pauses around stderr: two pipes keep no order between them (docs/tasks.md).
        "echo '你好，世界 — naïve café'", "sleep 0.2", "echo 'エラー ✗' >&2", "sleep 0.2", "echo 'done ✓'",
    ]))
    with open_page(browser, DESKTOP) as (page, seen):
        api_sign_in(page, server)
        connections = record_websockets(page)
        frames = []
        page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: frames.append(payload)))
        page.goto(url(server, "/scripts"))
        script_row(page, name).get_by_role("button", name=f"Run {name}").click()
        _, panel = run_panel(page, name)
        expect(panel).to_have_attribute("data-status", "success")
        text = expect_terminal(panel, r"done ✓")
        assert "smile 😀 end\n你好，世界 — naïve café\nエラー ✗\ndone ✓" in text, text
        assert any(m.get("type") == "run" and m.get("binary") is True for m in connections[0][1])
        assert any(isinstance(f, bytes) for f in frames), "output came as binary frames"
        assert not any(isinstance(f, str) and '"type": "stdout"' in f for f in frames)
        no_trouble(seen)


def test_the_terminal_joins_a_character_split_between_two_frames(server, browser):
    with open_page(browser, DESKTOP) as (page, seen):
        api_sign_in(page, server)
        page.goto(url(server, "/scripts"))
        expect(heading(page)).to_have_text("Scripts")
        text = page.evaluate("""async () => {
            const { terminal } = await import('/static/js/ui/terminal.js');
            const term = terminal({ label: 'split' });
            document.querySelector('main').append(term.el);
            const bytes = new TextEncoder().encode('a😀b 你\\n');
            const err = new TextEncoder().encode('é!');
            // Every cut: between the emoji's bytes, inside the CJK character,
            // and stderr's é in two as well.
            for (const [from, to] of [[0, 2], [2, 4], [4, 9], [9, 12], [12, bytes.length]]) {
              term.write(bytes.subarray(from, to));
            }
            term.writeStderr(err.subarray(0, 1));
            term.writeStderr(err.subarray(1));
            await term.flushed();
            const result = term.text();
            term.dispose();
            term.el.remove();
            return result;
        }""")
        assert text == "a😀b 你\né!", text
        no_trouble(seen)


def test_several_runs_as_tabs_cancel_and_close(server, browser):
    slow = write_script(server, "ticker", "i=0\nwhile true; do i=$((i+1)); echo tick-$i; sleep 0.2; done")
    quick = write_script(server, "quick", "echo quick-done")
    with open_page(browser, DESKTOP) as (page, seen):
        api_sign_in(page, server)
        page.goto(url(server, "/scripts"))
        script_row(page, slow).get_by_role("button", name=f"Run {slow}").click()
        slow_id, slow_panel = run_panel(page, slow)
        expect(slow_panel.locator(".task-status")).to_have_text("Running")
        expect_terminal(slow_panel, r"tick-3")
        # The duration ticks while it runs.
        duration = slow_panel.locator("[data-duration]")
        before = duration.text_content()
        expect(duration).not_to_have_text(before)

        script_row(page, quick).get_by_role("button", name=f"Run {quick}").click()
        quick_id, quick_panel = run_panel(page, quick)
        expect(quick_panel).to_have_attribute("data-status", "success")
        expect(slow_panel).to_be_hidden()
        expect_terminal(quick_panel, r"quick-done")
        # A finished run's tab can be closed; a running one's cannot.
        expect(page.get_by_role("button", name=f"Close the tab of {slow}")).to_be_hidden()

        page.get_by_role("tab", name=slow).click()
        expect(slow_panel).to_be_visible()
        expect(quick_panel).to_be_hidden()
        slow_panel.get_by_role("button", name="Cancel").click()
        expect(slow_panel).to_have_attribute("data-status", "cancelled")
        expect(slow_panel.locator(".task-status")).to_have_text("Cancelled")
        expect(slow_panel.get_by_role("button", name="Cancel")).to_be_hidden()
        text = terminal_text(slow_panel)
        assert "tick-3" in text
        task = api(page, server, "GET", f"/api/history/{slow_id}").json()["task"]
        assert task["status"] == "cancelled", task
        # How it ended, in the server's words: a cancel names the signal,
        # never "Exit code -15" (or None).
        assert task["exit_code"] is None and task["exit_signal"] == "SIGTERM", task
        assert task["exit_text"] == "Cancelled — stopped by SIGTERM", task
        expect(slow_panel.locator("[data-exit-text]")).to_have_text(task["exit_text"])

        page.get_by_role("button", name=f"Close the tab of {quick}").click()
        expect(page.locator(f'.run-panel[data-task-id="{quick_id}"]')).to_have_count(0)
        expect(slow_panel).to_be_visible()
        slow_panel.get_by_role("button", name="Close").click()
        expect(page.locator(".runs")).to_be_hidden()
        # History reads the same.
        page.goto(url(server, f"/history?highlight_task={slow_id}"))
        reason = page.locator(f'tr.task-row[data-task-id="{slow_id}"] [data-exit-text]')
        expect(reason).to_have_text("Cancelled — stopped by SIGTERM")
        no_trouble(seen)


def test_refusals_become_toasts(server, browser, admin_ws):
    single = write_script(server, "single", "# toru: single-instance\nsleep 30")
    with open_page(browser, DESKTOP) as (page, seen):
        api_sign_in(page, server)
        # A run started elsewhere (another browser, the API) shows as a tab
        # when the page opens, with its output replayed.
        started = admin_ws.run(single)
        page.goto(url(server, "/scripts"))
        expect(script_row(page, single)).to_contain_text("Single instance")
        task_id, panel = run_panel(page, single)
        assert task_id == started["task_id"]
        expect(panel.locator(".task-status")).to_have_text("Running")

        script_row(page, single).get_by_role("button", name=f"Run {single}").click()
        expect(page.locator(".toast-error")).to_contain_text(f"{single} did not start")
        expect(page.locator(".toast-error")).to_contain_text("single-instance")
        expect(page.get_by_role("tab", name=single)).to_have_count(1)  # no tab for the refused run

        # A script that vanished from the directory since the list loaded.
        gone = write_script(server, "gone", "echo hi")
        page.get_by_role("button", name="Reload").click()
        expect(script_row(page, gone)).to_be_visible()
        (server.data_dir / "scripts" / gone).unlink()
        script_row(page, gone).get_by_role("button", name=f"Run {gone}").click()
        expect(page.locator(".toast-error", has_text=gone)).to_contain_text("did not start")

        panel.get_by_role("button", name="Cancel").click()
        expect(panel).to_have_attribute("data-status", "cancelled")
        no_trouble(seen)


def test_a_million_lines_stay_responsive(server, browser):
    name = write_script(server, "flood", "seq 1 1000000")
    with open_page(browser, DESKTOP) as (page, seen):
        api_sign_in(page, server)
        page.goto(url(server, "/scripts"))
        script_row(page, name).get_by_role("button", name=f"Run {name}").click()
        _, panel = run_panel(page, name)
        expect(panel).to_have_attribute("data-status", "success", timeout=60_000)
        text = expect_terminal(panel, r"\n1000000$", timeout=60_000)
        lines = text.split("\n")
        # The scrollback is bounded: the last 10,000 lines and a screenful.
        assert 10_000 <= len(lines) <= 10_200, len(lines)
        assert lines[-1] == "1000000" and lines[-2] == "999999"
        # The page still answers: a click goes through at once.
        page.get_by_role("searchbox", name="Search", exact=True).fill(name)
        expect(page.locator("tr[data-script]")).to_have_count(1)
        rows = page.evaluate("document.querySelectorAll('.xterm-rows > div').length")
        assert rows < 200, rows  # only the visible rows are in the DOM
        no_trouble(seen)


def test_history_highlight_opens_a_running_task_live(server, browser, admin_ws):
    name = write_script(server, "live", "i=0\nwhile [ $i -lt 300 ]; do i=$((i+1)); echo line-$i; "
                                        "echo warn-$i >&2; sleep 0.2; done")
    started = admin_ws.run(name)
    task_id = started["task_id"]
    with open_page(browser, DESKTOP) as (page, seen):
        api_sign_in(page, server)
        page.goto(url(server, f"/history?highlight_task={task_id}"))
        expect(heading(page)).to_have_text("History")
        row = page.locator(f'tr.task-row[data-task-id="{task_id}"]')
        expect(row).to_have_class(re.compile(r"\bis-highlighted\b"))
        expect(row.locator(".task-status")).to_have_text("Running")
        expect(row.get_by_role("button", name=f"Output of {name}")).to_have_attribute("aria-expanded", "true")
        detail = page.locator(f'tr.task-detail[data-task-id="{task_id}"]')
        expect(detail.locator(".live-status")).to_have_text("Live")
        # Replayed from the start, then live: the text keeps growing.
        first = expect_terminal(detail, r"(^|\n)line-1\n")
        count = len(re.findall(r"line-\d+", first))
        wait_for(lambda: len(re.findall(r"line-\d+", terminal_text(detail))) > count + 3, timeout=10,
                 message="more live lines")
        expect(detail.locator(".xterm-rows span.xterm-fg-9", has_text=re.compile(r"warn-\d+")).first).to_be_visible()

        # Cancelled elsewhere: the row learns it from the live stream.
        admin_ws.send(type="cancel", task_id=task_id)
        expect(row.locator(".task-status")).to_have_text("Cancelled")
        expect(detail.locator(".live-status")).to_have_count(0)
        expect(row.locator('[data-metric="peak-rss"]')).to_have_text(re.compile(r"\d+(\.\d)? (B|KiB|MiB|GiB)"))
        expect(row.get_by_role("button", name=f"Delete this run of {name}")).to_be_visible()
        no_trouble(seen)


def test_a_reconnect_subscribes_again_and_replays_without_duplicates(server, browser, admin_ws):
    name = write_script(server, "replay", "i=0\nwhile [ $i -lt 300 ]; do i=$((i+1)); echo row-$i; sleep 0.1; done")
    with open_page(browser, DESKTOP) as (page, seen):
        api_sign_in(page, server)
        connections = record_websockets(page)  # a proxy per /api/ws the test can cut

        page.goto(url(server, "/scripts"))
        script_row(page, name).get_by_role("button", name=f"Run {name}").click()
        task_id, panel = run_panel(page, name)
        expect_terminal(panel, r"row-5\n")
        assert len(connections) == 1
        assert any(m.get("type") == "run" and m.get("script") == name and m.get("ref") for m in connections[0][1])

        connections[0][0].close(code=1001, reason="Going away")
        expect(page.locator(".runs .live-status")).to_have_text("Reconnecting…")
        expect(page.locator(".runs .live-status")).to_have_text("Live", timeout=15_000)
        wait_for(lambda: len(connections) == 2, message="a second connection")
        assert {"type": "subscribe", "task_id": task_id, "binary": True} in connections[1][1]
        # The replay replaced what the screen showed: every line once, and
        # the output goes on past what was there before the cut.
        text = expect_terminal(panel, r"row-40\n")
        numbers = [int(n) for n in re.findall(r"row-(\d+)", text)]
        assert numbers == list(range(1, len(numbers) + 1)), numbers[:60]
        panel.get_by_role("button", name="Cancel").click()
        expect(panel).to_have_attribute("data-status", "cancelled")
        no_trouble(seen)


def test_history_filters_paging_rerun_and_delete(server, browser, admin_ws):
    stem = f"pager{uuid.uuid4().hex[:6]}"
    ok = write_script(server, stem + "-ok", "echo fine")
    bad = write_script(server, stem + "-bad", "echo broken >&2\nexit 1")
    for _ in range(22):
        admin_ws.run_to_end(ok)
    for _ in range(2):
        admin_ws.run_to_end(bad)
    with open_page(browser, DESKTOP) as (page, seen):
        api_sign_in(page, server)
        page.goto(url(server, "/history"))
        rows = page.locator("tr.task-row")
        expect(rows.first).to_be_visible()

        page.get_by_label("Script", exact=True).fill(stem)
        expect(page.locator(".pager-summary")).to_have_text("24 tasks")
        expect(page.locator(".pager-label")).to_have_text("Page 1 of 2")
        expect(rows).to_have_count(20)
        page.get_by_role("button", name="Next").click()
        expect(page.locator(".pager-label")).to_have_text("Page 2 of 2")
        expect(rows).to_have_count(4)
        expect(page.get_by_role("button", name="Next")).to_be_disabled()
        page.get_by_role("button", name="Previous").click()
        expect(page.locator(".pager-label")).to_have_text("Page 1 of 2")

        page.get_by_label("Status", exact=True).select_option("failed")
        expect(page.locator(".pager-summary")).to_have_text("2 tasks")
        expect(rows).to_have_count(2)
        for i in range(2):
            expect(rows.nth(i).locator(".task-status")).to_have_text("Failed")
            expect(rows.nth(i)).to_contain_text(bad)
            expect(rows.nth(i)).to_contain_text("Exit code 1")

        # Stored output of a finished task.
        first = rows.first
        first_id = first.get_attribute("data-task-id")
        first.get_by_role("button", name=f"Output of {bad}").click()
        detail = page.locator(f'tr.task-detail[data-task-id="{first_id}"]')
        expect_terminal(detail, r"broken")
        expect(detail.locator(".task-truncated")).to_be_hidden()
        first.get_by_role("button", name=f"Output of {bad}").click()
        expect(detail).to_have_count(0)

        # Re-run: the new task opens on top, highlighted.
        with page.expect_response(lambda r: r.url.endswith(f"/api/history/{first_id}/rerun")) as rerun:
            first.get_by_role("button", name=f"Run {bad} again").click()
        new_id = rerun.value.json()["task_id"]
        expect(page).to_have_url(url(server, f"/history?highlight_task={new_id}"))
        new_row = page.locator(f'tr.task-row[data-task-id="{new_id}"]')
        expect(new_row).to_have_class(re.compile(r"\bis-highlighted\b"))
        expect(new_row.locator(".task-status")).to_have_text("Failed")
        expect(new_row).to_contain_text("Re-run")
        expect_terminal(page.locator(f'tr.task-detail[data-task-id="{new_id}"]'), r"broken")

        # Delete, behind a confirmation.
        new_row.get_by_role("button", name=f"Delete this run of {bad}").click()
        dialog = page.get_by_role("dialog", name="Delete this task?")
        dialog.get_by_role("button", name="Delete").click()
        expect(page.locator(".toast-success", has_text="Deleted")).to_contain_text(f"Deleted the run of {bad}")
        expect(new_row).to_have_count(0)
        assert api(page, server, "GET", f"/api/history/{new_id}").status == 404
        no_trouble(seen, FAILED_RESOURCE)


def test_truncated_output_is_marked(server, browser, admin_ws):
    name = write_script(server, "big", "seq 1 400000")
    *_, end = admin_ws.run_to_end(name, timeout=60)
    task_id = end["task_id"]
    with open_page(browser, DESKTOP) as (page, seen):
        api_sign_in(page, server)
        task = api(page, server, "GET", f"/api/history/{task_id}").json()["task"]
        assert task["output_truncated"] is True, task["output_bytes"]
        page.goto(url(server, f"/history?highlight_task={task_id}"))
        detail = page.locator(f'tr.task-detail[data-task-id="{task_id}"]')
        expect(detail.locator(".task-truncated")).to_be_visible()
        expect(detail.locator(".task-truncated")).to_contain_text("Output truncated")
        text = expect_terminal(detail, r"\n400000$")
        # The end view starts with the server's marker; the beginning view
        # shows line 1 on and ends with it: head, marker and tail are all reachable.
        assert re.search(r"… \d+ bytes omitted …", text) and "\n1\n" not in text
        page.screenshot(path=str(SHOTS / "history-long-output-desktop.png"))
        detail.get_by_role("button", name="Beginning").click()
        expect(detail.get_by_role("button", name="Beginning")).to_have_attribute("aria-pressed", "true")
        head = expect_terminal(detail, r"bytes omitted …")
        assert head.startswith("1\n2\n3\n") and "400000" not in head.split("…")[0]
        detail.get_by_role("button", name="End").click()
        expect_terminal(detail, r"\n400000$")
        # Download: the stored output as a file named after the script and task.
        with page.expect_download() as download:
            detail.get_by_role("link", name="Download").click()
        assert download.value.suggested_filename == f"{name}-{task_id}.txt"
        assert open(download.value.path(), encoding="utf-8").read() == task["output"]
        no_trouble(seen)
    with open_page(browser, PHONE) as (page, seen):
        api_sign_in(page, server)
        page.goto(url(server, f"/history?highlight_task={task_id}"))
        detail = page.locator(f'tr.task-detail[data-task-id="{task_id}"]')
        expect_terminal(detail, r"\n400000$")
        for control in (detail.get_by_role("button", name="Beginning"), detail.get_by_role("link", name="Download")):
            assert control.bounding_box()["height"] >= 43.99
        expect_no_horizontal_scroll(page, 390)
        detail.scroll_into_view_if_needed()
        page.screenshot(path=str(SHOTS / "history-long-output-phone.png"))
        no_trouble(seen)


def test_a_client_cancels_its_running_quick_action_from_history(server, browser):
    name = write_script(server, "tick", "i=0\nwhile true; do i=$((i+1)); echo tick-$i; sleep 0.1; done")
    username = f"cx{uuid.uuid4().hex[:6]}"
    with open_page(browser, DESKTOP) as (admin, _):
        api_sign_in(admin, server)
        create_user(admin, server, username)
        action = api(admin, server, "POST", "/api/quick-actions", {"name": "Tick along", "script": name}).json()
    with open_page(browser, DESKTOP) as (page, seen):
        api_sign_in(page, server, username, USER_PASSWORD)
        task_id = api(page, server, "POST", f"/api/quick-actions/{action['quick_action']['id']}/execute").json()["task_id"]
        page.goto(url(server, "/history"))
        row = page.locator(f'tr.task-row[data-task-id="{task_id}"]')
        # The action's name, not the file (a client knows the action).
        expect(row.locator("[data-task-name]")).to_have_text("Tick along")
        expect(row.locator("[data-script-file]")).to_have_count(0)
        row.get_by_role("button", name=f"Output of {name}").click()
        detail = page.locator(f'tr.task-detail[data-task-id="{task_id}"]')
        expect_terminal(detail, r"tick-3\n")
        # The size grows while it streams (it used to say 0 B).
        size = detail.locator("[data-output-size]")
        expect(size).to_have_text(re.compile(r"^\d+ B$"))
        first = size.text_content()
        assert first != "0 B"
        expect(size).not_to_have_text(first)
        row.get_by_role("button", name="Cancel this run of Tick along").click()
        expect(row.locator(".task-status")).to_have_text("Cancelled")
        expect(row.locator("[data-exit-text]")).to_have_text("Cancelled — stopped by SIGTERM")
        expect(row.get_by_role("button", name=re.compile("^Cancel this run"))).to_have_count(0)
        no_trouble(seen)
    with open_page(browser, DESKTOP) as (page, seen):
        api_sign_in(page, server)  # an admin sees the name and the file, on History and the dashboard
        page.goto(url(server, f"/history?highlight_task={task_id}"))
        row = page.locator(f'tr.task-row[data-task-id="{task_id}"]')
        expect(row.locator("[data-task-name]")).to_have_text("Tick along")
        expect(row.locator("[data-script-file]")).to_have_text(name)
        page.goto(url(server, "/"))
        recent = page.locator(f'[data-card="recent-tasks"] li[data-task-id="{task_id}"]')
        expect(recent.locator(".task-script")).to_have_text("Tick along")
        expect(recent.locator(".task-file")).to_have_text(name)
        no_trouble(seen)


def test_phone_scripts_and_history(server, browser):
    name = write_script(server, "phone", "echo from-the-phone")
    with open_page(browser, PHONE) as (page, seen):
        api_sign_in(page, server)
        page.goto(url(server, "/scripts"))
        run = script_row(page, name).get_by_role("button", name=f"Run {name}")
        box = run.bounding_box()
        assert box["height"] >= 43.99, box
        run.tap()
        task_id, panel = run_panel(page, name)
        expect(panel).to_have_attribute("data-status", "success")
        expect_terminal(panel, "from-the-phone")
        for control in (page.get_by_role("tab", name=name), panel.get_by_role("link", name="History entry"),
                        panel.get_by_role("button", name="Close"),
                        page.get_by_role("button", name=f"Close the tab of {name}")):
            box = control.bounding_box()
            assert box is not None and box["height"] >= 43.99, box
        expect_no_horizontal_scroll(page, 390)

        panel.get_by_role("link", name="History entry").tap()
        detail = page.locator(f'tr.task-detail[data-task-id="{task_id}"]')
        expect_terminal(detail, "from-the-phone")
        toggle = page.locator(f'tr.task-row[data-task-id="{task_id}"]').get_by_role("button", name=f"Output of {name}")
        assert toggle.bounding_box()["height"] >= 43.99
        expect_no_horizontal_scroll(page, 390)
        no_trouble(seen)


def test_a_client_sees_own_quick_action_runs_without_admin_controls(server, browser):
    name = write_script(server, "qa", "echo quick-action-output")
    username = f"qa{uuid.uuid4().hex[:6]}"
    with open_page(browser, DESKTOP) as (admin, _):
        api_sign_in(admin, server)
        create_user(admin, server, username)
        res = api(admin, server, "POST", "/api/quick-actions", {"name": "Say it", "script": name})
        assert res.status == 201, res.text()
        action = res.json()["quick_action"]

    with open_page(browser, DESKTOP) as (page, seen):
        api_sign_in(page, server, username, USER_PASSWORD)
        res = api(page, server, "POST", f"/api/quick-actions/{action['id']}/execute")
        assert res.status in (200, 201), res.text()
        task_id = res.json()["task_id"]
        page.goto(url(server, f"/history?highlight_task={task_id}"))
        expect(heading(page)).to_have_text("History")
        expect(main_nav(page).get_by_role("link", name="History", exact=True)).to_have_attribute("aria-current", "page")
        expect(main_nav(page).get_by_text("Scripts", exact=True)).to_be_hidden()
        rows = page.locator("tr.task-row")
        expect(rows).to_have_count(1)  # only their own
        row = rows.first
        expect(row).to_have_attribute("data-task-id", task_id)
        expect(row.locator(".task-status")).to_have_text("Success")
        expect(row).to_contain_text("Quick action")
        expect_terminal(page.locator(f'tr.task-detail[data-task-id="{task_id}"]'), "quick-action-output")
        # Their own quick-action run may be re-run; nothing may be deleted.
        expect(row.get_by_role("button", name=f"Run {name} again")).to_be_visible()
        expect(row.get_by_role("button", name=re.compile("^Delete"))).to_have_count(0)
        assert seen["bad_responses"] == []
        no_trouble(seen)
