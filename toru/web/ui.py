"""Serves the web UI: files under `/static/`, and `index.html` for every
other non-API path so deep links and reloads work (SPA fallback).

In a checkout the files come from `<repo>/static`; in the pyz they are the
`toru.static` package data (setup.cfg maps `static/` there), which shiv
extracts next to the code on first start.
"""

import mimetypes
from pathlib import Path

import bottle

# Module scripts need a JavaScript MIME type whatever /etc/mime.types says.
for _type, _ext in (("text/javascript", ".js"), ("text/javascript", ".mjs"), ("text/css", ".css"),
                    ("image/svg+xml", ".svg"), ("font/woff2", ".woff2"), ("application/json", ".map")):
    mimetypes.add_type(_type, _ext)


def static_root():
    """`static/` of a checkout, else the `toru.static` package the pyz carries."""
    package = Path(__file__).resolve().parent.parent  # toru/
    checkout = package.parent / "static"
    if (checkout / "index.html").is_file():
        return checkout
    return package / "static"


def serve_file(path, root):
    # ETag revalidation: the browser keeps its copy and asks with If-None-Match
    # (304 when unchanged), so an upgraded pyz is picked up on the next load.
    res = bottle.static_file(path, root=str(root))
    res.set_header("Cache-Control", "no-cache")
    return res


def register(app, services):
    root = static_root()

    @app.get("/static/<path:path>", role="public")
    def static(path):
        return serve_file(path, root)

    # Any GET outside /api and /static is a page of the UI. /api is excluded
    # in the pattern so unknown API paths stay 404 (or 405) for every method.
    @app.get("/", role="public")
    @app.get("/<path:re:(?!api(?:/|$)|static/).*>", role="public")
    def index(path=""):
        return serve_file("index.html", root)
