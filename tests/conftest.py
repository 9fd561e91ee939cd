"""Shared fixtures: real servers, clients and a real browser.

- `server`: one Toru process per test module, shared by its tests.
- `fresh_server`: a factory for tests that restart, crash or reconfigure.
- `client`: a cookie-keeping HTTP client for `server`.
- `app`: an in-process app from `create_app` on a temp data dir.
- `browser`: headless Debian chromium through Playwright; skipped when
  chromium is missing, unless TORU_REQUIRE_E2E=1 (CI), then it fails.
"""

import os
import shutil
import sys
from pathlib import Path

import gevent
import pytest

# CI's GEVENT_MONITOR_THREAD_ENABLE=1 is for the servers the tests start
# (ServerProcess.stop fails a test whose server's hub was blocked). In this
# process the main greenlet runs the tests themselves, which block by
# design: its reports were thousands of lines of noise in CI's output.
gevent.config.monitor_thread = False

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "sdk_py"))

from helpers import ADMIN_PASSWORD, ServerProcess  # noqa: E402

CHROMIUM = os.environ.get("TORU_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update"]


def pytest_collection_modifyitems(items):
    # Every browser test is `e2e`, so `-m "not e2e"` leaves them out.
    for item in items:
        if "/e2e/" in item.path.as_posix():
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    # TRUST_PROXY lets each client() speak from its own address (see
    # ServerProcess.client); rate-limit and proxy tests use fresh_server.
    proc = ServerProcess(tmp_path_factory.mktemp("data") / "data", env={"TRUST_PROXY": "1"}).start()
    yield proc
    proc.stop()


@pytest.fixture
def fresh_server(tmp_path):
    started = []

    def make(data_dir=None, **kwargs):
        proc = ServerProcess(data_dir or tmp_path / f"data{len(started)}", **kwargs)
        started.append(proc)
        return proc

    yield make
    for proc in started:
        proc.stop()


@pytest.fixture
def client(server):
    return server.client()


@pytest.fixture
def admin(server):
    """A client signed in as the env admin."""
    c = server.client()
    res = c.post("/api/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD})
    assert res.status == 200, res
    return c


@pytest.fixture
def make_user(server, admin):
    """Create a DB user through the API; returns (client signed in as it, user)."""
    import secrets
    made = []

    def make(role="client", password="correct horse battery staple"):
        username = f"u{secrets.token_hex(4)}"
        res = admin.post("/api/users", json={"username": username, "password": password, "role": role})
        assert res.status == 201, res
        c = server.client()
        assert c.post("/api/auth/login", json={"username": username, "password": password}).status == 200
        made.append(res.json["user"])
        return c, res.json["user"]
    return make


@pytest.fixture
def app(tmp_path):
    from toru.app import create_app
    from toru.config import Config
    application = create_app(Config(data_dir=tmp_path, admin_password="x" * 16))
    yield application
    application.services.stop(timeout=1)


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is None:
        message = f"no chromium at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("TORU_REQUIRE_E2E") == "1":
            pytest.fail(message + "; TORU_REQUIRE_E2E=1 requires browser tests to run")
        pytest.skip(message)
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield instance
        instance.close()
