"""Fresh, migrated databases for tests, on SQLite always and on PostgreSQL when TEST_DATABASE_URL is set.

Each backend is migrated once per session into a template (a file for SQLite, a template database for
PostgreSQL); every test gets its own copy. Tests therefore commit for real, which the race tests need,
and never delete rows to isolate.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from app.config import Environment, Settings
from app.db import normalize_database_url
from app.migrate import upgrade

TEST_SECRET = "test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"
SERVED_DATABASE = "served"
"""The database name the shared `buurtkas serve --workers 4` of a test process serves (tests.served)."""


def test_settings(database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "environment": Environment.test,
        "database_url": database_url,
        "secret_key": TEST_SECRET,
        "base_url": "http://testserver",
        "db_pool_size": 30,
        "media_dir": Path(tempfile.gettempdir()) / "buurtkas-test-media",
        # Tests change data and look at once; tests/test_embed.py checks the cache on its own.
        "embed_cache_seconds": 0,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


test_settings.__test__ = False  # type: ignore[attr-defined]  # a factory, not a test, wherever it is imported


class SqliteFactory:
    name = "sqlite"

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.template = workdir / "template.db"
        upgrade(test_settings(f"sqlite:///{self.template}"))
        self._counter = itertools.count()

    def create(self) -> str:
        path = self.workdir / f"t{next(self._counter)}.db"
        shutil.copyfile(self.template, path)
        return f"sqlite:///{path}"

    def drop(self, url: str) -> None:
        path = Path(make_url(url).database or "")
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)

    def close(self) -> None:
        pass


class PostgresFactory:
    name = "postgresql"

    def __init__(self, server_url: str) -> None:
        self.server_url = make_url(normalize_database_url(server_url))
        self.prefix = f"bk_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        self.template = f"{self.prefix}_template"
        self._counter = itertools.count()
        self._admin = create_engine(self.server_url, isolation_level="AUTOCOMMIT", pool_size=1)
        with self._admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{self.template}"'))
        template_url = self.server_url.set(database=self.template).render_as_string(hide_password=False)
        upgrade(test_settings(template_url))
        self._created: list[str] = []

    def create(self) -> str:
        name = f"{self.prefix}_{next(self._counter)}"
        with self._admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"'))
        self._created.append(name)
        return self.server_url.set(database=name).render_as_string(hide_password=False)

    def recreate(self, suffix: str) -> str:
        """A fresh copy of the template under a fixed name (dropped first, whoever is connected)."""
        name = f"{self.prefix}_{suffix}"
        with self._admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"'))
        return self.server_url.set(database=name).render_as_string(hide_password=False)

    def drop(self, url: str) -> None:
        name = make_url(url).database
        with self._admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    def close(self) -> None:
        with self._admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{self.template}" WITH (FORCE)'))
        self._admin.dispose()
