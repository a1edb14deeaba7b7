"""GET /metrics: requests by route template (never a code or id), pledges and money moved read from the
ledger, failures; not cached, not framable, closed in production without METRICS_TOKEN; several processes
add up (PROMETHEUS_MULTIPROC_DIR)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from app.config import Environment, Settings
from app.db import Database
from app.main import create_app
from app.ops import metrics
from app.ops.metrics import install_metrics
from tests.api_cases import C, P, unknown_code
from tests.databases import test_settings
from tests.factories import World


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(text: str, name: str, **labels: str) -> float:
    return samples(text).get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
def app_client(settings: Settings, db: Database, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setattr(metrics, "DB_CACHE_SECONDS", 0.0)
    app = create_app(settings, db)
    install_metrics(app)
    install_metrics(app)  # a second call changes nothing (no double counting)
    with TestClient(app) as test_client:
        yield test_client


def scrape(client: TestClient, **headers: str) -> str:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


def test_requests_pledges_and_money(app_client: TestClient, world: World) -> None:
    client = app_client
    before = scrape(client)
    code = world.codes[0]
    assert client.post(C, json={"code": code}).status_code == 200
    assert client.post(C, json={"code": unknown_code()}).status_code == 404
    pledged = client.post(P, json={"code": code, "initiative_id": world.initiative_id, "amount_cents": 300})
    assert pledged.status_code == 201, pledged.text
    assert client.get(f"/initiatives/{world.initiative_id}").status_code == 200
    assert client.get("/api/v1/nothing-here/ABCD").status_code == 404
    after = scrape(client)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("buurtkas_http_requests_total", method="POST", route=C, status="2xx") == 1
    assert delta("buurtkas_http_requests_total", method="POST", route=C, status="4xx") == 1
    assert delta("buurtkas_http_requests_total", method="POST", route=P, status="2xx") == 1
    page = "/initiatives/{initiative_id}"
    assert delta("buurtkas_http_requests_total", method="GET", route=page, status="2xx") == 1
    assert delta("buurtkas_http_requests_total", method="GET", route="unmatched", status="4xx") == 1
    assert delta("buurtkas_http_request_duration_seconds_count", method="POST", route=P) == 1
    # the scrapes themselves are not counted
    assert not any(labels and ("route", "/metrics") in labels for _, labels in samples(after))

    # read from the tables: exact whichever process answers
    assert delta("buurtkas_pledges_total") == 1 and delta("buurtkas_pledges_returned_total") == 0
    assert delta("buurtkas_pledged_cents_total") == 300
    assert delta("buurtkas_ledger_moved_cents_total", kind="pledge") == 300
    assert delta("buurtkas_ledger_transfers_total", kind="pledge") == 1
    assert (
        value(after, "buurtkas_ledger_moved_cents_total", kind="issue")
        == 40 * world.settings.default_voucher_value_cents
    )
    assert value(after, "buurtkas_database_up") == 1
    for status in ("pending", "sent", "failed"):
        assert ("buurtkas_outbox_messages", (("status", status),)) in samples(after)
    assert ("buurtkas_donation_refunds", (("status", "failed"),)) in samples(after)
    assert ("buurtkas_stripe_events_unprocessed", (("state", "failed"),)) in samples(after)

    # no code, id or personal data anywhere in the scrape
    for secret in (code, code.replace("-", ""), str(world.initiative_id) + "}", "testclient", "@"):
        assert secret not in after


def test_not_cached_not_framed(app_client: TestClient) -> None:
    response = app_client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert "/metrics" not in app_client.get("/openapi.json").text


def test_webhook_refusals_and_server_errors_are_counted(app_client: TestClient) -> None:
    before = scrape(app_client)
    refused = app_client.post("/webhooks/stripe", content=b"{}", headers={"Stripe-Signature": "t=1,v1=00"})
    assert 400 <= refused.status_code < 500
    after = scrape(app_client)
    assert (
        value(after, "buurtkas_webhook_refusals_total") - value(before, "buurtkas_webhook_refusals_total")
        == 1
    )

    before = scrape(app_client)
    metrics.record({"type": "http", "method": "GET", "route": None}, 500, 0.01)
    metrics.record({"type": "http", "method": "GET", "route": None}, 503, 0.01)
    metrics.record({"type": "http", "method": "GET", "route": None}, 503, 0.01)
    after = scrape(app_client)

    def grew(name: str) -> float:
        return value(after, name, route="unmatched") - value(before, name, route="unmatched")

    # A bug and an outage are told apart: alert on each on its own.
    assert (grew("buurtkas_http_server_errors_total"), grew("buurtkas_http_unavailable_total")) == (1, 2)


def test_database_down_still_answers(tmp_path: Path) -> None:
    conf = test_settings(f"sqlite:///{tmp_path / 'missing' / 'x.db'}")
    text = metrics.exposition(None, metrics.DatabaseCollector(Database(conf), cache_seconds=0)).decode()
    assert value(text, "buurtkas_database_up") == 0


@pytest.mark.parametrize("backend", ["sqlite"])
def test_access_in_production(database_url: str, db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("METRICS_TOKEN", raising=False)
    for token, headers, expected in (
        ("", {}, 404),
        ("", {"Authorization": "Bearer anything"}, 404),
        ("s3cret-token-for-prometheus", {}, 404),
        ("s3cret-token-for-prometheus", {"Authorization": "Bearer wrong"}, 404),
        ("s3cret-token-for-prometheus", {"Authorization": "Bearer s3cret-token-for-prometheus"}, 200),
    ):
        monkeypatch.setenv("METRICS_TOKEN", token)
        conf = test_settings(
            database_url, environment=Environment.production, secret_key="x" * 40, metrics_token=token
        )
        app = create_app(conf, db)
        install_metrics(app)
        with TestClient(app, base_url="https://testserver") as client:
            response = client.get("/metrics", headers=headers)
            assert response.status_code == expected, (token, headers)
            assert response.headers["cache-control"] == "no-store"
            if expected == 404:  # just like a path that does not exist
                assert response.json() == client.get("/healthz/nothing").json()


WORKER = """
import sys
from app.ops import metrics
for _ in range(int(sys.argv[1])):
    metrics.record({"type": "http", "method": "POST", "route": None}, 201, 0.02)
"""


def test_several_processes_add_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    directory = tmp_path / "prom"
    directory.mkdir()
    env = {"PROMETHEUS_MULTIPROC_DIR": str(directory), "PATH": "/usr/bin:/bin"}
    for count in (3, 4):
        subprocess.run([sys.executable, "-c", WORKER, str(count)], env=env, check=True, cwd=Path.cwd())
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(directory))
    text = metrics.exposition(None).decode()
    (directory / "unrelated.txt").write_text("kept")
    metrics.prepare_multiprocess_dir()  # what `buurtkas serve` does before starting the workers
    assert [path.name for path in directory.iterdir()] == ["unrelated.txt"]
    assert value(text, "buurtkas_http_requests_total", method="POST", route="unmatched", status="2xx") == 7
    assert value(text, "buurtkas_http_request_duration_seconds_count", method="POST", route="unmatched") == 7
