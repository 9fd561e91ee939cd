#!/usr/bin/env python3
"""Licensed: a plugin that only does its work with a valid licence key.

The key is bound to this Toru instance (its instance id) and checked with the
SDK's shared-secret scheme. An admin pastes it on the plugin's page; it is
kept in the plugin's KV store under "license_key" (or comes from the
TORU_LICENSE_KEY environment variable, which wins).

Mint a key for this example (the vendor side; never ship this secret's
generator to customers):

    TORU_LICENSE_SECRET=toru-example-secret python3 toru.pyz license generate \
        --instance <instance id shown on the page> --expiry never

Limits, honestly: the secret below ships inside the plugin, so whoever reads
the plugin file can mint keys. This deters casual copying; it is not DRM
(docs/plugins.md, "Licensing").
"""

from toru_plugin import Plugin, Response
from toru_plugin.license import license_key, validate_license

SECRET = "toru-example-secret"   # the vendor's secret, compiled into the plugin
MAX_KEY = 1024

plugin = Plugin(id="licensed", name="Licensed example", version="1.0.0", author="Toru", icon="🔑",
                route="/licensed", description="Shows licensed or unlicensed, and why (an example plugin).")
plugin.bundle("bundle.js")


def status(ctx):
    key = license_key(ctx)
    if not key:
        return {"licensed": False, "reason": "missing", "instance_id": ctx.instance_id}
    check = validate_license(key, ctx.instance_id, SECRET)
    return {"licensed": check.valid, "reason": None if check.valid else check.reason,
            "instance_id": ctx.instance_id}


@plugin.on_init
def report(ctx):
    state = status(ctx)
    ctx.log.info("licence checked", licensed=state["licensed"], reason=state["reason"])


@plugin.route("GET", "/")
def show(request):
    return status(request.ctx)


@plugin.route("GET", "/report")
def paid_feature(request):
    state = status(request.ctx)
    if not state["licensed"]:
        return Response.json({"error": f"not licensed ({state['reason']})"}, 402)
    return {"report": "Everything is fine.", "for": request.user}


@plugin.route("PUT", "/license")
def set_key(request):
    if request.role != "admin":
        return Response.json({"error": "only an admin can change the licence key"}, 403)
    body = request.json()
    key = body.get("key") if isinstance(body, dict) else None
    if not isinstance(key, str) or not key.strip() or len(key) > MAX_KEY:
        return Response.json({"error": f"send {{\"key\": \"...\"}} (at most {MAX_KEY} characters)"}, 400)
    request.ctx.kv.set("license_key", key.strip())
    state = status(request.ctx)
    request.ctx.log.info("licence key changed", user=request.user, licensed=state["licensed"],
                         reason=state["reason"])
    return state


@plugin.route("DELETE", "/license")
def remove_key(request):
    if request.role != "admin":
        return Response.json({"error": "only an admin can change the licence key"}, 403)
    request.ctx.kv.delete("license_key")
    request.ctx.log.info("licence key removed", user=request.user)
    return status(request.ctx)


if __name__ == "__main__":
    plugin.run()
