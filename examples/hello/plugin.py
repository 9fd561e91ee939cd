#!/usr/bin/env python3
"""Hello: the smallest useful Toru plugin — a JSON route, a visit counter kept
in Toru's key-value store, a page (bundle.js) and structured logs.

Run it from a checkout with `PYTHONPATH=sdk_py python3 examples/hello/plugin.py --metadata`;
`./build.sh plugins` turns it into plugins/hello.binary (SDK and page included).
"""

import threading

from toru_plugin import Plugin

plugin = Plugin(id="hello", name="Hello", version="1.0.0", author="Toru", icon="👋", route="/hello",
                description="Says hello and counts visits (an example plugin).")
plugin.bundle("bundle.js")      # served on GET /bundle.js: the page in Toru's UI
counting = threading.Lock()     # requests run in threads: one increment at a time


@plugin.on_init
def ready(ctx):
    ctx.log.info("hello is ready", instance_id=ctx.instance_id, visits=ctx.kv.get("visits", "0"))


@plugin.route("GET", "/")
def hello(request):
    return {"message": f"Hello, {request.user or 'stranger'}!", "visits": int(request.ctx.kv.get("visits", "0"))}


@plugin.route("POST", "/visits")
def visit(request):
    with counting:
        visits = int(request.ctx.kv.get("visits", "0")) + 1
        request.ctx.kv.set("visits", str(visits))
    request.ctx.log.info("visit counted", user=request.user, visits=visits)
    return {"visits": visits}


if __name__ == "__main__":
    plugin.run()
