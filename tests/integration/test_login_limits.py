"""Login rate limiting on a real server (each test on its own server, since
failures lock the loopback address)."""

import concurrent.futures
import sqlite3
import time

from helpers import ADMIN_PASSWORD, Client

LOGIN = "/api/auth/login"


def attempt(proc, username, password, headers=None):
    # A plain Client: the address comes only from `headers` (or the socket).
    return Client(proc.url).post(LOGIN, json={"username": username, "password": password}, headers=headers)


def test_three_failures_lock_for_a_minute_even_the_right_password(fresh_server):
    proc = fresh_server().start()
    for _ in range(2):
        res = attempt(proc, "admin", "wrong password!!")
        assert res.status == 401 and "retry_after" not in res.json
    res = attempt(proc, "admin", "wrong password!!")
    # The failure that starts the lock says so at once.
    assert res.status == 401 and res.json["error"] == "Invalid username or password"
    assert 55 <= res.json["retry_after"] <= 60
    res = attempt(proc, "admin", ADMIN_PASSWORD)
    assert res.status == 429
    body = res.json
    assert 55 <= body["retry_after"] <= 60 and res.header("retry-after") == str(body["retry_after"])
    assert abs(body["locked_until"] - (time.time() + body["retry_after"])) < 3
    assert body["error"]


def test_success_resets_the_username_count(fresh_server):
    proc = fresh_server(env={"TRUST_PROXY": "1"}).start()
    ip = iter(f"10.0.0.{i}" for i in range(1, 50))
    for _ in range(2):
        assert attempt(proc, "admin", "wrong password!!", {"CF-Connecting-IP": next(ip)}).status == 401
    assert attempt(proc, "admin", ADMIN_PASSWORD, {"CF-Connecting-IP": next(ip)}).status == 200
    for _ in range(2):
        assert attempt(proc, "admin", "wrong password!!", {"CF-Connecting-IP": next(ip)}).status == 401
    assert attempt(proc, "admin", ADMIN_PASSWORD, {"CF-Connecting-IP": next(ip)}).status == 200


def test_ip_limit_covers_many_usernames(fresh_server):
    proc = fresh_server().start()
    for name in ("a1", "b2", "c3"):
        assert attempt(proc, name, "wrong password!!").status == 401
    assert attempt(proc, "admin", ADMIN_PASSWORD).status == 429


def test_spoofed_forwarded_for_does_not_evade_the_ip_limit_without_trust_proxy(fresh_server):
    proc = fresh_server().start()
    for i, name in enumerate(("a1", "b2", "c3")):
        headers = {"X-Forwarded-For": f"203.0.113.{i}", "CF-Connecting-IP": f"198.51.100.{i}"}
        assert attempt(proc, name, "wrong password!!", headers).status == 401
    res = attempt(proc, "d4", "wrong password!!", {"X-Forwarded-For": "203.0.113.99"})
    assert res.status == 429
    conn = sqlite3.connect(proc.data_dir / "toru.db")
    ips = {ip for (ip,) in conn.execute("SELECT ip FROM login_attempts")}
    conn.close()
    assert ips == {"127.0.0.1"}


def test_trust_proxy_uses_the_proxy_headers(fresh_server):
    proc = fresh_server(env={"TRUST_PROXY": "1"}).start()
    attempt(proc, "x1", "wrong password!!", {"CF-Connecting-IP": "198.51.100.7"})
    attempt(proc, "x2", "wrong password!!", {"X-Forwarded-For": "6.6.6.6, 203.0.113.5, 127.0.0.1"})
    conn = sqlite3.connect(proc.data_dir / "toru.db")
    ips = [ip for (ip,) in conn.execute("SELECT ip FROM login_attempts ORDER BY id")]
    conn.close()
    assert ips == ["198.51.100.7", "203.0.113.5"]


def test_fifty_concurrent_wrong_passwords_get_exactly_the_tier(fresh_server):
    proc = fresh_server(env={"TRUST_PROXY": "1"}).start()

    def one(i):
        # Each from its own address: only the username limit applies.
        return attempt(proc, "admin", f"wrong password {i}", {"CF-Connecting-IP": f"10.1.0.{i + 1}"}).status

    with concurrent.futures.ThreadPoolExecutor(max_workers=50) as pool:
        statuses = list(pool.map(one, range(50)))
    assert statuses.count(401) == 3, statuses
    assert statuses.count(429) == 47
    conn = sqlite3.connect(proc.data_dir / "toru.db")
    verified = conn.execute("SELECT count(*) FROM login_attempts WHERE reason = 'bad_password'").fetchone()[0]
    locked = conn.execute("SELECT count(*) FROM login_attempts WHERE reason = 'locked'").fetchone()[0]
    conn.close()
    assert (verified, locked) == (3, 47)
    assert attempt(proc, "admin", ADMIN_PASSWORD, {"CF-Connecting-IP": "10.2.0.1"}).status == 429
