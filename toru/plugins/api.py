"""Plugin management and routing endpoints: `/api/plugins*` (DESIGN §6)."""

import logging

import bottle
import gevent

from toru.accounts.auth import current_user
from toru.errors import Invalid, NotFound
from toru.plugins import router
from toru.plugins.discovery import check_plugin_id
from toru.plugins.logs import plugin_log_path, read_logs
from toru.web.http import json_body, limit, paging

audit = logging.getLogger("toru.audit")
MAX_EVENTS = 500
LOG_PAGE_MAX = 1000


def checked_id(plugin_id):
    """Ids from URLs are matched against the id rule before anything else:
    nothing that fails it ever reaches a file path."""
    return check_plugin_id(plugin_id)


def push_plugin_changes(manager, topic):
    """An event listener: every event sends the plugin's current card to the
    `plugins` topic, so pages update without polling."""
    def push(event):
        if not topic.subscribers:
            return
        try:
            data = manager.get(event["plugin_id"])
        except NotFound:  # removed from disk
            data = {"id": event["plugin_id"], "removed": True}
        data["event"] = event
        topic.publish(data)
    return push


def register(app, services):
    manager = services.plugins
    config = services.config
    manager.events.listeners.append(push_plugin_changes(manager, services.hub.topic("plugins", public=True)))

    def actor():
        return current_user()["username"]

    @app.get("/api/plugins", role="user")
    def list_plugins():
        result = {"plugins": manager.list()}
        if manager.enabled.problem:
            result["config_problem"] = manager.enabled.problem
        return result

    @app.post("/api/plugins/rescan", role="admin", audit="plugin.rescan")
    def rescan():
        counts = manager.rescan("requested by " + actor())
        audit.info("plugins rescanned", extra=dict(counts, actor=actor()))
        return dict(counts, success=True)

    # Admins only, like each plugin's events: details carry file paths, exit
    # errors and who changed what (clients see each plugin's state on its card).
    @app.get("/api/plugins/events", role="admin")
    def all_events():
        return {"events": manager.events.recent(None, limit(bottle.request.query, 100, MAX_EVENTS))}

    @app.get("/api/plugins/<plugin_id>", role="user")
    def get_plugin(plugin_id):
        return {"plugin": manager.get(checked_id(plugin_id))}

    def action(name, method):
        def handler(plugin_id):
            method(checked_id(plugin_id))
            audit.info(f"plugin {name}", extra={"actor": actor(), "plugin": plugin_id})
            return {"success": True}
        app.post(f"/api/plugins/<plugin_id>/{name}", role="admin", callback=handler, name=f"plugin_{name}", audit=f"plugin.{name}")

    action("enable", manager.enable)
    action("disable", manager.disable)
    action("restart", manager.restart)

    @app.get("/api/plugins/<plugin_id>/events", role="admin")
    def plugin_events(plugin_id):
        manager.get(checked_id(plugin_id))
        return {"events": manager.events.recent(plugin_id, limit(bottle.request.query, 100, MAX_EVENTS))}

    @app.get("/api/plugins/<plugin_id>/logs", role="admin")
    def plugin_logs(plugin_id):
        manager.get(checked_id(plugin_id))
        query = bottle.request.query
        page, size = paging(query, 100, LOG_PAGE_MAX)
        path = plugin_log_path(manager.log_dir, plugin_id)
        # Reading backwards through up to six files is disk work: off the hub.
        logs = gevent.get_hub().threadpool.apply(read_logs, (path, page, size, query.get("level") or None))
        return {"logs": logs, "page": page, "page_size": size}

    @app.get("/api/plugins/<plugin_id>/config", role="admin")
    def get_config(plugin_id):
        manager.get(checked_id(plugin_id))
        return manager.configs.describe(plugin_id)

    @app.put("/api/plugins/<plugin_id>/config", role="admin", audit="plugin.config_update")
    def put_config(plugin_id):
        manager.get(checked_id(plugin_id))  # an unknown plugin is 404 whatever the body
        body = json_body()
        if "config" not in body:
            raise Invalid('The body must be {"config": {…}}: the plugin\'s config object under "config"')
        unknown = sorted(set(body) - {"config"})
        if unknown:
            raise Invalid(f"Unknown field(s) {', '.join(unknown)}: the body is {{\"config\": {{…}}}}")
        result = manager.set_config(plugin_id, body["config"], actor())
        audit.info("plugin config changed", extra={"actor": actor(), "plugin": plugin_id})
        return result

    @app.get("/api/plugins/<plugin_id>/bundle.js", role="user")
    def bundle(plugin_id):
        plugin_id = checked_id(plugin_id)
        try:
            data = router.bundle(manager, plugin_id, current_user(), config.plugin_timeout)
        except NotFound:
            # `?optional=1` (Settings looking for plugin sections): no bundle is
            # an empty script, not an error the browser's console would show.
            if bottle.request.query.get("optional") != "1":
                raise
            data = b""
        return bottle.HTTPResponse(data, 200, {"Content-Type": "application/javascript; charset=utf-8",
                                               "Cache-Control": "no-cache"})

    def forward(segment, rest=""):
        request = bottle.request
        path = "/" + rest
        if request.query_string:
            path += "?" + request.query_string
        status, headers, body = router.forward(
            manager, segment, request.method, path, router.request_headers(request.environ),
            request.body.read(), current_user(), config.plugin_timeout)
        return bottle.HTTPResponse(body, status, headers)

    # `/route/<seg>`, `/route/<seg>/` and `/route/<seg>/x` reach the plugin as `/`, `/` and `/x`.
    app.route("/api/plugins/route/<segment>", "ANY", forward, role="user", name="plugin_route_root", audit="plugin.request")
    app.route("/api/plugins/route/<segment>/", "ANY", forward, role="user", name="plugin_route_slash", audit="plugin.request")
    app.route("/api/plugins/route/<segment>/<rest:path>", "ANY", forward, role="user", name="plugin_route", audit="plugin.request")
