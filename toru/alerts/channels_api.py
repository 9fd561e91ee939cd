"""Routes of alert channels and their deliveries (admins; docs/alerts.md#channels-api):
`/api/alerts/channels*` and `GET /api/alerts/deliveries`."""

import logging

import bottle

from toru.accounts.auth import current_user
from toru.errors import Invalid, NotFound
from toru.web.http import json_body, paging

audit = logging.getLogger("toru.audit")


def channel_id(value):
    try:
        return int(value)
    except ValueError:
        raise NotFound("No alert channel with that id") from None


def register(app, services):
    channels, dispatcher = services.alert_channels, services.alert_dispatcher

    def actor():
        return current_user()["username"]

    @app.get("/api/alerts/channels", role="admin")
    def list_channels():
        return {"channels": channels.list(), "types": channels.types()}

    @app.post("/api/alerts/channels", role="admin", audit="alert_channel.create")
    def create_channel():
        channel = channels.create(json_body())
        audit.info("alert channel created", extra={"actor": actor(), "target": channel["id"],
                                                   "channel": channel["name"], "type": channel["type"]})
        bottle.response.status = 201
        return {"channel": channel}

    @app.get("/api/alerts/channels/<cid>", role="admin")
    def get_channel(cid):
        return {"channel": channels.get(channel_id(cid))}

    @app.put("/api/alerts/channels/<cid>", role="admin", audit="alert_channel.update")
    def update_channel(cid):
        data = json_body()
        channel = channels.update(channel_id(cid), data)
        audit.info("alert channel updated", extra={"actor": actor(), "target": channel["id"],
                                                   "channel": channel["name"], "changes": sorted(data)})
        return {"channel": channel}

    @app.delete("/api/alerts/channels/<cid>", role="admin", audit="alert_channel.delete")
    def delete_channel(cid):
        channel = channels.delete(channel_id(cid))
        audit.info("alert channel deleted", extra={"actor": actor(), "target": channel["id"],
                                                   "channel": channel["name"]})
        return {"success": True}

    @app.post("/api/alerts/channels/<cid>/test", role="admin", audit="alert_channel.test")
    def test_channel(cid):
        """Answers 200 whatever the receiver did: `ok` and `result` (words) say how it went."""
        delivery = dispatcher.test(channel_id(cid))
        audit.info("alert channel tested", extra={"actor": actor(), "target": delivery["channel_id"],
                                                  "ok": delivery["ok"], "result": delivery["result"]})
        return {"ok": delivery["ok"], "result": delivery["result"], "delivery": delivery}

    @app.get("/api/alerts/deliveries", role="admin")
    def list_deliveries():
        query = bottle.request.query
        page, size = paging(query)
        wanted = query.get("channel_id")
        if wanted not in (None, ""):
            try:
                wanted = int(wanted)
            except ValueError:
                raise Invalid("channel_id must be a channel's id (a whole number)") from None
        return dispatcher.deliveries.page(wanted if wanted not in (None, "") else None, page, size)
