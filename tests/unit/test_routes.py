"""Every route declares who may call it, and the app refuses to start when
one does not."""

import pytest

from toru.accounts.auth import ROLE_LEVELS, check_routes


def test_every_registered_route_declares_a_role(app):
    assert len(app.routes) > 10
    for route in app.routes:
        assert route.config.get("role") in ROLE_LEVELS, f"{route.method} {route.rule} declares no role"


def test_a_route_without_a_role_stops_the_app(app):
    @app.get("/api/forgot-the-role")
    def forgot():
        return {}

    with pytest.raises(RuntimeError, match="GET /api/forgot-the-role"):
        check_routes(app)


def test_public_routes_are_only_the_expected_ones(app):
    public = {(r.method, r.rule) for r in app.routes if r.config["role"] == "public"}
    assert public == {
        ("GET", "/api/health"), ("POST", "/api/auth/login"), ("POST", "/api/auth/logout"), ("GET", "/api/auth/session"),
        ("GET", "/static/<path:path>"), ("GET", "/"), ("GET", "/<path:re:(?!api(?:/|$)|static/).*>"),
    }
