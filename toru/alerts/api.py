"""Alert routes (docs/alerts.md#api): rules (admins), what fires and what
fired (every signed-in user, each seeing what they may: engine.may_see),
silences (admins), and the catalogue the rules editor picks from.
The `alerts` live topic is the engine's (`alerts.engine`)."""

import logging

import bottle

from toru.accounts.auth import current_user
from toru.alerts import rules as rules_mod
from toru.alerts.sources import metric_values
from toru.web.http import int_param, json_body, paging

audit = logging.getLogger("toru.audit")


def catalogue(snapshot, plugin_ids):
    """What a rule may name, with the current metric values beside each metric."""
    metrics = [{"metric": name, "label": metric.per,
                "current": [{"labels": labels, "value": value} for labels, value in metric_values(snapshot, name)]}
               for name, metric in rules_mod.METRICS.items()]
    return {"kinds": list(rules_mod.KINDS), "severities": list(rules_mod.SEVERITIES), "ops": list(rules_mod.OPS),
            "metrics": metrics, "task_statuses": list(rules_mod.TASK_STATUSES),
            "plugin_events": list(rules_mod.PLUGIN_EVENTS), "plugins": sorted(plugin_ids),
            "security_events": list(rules_mod.SECURITY_EVENTS)}


def register(app, services):
    engine, rules = services.alerts, services.alert_rules

    def actor():
        return current_user()["username"]

    @app.get("/api/alerts", role="user")
    def list_alerts():
        """Firing and pending now, and a page of history (resolved and one-shot alerts, newest first)."""
        query = bottle.request.query
        page, size = paging(query)
        user = current_user()
        answer = engine.current(user)
        answer.update(engine.history(user, page, size, int_param(query, "rule_id", None)))
        return answer

    @app.post("/api/alerts/<alert_id:int>/silence", role="admin", audit="alert.silence")
    def silence(alert_id):
        data = json_body()
        alert = engine.silence(alert_id, data.get("minutes"))
        audit.info("alert silenced", extra={"actor": actor(), "alert_id": alert_id, "minutes": data.get("minutes")})
        return {"alert": alert}

    @app.get("/api/alerts/catalogue", role="admin")
    def get_catalogue():
        return catalogue(services.monitor.snapshot(), services.plugins.processes)

    @app.get("/api/alerts/rules", role="admin")
    def list_rules():
        return {"rules": rules.list()}

    @app.post("/api/alerts/rules", role="admin", audit="alert_rule.create")
    def create_rule():
        rule = rules.create(json_body(), actor())
        audit.info("alert rule created", extra={"actor": actor(), "rule_id": rule["id"], "kind": rule["kind"]})
        bottle.response.status = 201
        return {"rule": rule}

    @app.get("/api/alerts/rules/<rule_id:int>", role="admin")
    def get_rule(rule_id):
        return {"rule": rules.get(rule_id)}

    @app.put("/api/alerts/rules/<rule_id:int>", role="admin", audit="alert_rule.update")
    def update_rule(rule_id):
        data = json_body()
        rule = rules.update(rule_id, data)
        audit.info("alert rule updated", extra={"actor": actor(), "rule_id": rule_id, "changes": sorted(data)})
        return {"rule": rule}

    @app.delete("/api/alerts/rules/<rule_id:int>", role="admin", audit="alert_rule.delete")
    def delete_rule(rule_id):
        rule = rules.delete(rule_id)
        audit.info("alert rule deleted", extra={"actor": actor(), "rule_id": rule_id, "rule": rule["name"]})
        return {"success": True}
