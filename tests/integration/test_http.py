"""HTTP conventions on a real server: JSON errors, security headers, static
files, SPA fallback, health."""

import pytest

from helpers import request

SECURITY = {
    "content-security-policy": "default-src 'self'",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
}


def assert_security_headers(res):
    for name, value in SECURITY.items():
        assert value in res.header(name, ""), (name, res.headers)
    csp = res.header("content-security-policy")
    script_src = next(part for part in csp.split(";") if part.strip().startswith("script-src"))
    assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src


def test_health(client):
    res = client.get("/api/health")
    assert res.status == 200
    body = res.json
    assert body["status"] == "ok" and body["version"] and body["uptime_s"] >= 0
    assert res.header("content-type").startswith("application/json")


@pytest.mark.parametrize("method,path,status", [
    ("GET", "/api/does-not-exist", 404),
    ("POST", "/api/does-not-exist", 404),
    ("DELETE", "/api", 404),
    ("POST", "/api/health", 405),
    ("GET", "/static/nope.js", 404),
])
def test_errors_are_json(client, method, path, status):
    res = client.request(method, path)
    assert res.status == status
    assert res.header("content-type").startswith("application/json")
    assert isinstance(res.json["error"], str) and res.json["error"]
    assert "Traceback" not in res.text
    assert_security_headers(res)


@pytest.mark.parametrize("path", ["/api/health", "/", "/settings", "/static/js/app.js", "/api/nope"])
def test_security_headers_on_every_response(client, path):
    assert_security_headers(client.get(path))


@pytest.mark.parametrize("path", ["/", "/settings", "/history?highlight_task=3", "/plugin/hello/deep/link"])
def test_spa_fallback_serves_index_html(client, path):
    res = client.get(path)
    assert res.status == 200
    assert res.header("content-type").startswith("text/html")
    assert b'<script type="module" src="/static/js/app.js"></script>' in res.body


def test_static_files_have_mime_types_and_revalidate_with_etag(client):
    for path, mime in [("/static/js/app.js", "text/javascript"), ("/static/css/base.css", "text/css"),
                       ("/static/favicon.svg", "image/svg+xml")]:
        res = client.get(path)
        assert res.status == 200, path
        assert res.header("content-type").startswith(mime), (path, res.headers)
        etag = res.header("etag")
        assert etag and res.header("cache-control") == "no-cache"
        again = client.get(path, headers={"If-None-Match": etag})
        assert again.status == 304 and again.body == b""


@pytest.mark.parametrize("path", ["/static/../toru.db", "/static/%2e%2e/toru.db", "/static/..%2ftoru.db",
                                  "/static/%2e%2e/%2e%2e/etc/passwd"])
def test_static_path_traversal_is_refused(server, path):
    status, headers, body = request(server.url, "GET", path)
    assert status in (403, 404)
    assert b"SQLite" not in body and b"root:" not in body
