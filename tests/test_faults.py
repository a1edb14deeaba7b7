"""Faults under load, against real PostgreSQL and the real server (`buurtkas serve --workers 4`).

Sixty-four households give from their phones at the same time, each a euro at a time until its voucher
cannot give another euro (7 x 100 of 750 cents). Meanwhile the app server is killed with SIGKILL and
started again (4 workers), or PostgreSQL is restarted (fast, and immediate: a crash with recovery). Each phone keeps
its request's Idempotency-Key and sends it again after a lost connection or a 503, as the app's own pages
and any sane client do, until it gets an answer.

Then: every pledge that got a 201 is in the ledger, none twice, no pledge exists that was not answered,
every voucher holds exactly 50 cents, `buurtkas ledger verify` is green, and the service came back by
itself (no restart of the app after PostgreSQL's restart). The tests also check that the fault met
requests in flight (sent before it struck, then cut off or answered 503), so they cannot pass by missing
it. Whether a request committed just before its answer was lost cannot be forced from outside; when it
happens the phone's second try gets the stored answer (`Idempotent-Replayed`), and the count is printed.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx2
import pytest
from sqlalchemy import func, select

from app.db import Database
from app.ledger.verify import verify_ledger
from app.migrate import upgrade
from app.models import Pledge
from tests.cli_helpers import BUURTKAS
from tests.databases import TEST_SECRET, test_settings
from tests.pg_cluster import PrivateCluster, server_binaries
from tests.race_helpers import FACE, populate, run_together
from tests.served import ROOT, Server

pytestmark = pytest.mark.race

PHONES = 64
STEP = 100
PER_VOUCHER = FACE // STEP  # 7 pledges of 100; the 50 cents left cannot be given in steps of 100
GIVE_UP_AFTER = 120.0  # seconds a phone keeps trying one request


@dataclass
class Tally:
    """What the phones saw, across all threads."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    answered: list[httpx2.Response] = field(default_factory=list)
    lost_connections: int = 0
    unavailable: int = 0
    server_errors: list[str] = field(default_factory=list)
    fault_at: float = float("inf")
    """When the fault began (monotonic); set by the fault just before it strikes."""
    hit_in_flight: int = 0
    """Requests sent before the fault that then lost their connection or got a 503: the fault met them."""
    abort: threading.Event = field(default_factory=threading.Event)

    def created(self) -> list[dict[str, Any]]:
        return [r.json() for r in self.answered if r.status_code == 201]

    def failed(self, attr: str, started: float, detail: str = "") -> None:
        with self.lock:
            if attr == "server_errors":
                self.server_errors.append(detail)
            else:
                setattr(self, attr, getattr(self, attr) + 1)
            if started < self.fault_at:
                self.hit_in_flight += 1

    def strike(self) -> int:
        """Mark the moment of a fault; returns the in-flight hits so far."""
        with self.lock:
            self.fault_at = time.monotonic()
            return self.hit_in_flight

    def hits_since(self, before: int) -> int:
        with self.lock:
            self.fault_at = float("inf")
            return self.hit_in_flight - before


def send_until_answered(http: httpx2.Client, tally: Tally, key: str, body: dict[str, Any]) -> httpx2.Response:
    """One pledge request, repeated with the same key after a lost connection or a 503."""
    deadline = time.monotonic() + GIVE_UP_AFTER
    while True:
        assert time.monotonic() < deadline, f"no answer for {key} in {GIVE_UP_AFTER} s"
        if tally.abort.is_set():
            raise RuntimeError("stopped: the fault failed")
        started = time.monotonic()
        try:
            response = http.post("/api/v1/pledges", json=body, headers={"Idempotency-Key": key})
        except httpx2.ConnectError:  # nothing listens (the server is starting): never reached it
            tally.failed("lost_connections", float("inf"))
            time.sleep(0.25)  # 64 phones knocking every 50 ms would slow the server's own start
            continue
        except httpx2.TransportError:  # sent, then the connection dropped
            tally.failed("lost_connections", started)
            time.sleep(0.05)
            continue
        if response.status_code == 503:
            assert response.headers["content-type"] == "application/problem+json"
            assert response.headers.get("retry-after")
            tally.failed("unavailable", started)
            time.sleep(0.05)
            continue
        if response.status_code >= 500:
            tally.failed("server_errors", started, f"{response.status_code} {response.text[:200]}")
            time.sleep(0.05)
            continue
        return response


def phone(server: Server, tally: Tally, code: str, initiative_id: int, index: int) -> None:
    """Give a euro at a time until the voucher cannot give another euro."""
    with httpx2.Client(base_url=server.base_url, timeout=30) as http:
        for n in range(PER_VOUCHER + 1):
            body = {"code": code, "initiative_id": initiative_id, "amount_cents": STEP}
            response = send_until_answered(http, tally, f"phone-{index}-{n}", body)
            with tally.lock:
                tally.answered.append(response)
            if n < PER_VOUCHER:
                assert response.status_code == 201, response.text
            else:
                assert response.status_code == 409, response.text
                assert response.json()["type"] == "/problems/voucher-insufficient"


def load_while(server: Server, db: Database, settings: Any, fault: Callable[[Tally], None]) -> Tally:
    """Run the 64 phones; `fault(tally)` runs in its own thread beside them."""
    setup = populate(db, settings, households=PHONES, targets=[20_000] * 4)
    tally = Tally()
    ids = setup.initiative_ids

    def task(index: int) -> None:
        if index < PHONES:
            phone(server, tally, setup.codes[index], ids[index % len(ids)], index)
            return
        try:
            fault(tally)
        except BaseException:
            tally.abort.set()  # the phones stop at once instead of retrying until the time-out
            raise

    results = run_together(PHONES + 1, task, timeout=400)
    if isinstance(results[PHONES], BaseException):
        raise results[PHONES]
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, f"{len(errors)} phone(s) failed, first: {errors[0]!r}"
    return tally


def when_created(tally: Tally, at_least: int) -> None:
    """Wait until `at_least` pledges were answered 201 (the fault then lands in the middle of the load)."""
    deadline = time.monotonic() + 120
    while len(tally.created()) < at_least:
        assert time.monotonic() < deadline, "the load did not get going"
        time.sleep(0.01)


def assert_every_answer_is_in_the_ledger_once(db: Database, tally: Tally) -> None:
    assert tally.server_errors == [], tally.server_errors[:5]
    created = tally.created()
    ids = [body["id"] for body in created]
    assert len(ids) == PHONES * PER_VOUCHER
    assert len(set(ids)) == len(ids), "two answers name the same pledge"
    with db.read() as session:
        rows = session.execute(select(Pledge.id, Pledge.amount_cents)).all()
        counts = session.execute(select(Pledge.voucher_id, func.count()).group_by(Pledge.voucher_id))
        per_voucher = {voucher: count for voucher, count in counts}
        report = verify_ledger(session)
    # Exactly the answered pledges exist: none lost, none twice, none made without an answer.
    assert sorted(row.id for row in rows) == sorted(ids)
    assert {row.amount_cents for row in rows} == {STEP}
    assert len(per_voucher) == PHONES
    assert set(per_voucher.values()) == {PER_VOUCHER}
    assert report.violations == [] and report.total_cents == 0
    # The last answer of each phone saw the 50 cents that are left.
    final = [r.json() for r in tally.answered if r.status_code == 409]
    assert len(final) == PHONES
    assert {body["balance_cents"] for body in final} == {FACE - PER_VOUCHER * STEP}


def cli_verify(database_url: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "DATABASE_URL": database_url,
        "SECRET_KEY": TEST_SECRET,
        "ENVIRONMENT": "test",
    }
    return subprocess.run(
        [str(BUURTKAS), "ledger", "verify"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def assert_recovered(server: Server, database_url: str) -> None:
    assert httpx2.get(f"{server.base_url}/readyz", timeout=10).status_code == 200
    done = cli_verify(database_url)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip().splitlines()[-1].endswith("total 0 cents: OK")


# ------------------------------------------------------------------------------------ kill -9 the app


@pytest.mark.timeout(900)
@pytest.mark.parametrize("backend", ["postgresql"])
def test_sigkill_of_the_server_during_64_concurrent_pledges(
    backend: str, db: Database, settings: Any
) -> None:
    server = Server(settings.database_url, workers=4)
    kills = 1

    def fault(tally: Tally) -> None:
        for round_ in range(1, kills + 1):
            when_created(tally, at_least=round_ * PHONES * PER_VOUCHER // (kills + 1))
            before = tally.strike()
            server.kill()
            time.sleep(0.5)  # the requests in flight see their connections drop
            hits = tally.hits_since(before)
            server.start()  # same port, new processes: the phones reconnect by themselves
            assert hits > 0, "the kill met no request in flight"

    try:
        server.start()
        tally = load_while(server, db, settings, fault)
        assert_every_answer_is_in_the_ledger_once(db, tally)
        assert_recovered(server, settings.database_url)
    except BaseException:
        print(server.log())
        raise
    finally:
        server.stop()
    replayed = sum(1 for r in tally.answered if r.headers.get("idempotent-replayed") == "true")
    print(f"lost connections {tally.lost_connections}, answers replayed after a kill {replayed}")


# ------------------------------------------------------------------------------- restart PostgreSQL


@pytest.fixture
def cluster(postgres_factory: object) -> Iterator[PrivateCluster]:
    if postgres_factory is None:
        pytest.skip("PostgreSQL: set TEST_DATABASE_URL to run the fault suite")
    if server_binaries() is None:
        pytest.fail("PostgreSQL's server binaries are missing (apt-get install postgresql)")
    private = PrivateCluster()
    try:
        private.start()
        private.create_database()
        yield private
    finally:
        private.destroy()


@pytest.mark.timeout(900)
@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_postgresql_restart_under_load(cluster: PrivateCluster, mode: str) -> None:
    settings = test_settings(cluster.url, db_pool_size=5)
    upgrade(settings)
    db = Database(settings)
    server = Server(cluster.url, workers=2)  # the subject is the database; the app's processes are above

    def fault(tally: Tally) -> None:
        when_created(tally, at_least=PHONES * PER_VOUCHER // 3)
        before = tally.strike()
        cluster.restart(mode)  # not a restart of the app: it must find the database again by itself
        assert tally.hits_since(before) > 0, "the restart met no request in flight"

    try:
        server.start()
        tally = load_while(server, db, settings, fault)
        assert_every_answer_is_in_the_ledger_once(db, tally)
        assert tally.unavailable > 0, "no request was answered 503 while PostgreSQL was down"
        assert_recovered(server, cluster.url)
    except BaseException:
        print(server.log(), cluster.log(), sep="\n")
        raise
    finally:
        server.stop()
        db.dispose()
    print(f"503 answers {tally.unavailable}, lost connections {tally.lost_connections}")
