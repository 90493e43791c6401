"""Operational routes: health, readiness (also with Postgres down), metrics, OpenAPI, docs."""

from __future__ import annotations

import dataclasses

from prometheus_client.parser import text_string_to_metric_families

from services.api import create_app
from tests.api.conftest import bearer
from tests.ports import unused_port


def test_healthz_and_readyz_answer_when_the_database_is_up(client):
    assert client.get("/healthz").json == {"status": "ok"}
    assert client.get("/readyz").json == {"status": "ready"}


def test_with_postgres_unreachable_the_app_starts_and_answers_503(settings):
    down = dataclasses.replace(
        settings, api_database_url=f"postgresql://pmsync_api:secret-pw@127.0.0.1:{unused_port()}/x")
    app = create_app(down, pool_size=1)
    try:
        client = app.test_client()
        assert client.get("/healthz").status_code == 200
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.json["error"]["code"] == "not_ready"
        listed = client.get("/api/integrations/pms/bookings/", headers=bearer("pmk_" + "a" * 43))
        assert listed.status_code == 503
        assert listed.json["error"]["code"] == "database_unavailable"
        assert b"secret-pw" not in ready.data + listed.data
    finally:
        app.extensions["pmsync_pool"].close()


def _samples(client) -> dict[tuple, float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    out = {}
    for family in text_string_to_metric_families(response.data.decode()):
        for s in family.samples:
            if s.name == "pmsync_api_requests_total":
                out[(s.labels["method"], s.labels["route"], s.labels["status"])] = s.value
    return out


def test_metrics_count_requests_by_route_template_and_status(client, seed):
    hotel = seed.hotel()
    seed.booking(hotel, "R-1")
    key = seed.key(hotel)
    before = _samples(client)
    for external_id in ("R-1", "R-1", "missing"):
        client.get(f"/api/integrations/pms/bookings/{external_id}/", headers=bearer(key))
    client.get("/no/such/route")
    after = _samples(client)
    route = "/api/integrations/pms/bookings/<external_id>/"

    def delta(labels):
        return after.get(labels, 0) - before.get(labels, 0)

    assert delta(("GET", route, "200")) == 2
    assert delta(("GET", route, "404")) == 1
    assert delta(("GET", "<unmatched>", "404")) == 1
    text = client.get("/metrics").data.decode()
    assert "pmsync_api_request_duration_seconds_bucket" in text
    assert "R-1" not in text and key not in text


def test_openapi_documents_exactly_the_routes_served(app, client):
    spec = client.get("/openapi.json").json
    assert spec["openapi"].startswith("3.")
    documented = {(path, method.upper()) for path, ops in spec["paths"].items() for method in ops}
    served = set()
    for rule in app.url_map.iter_rules():
        path = rule.rule.replace("<", "{").replace(">", "}")
        served |= {(path, m) for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert documented == served


def test_docs_page_is_self_contained_html_listing_every_operation(client):
    response = client.get("/docs")
    assert response.status_code == 200 and response.mimetype == "text/html"
    page = response.data.decode()
    assert "<script" not in page and "http://" not in page and "https://" not in page
    for path in client.get("/openapi.json").json["paths"]:
        assert path in page
