"""Helpers for the race tests: populate a database, release threads together, measure that they overlapped,
and read back what the database holds.

Every race starts its threads behind a `threading.Barrier` so they hit the database together.
`PeakConnections` measures how many connections were really in use at the same time, so a test that
accidentally serialised would fail instead of passing vacuously.
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx2
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from app.config import Settings
from app.db import Database
from app.households.service import COLUMNS as HOUSEHOLD_COLUMNS
from app.households.service import import_households
from app.kit.clock import today as amsterdam_today
from app.ledger.verify import verify_ledger
from app.models import Pledge
from app.vouchers import service as voucher_service
from tests.factories import BUURTEN, issue_period, load_areas, make_initiative, write_csv

FACE = 750
T = TypeVar("T")


# --------------------------------------------------------------------------------------------- helpers


def household_csv_rows(count: int) -> list[tuple[Any, ...]]:
    """`count` distinct addresses (tests.factories.household_rows repeats addresses from 199 on)."""
    return [
        ("", f"76{n // 100:02d}AB", n % 100 + 1, "", "", "Grotestraat", "Almelo", BUURTEN[n % len(BUURTEN)])
        for n in range(count)
    ]


@dataclass
class Setup:
    codes: list[str]
    initiative_ids: list[int]


def populate(
    db: Database,
    settings: Settings,
    *,
    households: int,
    targets: list[int],
    today: date | None = None,
    ends_on: date | None = None,
) -> Setup:
    """Areas, `households` households with one voucher each (an open period), published initiatives."""
    day = today or amsterdam_today()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)

        def work(session: Session) -> Setup:
            load_areas(session, tmp)
            path = write_csv(tmp / "households.csv", HOUSEHOLD_COLUMNS, household_csv_rows(households))
            import_households(session, path, actor="test", deactivate_missing=False)
            codes = issue_period(session, today=day, ends_on=ends_on)
            ids = [
                make_initiative(
                    session,
                    settings,
                    target_cents=target,
                    title=f"Initiatief {n}",
                    today=day,
                    deadline=day + timedelta(days=60),
                )
                for n, target in enumerate(targets)
            ]
            return Setup(codes=[codes[k] for k in sorted(codes)], initiative_ids=ids)

        setup = db.run_write(work)
    assert len(setup.codes) == households
    return setup


def run_together(count: int, task: Callable[[int], T], *, timeout: float = 120) -> list[T | BaseException]:
    """Run `task(0..count-1)` in `count` threads released at once by a barrier; returns results in order."""
    barrier = threading.Barrier(count)
    results: list[T | BaseException | None] = [None] * count

    def runner(index: int) -> None:
        try:
            barrier.wait(timeout=timeout)
            results[index] = task(index)
        except BaseException as exc:  # reported to the test below, never swallowed
            results[index] = exc

    threads = [threading.Thread(target=runner, args=(i,), daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    assert not any(thread.is_alive() for thread in threads), "threads still running after the timeout"
    return results  # type: ignore[return-value]


def responses_only(results: list[httpx2.Response | BaseException]) -> list[httpx2.Response]:
    """Every request got an HTTP answer (an exception here is a server error re-raised by TestClient)."""
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, f"{len(errors)} request(s) raised, first: {errors[0]!r}"
    responses = [r for r in results if isinstance(r, httpx2.Response)]
    assert len(responses) == len(results)
    return responses


class PeakConnections:
    """Samples how many connections are in use at once while a race runs.

    In-process: the pooled connections checked out. On PostgreSQL also the server's view, the backends of
    this database inside a transaction (pg_stat_activity), which counts the connections of other processes
    too (`buurtkas serve --workers 4` in tests.served). The peak is the larger of the two.
    """

    def __init__(self, db: Database) -> None:
        self.db = db
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        pool: Any = self.db.engine.pool
        server = self._server_view()
        try:
            while not self._stop.is_set():
                in_transaction = 0
                if server is not None:
                    in_transaction = int(server.execute(_IN_TRANSACTION).fetchone()[0])
                self.peak = max(self.peak, int(pool.checkedout()), in_transaction)
                time.sleep(0.0005)
        finally:
            if server is not None:
                server.close()

    def _server_view(self) -> Any:
        if self.db.is_sqlite:
            return None
        import psycopg

        url = self.db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        return psycopg.connect(url, autocommit=True)

    def __enter__(self) -> PeakConnections:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


_IN_TRANSACTION = (
    "SELECT count(*) FROM pg_stat_activity"
    " WHERE datname = current_database() AND pid <> pg_backend_pid() AND xact_start IS NOT NULL"
)


@contextmanager
def overlapping(db: Database, *, at_least: int) -> Iterator[PeakConnections]:
    with PeakConnections(db) as peak:
        yield peak
    assert peak.peak >= at_least, f"only {peak.peak} connection(s) in use at once: the race did not overlap"


def assert_ledger_ok(db: Database) -> None:
    with db.read() as session:
        report = verify_ledger(session)
    assert report.violations == []
    assert report.total_cents == 0


def voucher_balance(db: Database, code: str) -> int:
    with db.read() as session:
        return voucher_service.lookup(session, code).balance_cents


def voucher_balances(db: Database, codes: list[str]) -> list[int]:
    with db.read() as session:
        return [voucher_service.lookup(session, code).balance_cents for code in codes]


def pledged_cents(db: Database, initiative_id: int) -> int:
    with db.read() as session:
        return int(
            session.execute(
                text("SELECT pledged_cents FROM initiatives WHERE id = :id"), {"id": initiative_id}
            ).scalar_one()
        )


def pledge_rows(db: Database) -> list[tuple[int, int, int]]:
    """(voucher id, initiative id, amount) of every pledge, in id order."""
    with db.read() as session:
        return [
            (int(v), int(i), int(a))
            for v, i, a in session.execute(
                select(Pledge.voucher_id, Pledge.initiative_id, Pledge.amount_cents).order_by(Pledge.id)
            ).all()
        ]


def pledge(client: TestClient, code: str, initiative_id: int, amount: int | None = None, **kw: Any) -> Any:
    body: dict[str, Any] = {"code": code, "initiative_id": initiative_id}
    if amount is not None:
        body["amount_cents"] = amount
    return client.post("/api/v1/pledges", json=body, **kw)


def wait_until(condition: Callable[[], bool], *, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.005)
