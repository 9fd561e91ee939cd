"""The monitoring UI in a real browser against a real server sampling every
0.5 s: dashboard cards filled from /api/resources and then live from the
WebSocket, the "Reconnecting…" badge across a server restart and across a
dropped socket (through a WebSocket route the test can cut), the System
Monitor's charts and 1 h / 24 h switch, the top-processes table, a phone
viewport, and a client (non-admin) user whose sign-out closes the socket.
Each test starts its own server through `fresh_server` (tests/conftest.py)
for the short sample interval."""

import json
import math
import re
from datetime import datetime, timezone

import pytest
from playwright.sync_api import expect

from e2e_support import (record_websockets, DESKTOP, PHONE, api, api_sign_in, create_user, expect_no_horizontal_scroll, heading,
                         open_page, unexpected, url, USER_PASSWORD)

# TRUST_PROXY: open_page gives each context its own CF-Connecting-IP.
ENV = {"TORU_SAMPLE_INTERVAL": "0.5", "TRUST_PROXY": "1"}
PERCENT = re.compile(r"^\d+\.\d%$")
BYTES = re.compile(r"^\d+(\.\d)? (B|KiB|MiB|GiB|TiB|PiB)$")
RATE = re.compile(r"^\d+(\.\d)? (B|KiB|MiB|GiB|TiB|PiB)/s$")
DURATION = re.compile(r"^\d+ (s|min|h|d)( \d+ (min|h))?$")
CHARTS = ["cpu", "cores", "memory", "network", "disk-io", "load"]
# A server that is down on purpose: the browser may log the refused socket
# and the refused session check that precedes a reconnection attempt.
SERVER_DOWN = [re.compile(r"WebSocket connection to 'ws://.*/api/ws' failed"),
               re.compile(r"net::ERR_CONNECTION_REFUSED")]


@pytest.fixture
def monitored(fresh_server):
    return fresh_server(env=ENV).start()


def resources_frames(page):
    """Collects the "resources" messages the page's WebSocket receives."""
    frames = []

    def on_socket(ws):
        if ws.url.endswith("/api/ws"):
            ws.on("framereceived", lambda payload: _keep(frames, payload))
    page.on("websocket", on_socket)
    return frames


def iso(timestamp):
    """Unix seconds as JavaScript's Date.toISOString() writes them."""
    moment = datetime.fromtimestamp(math.floor(timestamp * 1000) / 1000, timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _keep(frames, payload):
    try:
        message = json.loads(payload)
    except (TypeError, ValueError):
        return
    if message.get("type") == "resources":
        frames.append(message["data"])


def test_dashboard_cards_show_the_snapshot_and_update_live(monitored, browser):
    with open_page(browser, DESKTOP) as (page, seen):
        api_sign_in(page, monitored)
        frames = resources_frames(page)
        page.goto(url(monitored, "/"))
        expect(heading(page)).to_have_text("Dashboard")
        page.evaluate("window.__sameDocument = true")

        cpu = page.locator('[data-metric="cpu"]')
        expect(cpu).to_have_text(PERCENT)  # "Measuring…" until the second sample
        expect(page.locator('[data-metric="memory"]')).to_have_text(BYTES)
        expect(page.locator('[data-metric="memory-percent"]')).to_have_text(PERCENT)
        expect(page.locator('[data-card="memory"]')).to_contain_text("Available")
        expect(page.locator('[data-metric="uptime"]')).to_have_text(DURATION)
        expect(page.locator('[data-metric="processes"]')).to_have_text(re.compile(r"^\d+$"))
        expect(page.locator('[data-metric="load1"]')).to_have_text(re.compile(r"^\d+\.\d\d$"))
        expect(page.locator('[data-metric="disk-read"]')).to_have_text(RATE)

        # The facts match what the API says.
        snapshot = api(page, monitored, "GET", "/api/resources").json()
        expect(page.locator('[data-metric="hostname"]')).to_have_text(snapshot["hostname"])
        expect(page.locator('[data-metric="kernel"]')).to_have_text(snapshot["kernel"])
        expect(page.locator('[data-card="cpu"] .core')).to_have_count(len(snapshot["cpu_per_core"]))
        assert snapshot["disks"], "the server reports no disk to show"
        disk = page.locator(f'.disk-row[data-mount="{snapshot["disks"][0]["mount_point"]}"]')
        expect(disk).to_be_visible()
        expect(disk.locator(".disk-usage")).to_have_text(re.compile(r"^\d+(\.\d)? \w+ of \d+(\.\d)? \w+$"))
        expect(disk.locator(".disk-pct")).to_have_text(re.compile(r"^\d+%$"))
        expect(disk.get_by_role("meter")).to_have_attribute("aria-valuenow", re.compile(r"^\d+(\.\d)?$"))
        # The five interfaces that moved the most data since boot.
        busiest = sorted(snapshot["networks"], key=lambda n: n["received"] + n["transmitted"], reverse=True)[:5]
        expect(page.locator(".net-row")).to_have_count(len(busiest))
        for net in busiest:
            row = page.locator(f'.net-row[data-interface="{net["interface"]}"]')
            expect(row.locator('[data-metric="rx"]')).to_have_text(RATE)
            expect(row.locator('[data-metric="tx"]')).to_have_text(RATE)

        # Live: the sample time changes without a reload, driven by pushed
        # samples (the page polls nothing).
        updated = page.locator('[data-metric="updated"]')
        expect(updated).to_have_attribute("datetime", re.compile("."))
        first = updated.get_attribute("datetime")
        expect(updated).not_to_have_attribute("datetime", first)
        expect(page.locator(".live-status")).to_have_text("Live")
        shown = updated.get_attribute("datetime")
        assert shown in [iso(f["timestamp"]) for f in frames], (shown, len(frames))
        assert page.evaluate("window.__sameDocument") is True
        # Only the first snapshot came over HTTP.
        polled = []
        page.on("request", lambda r: "/api/resources" in r.url and polled.append(r.url))
        now = updated.get_attribute("datetime")
        expect(updated).not_to_have_attribute("datetime", now)
        assert polled == []

        assert seen["errors"] == []
        assert seen["bad_responses"] == []


def test_reconnecting_badge_while_the_server_is_down(fresh_server, browser, tmp_path):
    first = fresh_server(data_dir=tmp_path / "data", env=ENV).start()
    with open_page(browser, DESKTOP) as (page, seen):
        api_sign_in(page, first)
        page.goto(url(first, "/"))
        badge = page.locator(".live-status")
        expect(badge).to_have_text("Live")
        expect(page.locator('[data-metric="cpu"]')).to_have_text(PERCENT)

        # A real outage: the server process goes away with its sockets.
        first.stop()
        expect(badge).to_have_text("Reconnecting…")
        expect(badge).to_have_attribute("data-live", "reconnecting")
        expect(page.locator(".dashboard-grid")).to_have_class(re.compile(r"\bis-stale\b"))
        stale = page.locator('[data-metric="updated"]').get_attribute("datetime")

        # Same data dir (the session survives) and port: the page reconnects
        # by itself, subscribes again and shows fresh samples.
        fresh_server(data_dir=tmp_path / "data", env=ENV, port=first.port).start()
        expect(badge).to_have_text("Live", timeout=25_000)
        expect(page.locator(".dashboard-grid")).not_to_have_class(re.compile(r"\bis-stale\b"))
        expect(page.locator('[data-metric="updated"]')).not_to_have_attribute("datetime", stale)
        expect(heading(page)).to_have_text("Dashboard")

        assert unexpected(seen, *SERVER_DOWN) == []


def test_a_dropped_socket_reconnects_and_subscribes_again(monitored, browser):
    with open_page(browser, DESKTOP) as (page, seen):
        api_sign_in(page, monitored)
        connections = record_websockets(page)  # a proxy per /api/ws the test can cut

        page.goto(url(monitored, "/monitor"))
        badge = page.locator(".live-status")
        expect(badge).to_have_text("Live")
        chart = page.locator('[data-chart="cpu"] .chart')
        expect(chart).to_have_attribute("data-points", re.compile(r"^\d+$"))
        expect(chart).not_to_have_attribute("data-points", chart.get_attribute("data-points"))
        assert len(connections) == 1

        # The connection drops while the server stays up (a proxy restart).
        connections[0][0].close(code=1001, reason="Going away")
        expect(badge).to_have_text("Reconnecting…")
        expect(page.locator(".charts")).to_have_class(re.compile(r"\bis-stale\b"))
        expect(badge).to_have_text("Live")
        # Samples flow again, so the new socket subscribed again.
        points = chart.get_attribute("data-points")
        expect(chart).not_to_have_attribute("data-points", points)
        assert len(connections) == 2
        assert {"type": "subscribe", "topic": "resources"} in connections[1][1]
        expect(page.locator(".charts")).not_to_have_class(re.compile(r"\bis-stale\b"))

        assert seen["errors"] == []
        assert seen["bad_responses"] == []


def test_monitor_charts_draw_history_follow_live_and_switch_range(monitored, browser):
    with open_page(browser, DESKTOP) as (page, seen):
        api_sign_in(page, monitored)
        # Let the server build some history first, so charts have lines.
        page.goto(url(monitored, "/"))
        expect(page.locator('[data-metric="cpu"]')).to_have_text(PERCENT)
        with page.expect_response(lambda r: "/api/resources/history?range=1h" in r.url) as first:
            page.goto(url(monitored, "/monitor"))
        assert first.value.status == 200
        expect(heading(page)).to_have_text("System Monitor")
        expect(page.get_by_role("button", name="1 hour")).to_have_attribute("aria-pressed", "true")

        for chart_id in CHARTS:
            card = page.locator(f'[data-chart="{chart_id}"]')
            canvas = card.locator("canvas")
            expect(canvas).to_be_visible()
            box = canvas.bounding_box()
            assert box["width"] > 100 and box["height"] > 100, (chart_id, box)
            # Every series of every chart holds values: the legend shows the
            # latest one (never the "—" of a series without data).
            values = card.locator(".u-legend .u-series:not(:first-child) .u-value")
            expect(values.first).to_be_visible()
            for text in values.all_text_contents():
                assert text != "—" and re.match(r"^\d+(\.\d+)?(%| \w+/s)?$", text), (chart_id, text)
            expect(card.locator(".chart")).to_have_attribute("data-points", re.compile(r"^([2-9]|\d\d+)$"))
            expect(card.locator(".chart-empty")).to_be_hidden()

        # A young server: the time axis spans the data there is (at least a
        # minute), not a whole hour with a sliver at its right edge.
        chart = page.locator('[data-chart="cpu"] .chart')
        expect(chart).to_have_attribute("data-x-min", re.compile(r"^\d+$"))
        span = int(chart.get_attribute("data-x-max")) - int(chart.get_attribute("data-x-min"))
        assert 59 <= span < 600, span
        expect(page.locator("main")).to_contain_text("Showing the last minute: all there is since Toru started")

        # The 1 h view grows with each pushed sample.
        points = int(chart.get_attribute("data-points"))
        expect(chart).not_to_have_attribute("data-points", str(points))
        assert int(chart.get_attribute("data-points")) > points

        # Hovering shows the values at the cursor, with their time.
        time_value = page.locator('[data-chart="cpu"] .u-legend .u-series').first.locator(".u-value")
        expect(time_value).to_have_text("Latest")
        over = page.locator('[data-chart="cpu"] .u-over')
        box = over.bounding_box()
        page.mouse.move(box["x"] + box["width"] - 3, box["y"] + box["height"] / 2)
        expect(time_value).not_to_have_text("Latest")
        page.mouse.move(0, 0)

        # 24 h: fetched again, with the minute's peak as a second CPU line.
        with page.expect_response(lambda r: "/api/resources/history?range=24h" in r.url) as day:
            page.get_by_role("button", name="24 hours").click()
        assert day.value.status == 200 and day.value.json()["range"] == "24h"
        expect(page.get_by_role("button", name="24 hours")).to_have_attribute("aria-pressed", "true")
        expect(page.get_by_role("button", name="1 hour")).to_have_attribute("aria-pressed", "false")
        expect(page).to_have_url(url(monitored, "/monitor?range=24h"))
        expect(page.locator('[data-chart="cpu"] .u-legend')).to_contain_text("Peak")
        expect(page.locator('[data-chart="cpu"] canvas')).to_be_visible()

        # The address keeps the choice across a reload.
        with page.expect_response(lambda r: "/api/resources/history?range=24h" in r.url):
            page.reload()
        expect(page.get_by_role("button", name="24 hours")).to_have_attribute("aria-pressed", "true")

        with page.expect_response(lambda r: "/api/resources/history?range=1h" in r.url):
            page.get_by_role("button", name="1 hour").click()
        expect(page).to_have_url(url(monitored, "/monitor"))
        expect(page.locator('[data-chart="cpu"] .u-legend')).not_to_contain_text("Peak")

        # Leaving the page destroys the charts: nothing is left behind.
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Dashboard").click()
        expect(heading(page)).to_have_text("Dashboard")
        expect(page.locator(".uplot")).to_have_count(0)

        assert page.evaluate("window.__cspViolations") == []
        assert seen["csp"] == []
        assert seen["errors"] == []
        assert seen["bad_responses"] == []


def rows_pids(page):
    rows = page.locator(".process-table tbody tr")
    return [int(pid) for pid in rows.evaluate_all("rows => rows.map(r => r.dataset.pid)")]


def test_processes_sorted_by_cpu_then_memory_and_refreshed(monitored, browser):
    with open_page(browser, DESKTOP) as (page, seen):
        api_sign_in(page, monitored)
        with page.expect_response(lambda r: "/api/processes?sort=cpu" in r.url) as info:
            page.goto(url(monitored, "/monitor"))
        by_cpu = info.value.json()["processes"]
        assert by_cpu and [p["cpu_percent"] for p in by_cpu] == sorted((p["cpu_percent"] for p in by_cpu), reverse=True)
        table = page.locator(".process-table")
        expect(table).to_have_attribute("data-sort", "cpu")
        expect(table.locator("tbody tr")).to_have_count(len(by_cpu))
        assert rows_pids(page) == [p["pid"] for p in by_cpu]
        expect(table.get_by_role("columnheader", name="CPU")).to_have_attribute("aria-sort", "descending")
        first = table.locator("tbody tr").first
        expect(first.locator('[data-metric="cpu"]')).to_have_text(PERCENT)
        expect(first.locator('[data-metric="rss"]')).to_have_text(BYTES)
        # Long text is cut by CSS; the whole of it is in the title.
        with_cmd = next(p for p in by_cpu if p["cmdline"])
        cmd = table.locator(f'tr[data-pid="{with_cmd["pid"]}"] .process-cmd')
        expect(cmd).to_have_attribute("title", with_cmd["cmdline"])
        assert cmd.evaluate("el => getComputedStyle(el).textOverflow") == "ellipsis"

        with page.expect_response(lambda r: "/api/processes?sort=mem" in r.url) as info:
            page.get_by_role("button", name="Memory", exact=True).click()
        by_mem = info.value.json()["processes"]
        assert [p["rss"] for p in by_mem] == sorted((p["rss"] for p in by_mem), reverse=True)
        expect(table).to_have_attribute("data-sort", "mem")
        expect(page.get_by_role("button", name="Memory", exact=True)).to_have_attribute("aria-pressed", "true")
        expect(table.get_by_role("columnheader", name="Memory")).to_have_attribute("aria-sort", "descending")
        assert rows_pids(page) == [p["pid"] for p in by_mem]

        # Refreshed on its own while the page is open, as often as the server
        # says (2.5 samples: 5 s by default, 1.25 s on this test server).
        interval = float(ENV["TORU_SAMPLE_INTERVAL"])
        assert info.value.json()["refresh_s"] == 2.5 * interval
        expect(page.locator("main")).to_contain_text(f"refreshed every {2.5 * interval:g} s")
        with page.expect_response(lambda r: "/api/processes?sort=mem" in r.url, timeout=10_000) as info:
            pass
        refreshed = info.value.json()["processes"]
        expect(table.locator("tbody tr").first).to_have_attribute("data-pid", str(refreshed[0]["pid"]))

        assert seen["errors"] == []
        assert seen["bad_responses"] == []


def test_phone_dashboard_and_monitor_fit_the_screen(monitored, browser):
    with open_page(browser, PHONE) as (page, seen):
        api_sign_in(page, monitored)
        page.goto(url(monitored, "/"))
        expect(page.locator('[data-metric="cpu"]')).to_have_text(PERCENT)
        expect(page.locator(".disk-row").first).to_be_visible()
        expect_no_horizontal_scroll(page, 390)

        page.goto(url(monitored, "/monitor"))
        for chart_id in CHARTS:
            canvas = page.locator(f'[data-chart="{chart_id}"] canvas')
            expect(canvas).to_be_visible()
            box = canvas.bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= 390 and box["width"] > 200, (chart_id, box)
        expect(page.locator(".process-table tbody tr").first).to_be_visible()
        # The table has become cards: no header row, one block per process.
        expect(page.locator(".process-table thead")).not_to_be_in_viewport()
        row = page.locator(".process-table tbody tr").first
        assert row.evaluate("el => getComputedStyle(el).display") == "grid"
        assert row.bounding_box()["width"] <= 390
        expect_no_horizontal_scroll(page, 390)
        # Touch-size range buttons.
        box = page.get_by_role("button", name="24 hours").bounding_box()
        assert box["height"] >= 40, box

        # Turning the phone resizes the charts with their container.
        width = page.locator('[data-chart="cpu"] canvas').bounding_box()["width"]
        page.set_viewport_size({"width": 700, "height": 390})
        page.wait_for_function(
            "w => document.querySelector('[data-chart=\"cpu\"] canvas').getBoundingClientRect().width > w + 100",
            arg=width)
        expect_no_horizontal_scroll(page, 700)

        assert seen["errors"] == []
        assert seen["bad_responses"] == []


def test_client_user_sees_dashboard_and_monitor_and_sign_out_closes_the_socket(monitored, browser):
    with open_page(browser, DESKTOP) as (admin_page, _):
        api_sign_in(admin_page, monitored)
        client = create_user(admin_page, monitored, "viewer", role="client")
    assert client["role"] == "client"

    with open_page(browser, DESKTOP) as (page, seen):
        api_sign_in(page, monitored, "viewer", USER_PASSWORD)
        with page.expect_websocket(lambda ws: ws.url.endswith("/api/ws")) as socket_info:
            page.goto(url(monitored, "/"))
        socket = socket_info.value
        expect(page.locator('[data-metric="cpu"]')).to_have_text(PERCENT)
        expect(page.locator(".live-status")).to_have_text("Live")

        page.get_by_role("navigation", name="Main").get_by_role("link", name="System Monitor").click()
        expect(heading(page)).to_have_text("System Monitor")
        for chart_id in CHARTS:
            expect(page.locator(f'[data-chart="{chart_id}"] canvas')).to_be_visible()
        expect(page.locator(".process-table tbody tr").first).to_be_visible()
        # One socket for the whole app: moving between pages reuses it.
        assert not socket.is_closed()

        # At once, not when the server next checks the session (every 30 s).
        with socket.expect_event("close", timeout=5000):
            page.locator("#sidebar .user-button").click()
            page.get_by_role("menuitem", name="Sign out").click()
        expect(heading(page)).to_have_text("Sign in")

        assert seen["errors"] == []
        assert seen["bad_responses"] == []
