"""What is in the database, to prove that a refused request or a failed command changed nothing."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import URL, create_engine, func, select, text

from app.db import Database
from app.ledger.verify import verify_ledger
from app.models import Base, RateCounter

Snapshot = dict[str, list[tuple[Any, ...]]]


def snapshot(db: Database, *, skip: tuple[str, ...] = ("rate_counters",)) -> Snapshot:
    """Every row of every table (except `skip`), ordered by primary key.

    Rate counters are skipped by default: counting a failed code attempt is the one change a refusal makes
    on purpose; tests check those counters on their own with `failure_counts`.
    """
    with db.read() as session:
        tables: Snapshot = {}
        for table in Base.metadata.sorted_tables:
            if table.name in skip:
                continue
            order = list(table.primary_key.columns) or list(table.columns)
            tables[table.name] = [tuple(row) for row in session.execute(select(table).order_by(*order))]
        return tables


def row_counts(db: Database) -> dict[str, int]:
    with db.read() as session:
        return {
            table.name: int(session.scalar(select(func.count()).select_from(table)) or 0)
            for table in Base.metadata.sorted_tables
        }


def failure_counts(db: Database) -> dict[str, int]:
    """Failed-attempt counters per bucket, summed over all windows."""
    with db.read() as session:
        rows = session.execute(
            select(RateCounter.bucket, func.sum(RateCounter.count)).group_by(RateCounter.bucket)
        ).all()
    return {bucket: int(total) for bucket, total in rows}


def assert_ledger_ok(db: Database) -> None:
    with db.read() as session:
        report = verify_ledger(session)
    assert report.ok, report.violations
    assert report.total_cents == 0


def diff(before: Snapshot, after: Snapshot) -> dict[str, tuple[int, int]]:
    """Tables whose rows differ, with their row counts before and after (for readable failures)."""
    return {
        name: (len(before.get(name, [])), len(after.get(name, [])))
        for name in sorted(set(before) | set(after))
        if before.get(name) != after.get(name)
    }


@contextmanager
def empty_postgres_database(server_url: URL) -> Iterator[str]:
    """A brand-new, unmigrated PostgreSQL database on the test server; dropped afterwards."""
    name = f"bk_empty_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT", pool_size=1)
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield server_url.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()
