"""`GET /metrics` for Prometheus (docs/monitoring.md#get-metrics-prometheus).

The encoding lives in `prometheus.py`, imported by the first scrape:
prometheus_client costs ~1.7 MiB of memory and ~14 ms of every start, and
most servers are never scraped.
"""

import bottle


def register(app, services):
    scraper = []  # the app's `Metrics`, built by the first scrape

    @app.get("/metrics", role="metrics")
    def scrape():
        if not scraper:
            from toru.monitor import prometheus
            scraper.append(prometheus.for_services(services, app.status_counts))
        body, content_type = scraper[0].render(bottle.request.get_header("Accept"))
        bottle.response.content_type = content_type
        return body
