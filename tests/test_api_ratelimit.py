"""Failed attempts with voucher codes are limited per client and in total (over every app process), and a
stopped client gets a clear 429 problem with Retry-After that changes nothing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.db import Database
from app.errors import TooManyAttempts
from app.main import create_app
from tests.api_cases import CLIENT, PROBLEM_JSON, C, P, unknown_code
from tests.databases import test_settings
from tests.dbstate import assert_ledger_ok, failure_counts, snapshot
from tests.factories import World, build_world
from tests.ratelimit_helpers import start_in_one_window

# --- the failed-attempt limits -------------------------------------------------------------------------------


@pytest.fixture
def limited(database_url: str) -> Iterator[tuple[Settings, Database, World]]:
    conf = test_settings(
        database_url, code_failures_per_client=3, code_failures_total=5, code_failure_window_seconds=600
    )
    db = Database(conf)
    world = build_world(db, conf, households=12)
    start_in_one_window(conf.code_failure_window_seconds)
    yield conf, db, world
    db.dispose()


def test_unknown_codes_are_limited_per_client(limited: tuple[Settings, Database, World]) -> None:
    conf, db, world = limited
    with TestClient(create_app(conf, db)) as client:
        # good codes, malformed codes and unknown initiatives are not failures of the code limit
        for code in world.codes[:8]:
            assert client.post(C, json={"code": code}).status_code == 200
        for _ in range(5):
            assert client.post(C, json={"code": "ABC"}).status_code == 422
            assert client.post(P, json={"code": world.codes[0], "initiative_id": 987_654}).status_code == 404
        pledged = client.post(P, json={"code": world.codes[0], "initiative_id": world.initiative_id})
        assert pledged.status_code == 201
        assert failure_counts(db) == {}

        statuses = [
            client.post(C, json={"code": unknown_code()}).status_code,
            client.post(P, json={"code": unknown_code(), "initiative_id": world.initiative_id}).status_code,
            client.post(C, json={"code": unknown_code()}).status_code,
        ]
        assert statuses == [404, 404, 404]
        before = snapshot(db)
        failures = failure_counts(db)
        assert failures == {f"voucher-code:client:{CLIENT}": 3, "voucher-code:total": 3}

        for language, title in (("nl", TooManyAttempts.title), ("en", TooManyAttempts.title_en)):
            for path, body in (
                (C, {"code": unknown_code()}),
                (C, {"code": world.codes[1]}),  # a good code too: this client is stopped for now
                (P, {"code": world.codes[1], "initiative_id": world.initiative_id}),
            ):
                response = client.post(path, json=body, headers={"Accept-Language": language})
                assert response.status_code == 429, response.text
                assert response.headers["content-type"] == PROBLEM_JSON
                retry_after = int(response.headers["Retry-After"])
                assert 1 <= retry_after <= 600
                problem = response.json()
                assert problem["type"] == "/problems/too-many-attempts"
                assert problem["status"] == 429
                assert problem["title"] == title
                assert str(retry_after) in problem["detail"]
        assert problem["detail"] == f"Too many wrong codes were tried. Try again in {retry_after} seconds."
        # refused before looking: nothing changed, not even the counters
        assert snapshot(db) == before
        assert failure_counts(db) == failures
        assert_ledger_ok(db)


def test_total_limit_stops_every_client(limited: tuple[Settings, Database, World]) -> None:
    conf, db, world = limited
    # two app processes on one database, as behind a load balancer
    with (
        TestClient(create_app(conf, db), client=("192.0.2.1", 40000)) as first,
        TestClient(create_app(conf, db), client=("192.0.2.2", 40000)) as second,
    ):
        assert [first.post(C, json={"code": unknown_code()}).status_code for _ in range(4)] == [
            404,
            404,
            404,
            429,
        ]
        assert [second.post(C, json={"code": unknown_code()}).status_code for _ in range(3)] == [
            404,
            404,
            429,
        ]
        assert failure_counts(db) == {
            "voucher-code:client:192.0.2.1": 3,
            "voucher-code:client:192.0.2.2": 2,
            "voucher-code:total": 5,
        }
        # a third client that never failed is stopped too once the total is reached
        with TestClient(create_app(conf, db), client=("192.0.2.3", 40000)) as third:
            response = third.post(C, json={"code": world.codes[0]})
            assert response.status_code == 429
            assert int(response.headers["Retry-After"]) >= 1
            assert response.json()["title"] == "Te veel pogingen"
