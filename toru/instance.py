"""What this instance is and whether it is up: `/api/health`."""

import time

from toru import __version__


def register(app, services):
    @app.get("/api/health", role="public")
    def health():
        return {"status": "ok", "version": __version__,
                "uptime_s": round(time.time() - services.started_at, 3)}
