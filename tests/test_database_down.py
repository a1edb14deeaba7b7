"""While the database cannot be reached, every page and API call answers 503 with a clear text (and
Retry-After), never 500; a real bug in a query is still a server error. The recovery itself, under load,
is in tests/test_faults.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.db import Database
from app.main import create_app
from tests.databases import test_settings
from tests.served import free_port


@pytest.fixture
def down() -> Iterator[TestClient]:
    # A port nothing listens on: every connection attempt is refused at once.
    settings = test_settings(f"postgresql://postgres@127.0.0.1:{free_port()}/buurtkas")
    db = Database(settings)
    with TestClient(create_app(settings, db), raise_server_exceptions=False) as client:
        yield client
    db.dispose()


@pytest.mark.parametrize("path", ["/api/v1/initiatives", "/api/v1/areas/GM0141/news", "/feeds/GM0141.atom"])
def test_machine_readers_get_a_problem_with_retry_after(down: TestClient, path: str) -> None:
    response = down.get(path)
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == "5"
    body = response.json()
    assert body["type"] == "/problems/unavailable"
    assert body["title"] == "Even niet bereikbaar"
    english = down.get(path, headers={"Accept-Language": "en"}).json()
    assert english["title"] == "Temporarily unavailable"


def test_a_pledge_gets_503_and_can_be_sent_again(down: TestClient) -> None:
    response = down.post(
        "/api/v1/pledges",
        json={"code": "ABCD-EFGH-JKMN-PQ", "initiative_id": 1},
        headers={"Idempotency-Key": "k1"},
    )
    assert response.status_code == 503
    assert "Probeer het over een paar seconden opnieuw" in response.json()["detail"]


@pytest.mark.parametrize("path", ["/", "/initiatives", "/results"])
def test_residents_get_a_dutch_page(down: TestClient, path: str) -> None:
    response = down.get(path)
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("text/html")
    assert "Even niet bereikbaar" in response.text
    assert "Probeer het over een paar seconden opnieuw" in response.text


def test_readiness_says_unavailable(down: TestClient) -> None:
    assert down.get("/readyz").status_code == 503
    assert down.get("/healthz").status_code == 200


BUGS = {
    "no such table": "SELECT * FROM no_such_table",
    # PostgreSQL files these under OperationalError although the database is fine (SQLSTATE 55000, 54000).
    "currval before nextval": "SELECT currval('bk_no_sequence_yet')",
    "program limit": "SELECT array_fill(1, ARRAY[200000000])",
}


@pytest.mark.parametrize("bug", list(BUGS))
def test_a_bug_in_a_query_is_still_a_server_error(client: TestClient, backend: str, bug: str) -> None:
    from sqlalchemy import text

    from app.main import create_app as build

    if backend == "sqlite" and bug != "no such table":
        pytest.skip("PostgreSQL's own error classes")
    app = build(client.app.state.settings, client.app.state.db)

    @app.get("/broken")
    def broken() -> None:
        with app.state.db.read() as session:
            if bug == "currval before nextval":
                session.execute(text("CREATE TEMPORARY SEQUENCE bk_no_sequence_yet"))
            session.execute(text(BUGS[bug]))

    with TestClient(app, raise_server_exceptions=False) as other:
        assert other.get("/broken").status_code == 500


def test_every_operation_documents_the_503(down: TestClient) -> None:
    document = down.get("/openapi.json").json()
    operations = [op for path in document["paths"].values() for op in path.values()]
    assert operations
    assert all("503" in op["responses"] for op in operations)


def test_metrics_still_answer_and_count_the_outage(down: TestClient) -> None:
    from tests.test_metrics import value

    before = down.get("/metrics")
    assert before.status_code == 200
    assert down.get("/api/v1/initiatives").status_code == 503
    after = down.get("/metrics").text
    assert value(after, "buurtkas_database_up") == 0
    route = {"route": "/api/v1/initiatives"}
    grown = value(after, "buurtkas_http_unavailable_total", **route) - value(
        before.text, "buurtkas_http_unavailable_total", **route
    )
    assert grown == 1
    assert value(after, "buurtkas_http_server_errors_total", **route) == value(
        before.text, "buurtkas_http_server_errors_total", **route
    )
