"""What this instance is and whether it is up: `/api/health`, `/api/instance`."""

import time

from toru import __version__


def register(app, services):
    @app.get("/api/health", role="public")
    def health():
        return {"status": "ok", "version": __version__,
                "uptime_s": round(time.time() - services.started_at, 3)}

    @app.get("/api/instance", role="admin")
    def instance():
        return {"instance_id": services.instance_id, "version": __version__,
                "started_at": services.started_at, "data_dir": str(services.config.data_dir),
                "notices": services.notices}
