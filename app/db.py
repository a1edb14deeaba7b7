"""Engine and session factories, and the one place where transactions begin and commit.

SQLite: WAL, synchronous=FULL, a busy timeout, foreign keys on, and write transactions that start with
`BEGIN IMMEDIATE` so two writers never deadlock on a lock upgrade. PostgreSQL: psycopg 3, READ COMMITTED;
money is guarded by conditional UPDATEs and CHECK constraints, and deadlocks/serialisation failures are
retried whole.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar, cast

import structlog
from sqlalchemy import CursorResult, Engine, Result, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.kit.codes import code_hash_key

log = structlog.get_logger(__name__)
T = TypeVar("T")

_RETRYABLE_PG_CODES = {"40001", "40P01"}  # serialization_failure, deadlock_detected


def normalize_database_url(url: str) -> str:
    """Accept plain `postgresql://` and `sqlite:///` URLs and pick our own drivers."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    elif parsed.drivername == "sqlite+pysqlite":
        parsed = parsed.set(drivername="sqlite")
    elif parsed.drivername not in ("postgresql+psycopg", "sqlite"):
        raise ValueError(
            f"Unsupported DATABASE_URL driver {parsed.drivername!r}: use sqlite:/// or postgresql://"
        )
    return parsed.render_as_string(hide_password=False)


def create_db_engine(settings: Settings, *, url: str | None = None) -> Engine:
    database_url = normalize_database_url(url or settings.database_url)
    if database_url.startswith("sqlite"):
        path = make_url(database_url).database
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            database_url,
            connect_args={"check_same_thread": False, "timeout": settings.sqlite_busy_timeout_ms / 1000},
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
        )
        _configure_sqlite(engine, settings.sqlite_busy_timeout_ms)
        return engine
    return create_engine(
        database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_pre_ping=True,
        pool_timeout=30,
    )


def _configure_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy emit BEGIN itself (below) instead of pysqlite's implicit transactions.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        if connection.get_execution_options().get("sqlite_write", False):
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            connection.exec_driver_sql("BEGIN")


def upsert_insert(session: Session) -> Callable[..., Any]:
    """The `insert` of this session's dialect, which has `on_conflict_do_nothing/_update` on both."""
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def rowcount(result: Result[Any]) -> int:
    """Rows matched by an UPDATE or DELETE."""
    return int(cast(CursorResult[Any], result).rowcount)


def is_retryable(exc: BaseException) -> bool:
    """Deadlocks and serialisation failures on PostgreSQL; a busy database on SQLite."""
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
        if code in _RETRYABLE_PG_CODES:
            return True
        if isinstance(exc, OperationalError) and "database is locked" in str(exc.orig):
            return True
    return False


class Database:
    """The engine and its session factories; built by the app's lifespan or the CLI, never at import."""

    def __init__(self, settings: Settings, *, url: str | None = None) -> None:
        self.settings = settings
        self.engine = create_db_engine(settings, url=url)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        write_engine = self.engine.execution_options(sqlite_write=True) if self.is_sqlite else self.engine
        # Services read the voucher-code hashing key from session.info; it never touches the database.
        info = {"code_key": code_hash_key(settings.secret_key)}
        self._read = sessionmaker(self.engine, expire_on_commit=False, info=info)
        self._write = sessionmaker(write_engine, expire_on_commit=False, info=info)

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading; never commits."""
        with self._read() as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """One write transaction: committed when the block ends normally, rolled back otherwise."""
        with self._write() as session, session.begin():
            yield session

    def run_write(
        self,
        work: Callable[[Session], T],
        *,
        attempts: int = 5,
        retry_on: tuple[type[Exception], ...] = (),
    ) -> T:
        """Run `work` in one write transaction, retrying it whole on deadlock, a busy database, or `retry_on`."""
        for attempt in range(1, attempts + 1):
            try:
                with self.write() as session:
                    return work(session)
            except retry_on:
                if attempt == attempts:
                    raise
                log.info("db.retry", attempt=attempt, reason="stale read")
            except DBAPIError as exc:
                if attempt == attempts or not is_retryable(exc):
                    raise
                log.warning("db.retry", attempt=attempt)
                time.sleep(0.01 * attempt)
        raise AssertionError("unreachable")

    def dispose(self) -> None:
        self.engine.dispose()
