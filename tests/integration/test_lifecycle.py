"""Start-up and shutdown of the real server process."""

import signal

import psutil
import pytest

from helpers import request


def processes_using(path):
    found = []
    for p in psutil.process_iter(["cmdline"]):
        try:
            if any(str(path) in part for part in p.info["cmdline"] or []):
                found.append(p)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return found


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_gracefully_with_exit_0(fresh_server, sig):
    proc = fresh_server().start()
    client = proc.client()
    assert client.get("/api/health").status == 200
    assert proc.stop(sig) == 0
    with pytest.raises(OSError):
        request(proc.url, "GET", "/api/health", timeout=1)
    log = (proc.data_dir / "logs" / "toru.log").read_text()
    assert '"message": "shutting down"' in log and '"message": "stopped"' in log
    assert processes_using(proc.data_dir) == [], "a process of this server outlived it"


def test_keep_alive_connection_does_not_hold_up_shutdown(fresh_server):
    import http.client
    import time
    proc = fresh_server().start()
    conn = http.client.HTTPConnection("127.0.0.1", proc.port, timeout=10)
    conn.request("GET", "/api/health")
    assert conn.getresponse().read()  # connection now idle in keep-alive
    started = time.monotonic()
    assert proc.stop() == 0
    assert time.monotonic() - started < 8
    conn.close()


def test_console_names_the_url(fresh_server):
    proc = fresh_server().start()
    assert f"listening on {proc.url}" in proc.console()
