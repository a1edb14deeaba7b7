"""Counting failed attempts (unknown voucher codes, wrong passwords) per client and in total.

Counters live in the database, so every app process sees the same numbers. Windows are fixed; a client
over its limit, or everyone once the total is over, gets 429 until the window ends. Only failures count,
so an initiator typing thirty good codes in a row is never stopped.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import Table, bindparam, delete, select
from sqlalchemy.orm import Session

from app.db import Database, rowcount, upsert_insert
from app.errors import TooManyAttempts
from app.models import RateCounter

TOTAL = "total"
_RC: Table = RateCounter.__table__  # type: ignore[assignment]
_COUNTS = select(_RC.c.bucket, _RC.c.count).where(
    _RC.c.window_start == bindparam("start"),
    (_RC.c.bucket == bindparam("mine")) | (_RC.c.bucket == bindparam("everyone")),
)


@dataclass(frozen=True)
class FailureLimit:
    scope: str  # e.g. "voucher-code"
    per_client: int
    total: int
    window_seconds: int


class FailureLimiter:
    def __init__(self, db: Database, limit: FailureLimit) -> None:
        self.db = db
        self.limit = limit

    def _window(self, now: float | None = None) -> tuple[int, int]:
        now = time.time() if now is None else now
        start = int(now // self.limit.window_seconds) * self.limit.window_seconds
        return start, start + self.limit.window_seconds - int(now)

    def _buckets(self, client: str) -> tuple[str, str]:
        return f"{self.limit.scope}:client:{client}"[:120], f"{self.limit.scope}:{TOTAL}"

    def check(self, client: str, session: Session | None = None) -> None:
        """Raise TooManyAttempts when this client, or everyone together, has failed too often.

        Pass the request's own session to read the counters in its transaction (one round trip, no extra
        connection); without one, a short read session is used.
        """
        start, retry_after = self._window()
        mine, everyone = self._buckets(client)
        params = {"start": start, "mine": mine, "everyone": everyone}
        if session is None:
            with self.db.read() as own:
                counts = dict(own.connection().execute(_COUNTS, params).all())
        else:
            counts = dict(session.connection().execute(_COUNTS, params).all())
        if counts.get(mine, 0) >= self.limit.per_client or counts.get(everyone, 0) >= self.limit.total:
            raise TooManyAttempts(max(retry_after, 1))

    def record_failure(self, client: str) -> None:
        """Count one failed attempt for this client and in total (its own short transaction)."""
        start, _ = self._window()
        mine, everyone = self._buckets(client)

        def bump(session: Session) -> None:
            insert = upsert_insert(session)
            for bucket in (mine, everyone):
                statement = insert(RateCounter).values(bucket=bucket, window_start=start, count=1)
                session.execute(
                    statement.on_conflict_do_update(
                        index_elements=["bucket", "window_start"], set_={"count": RateCounter.count + 1}
                    )
                )

        self.db.run_write(bump)


def purge_old_windows(db: Database, *, older_than_seconds: int = 86_400) -> int:
    """Remove counters of windows that ended long ago (run by `buurtkas tick`)."""
    cutoff = int(time.time()) - older_than_seconds

    def purge(session: Session) -> int:
        return rowcount(session.execute(delete(RateCounter).where(RateCounter.window_start < cutoff)))

    return int(db.run_write(purge) or 0)
