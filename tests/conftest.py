"""Shared fixtures: a fresh database per test on each backend, the app, and a small world to act on."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.db import Database
from app.main import create_app
from tests.databases import SERVED_DATABASE, PostgresFactory, SqliteFactory, test_settings
from tests.dbstate import empty_postgres_database
from tests.factories import World, build_world
from tests.mailserver import smtp_server  # noqa: F401  # the fixture, for every test module
from tests.served import WORKERS, Server
from tests.stripe_fixtures import stripe, stripe_server  # noqa: F401  # likewise

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def sqlite_factory(tmp_path_factory: pytest.TempPathFactory) -> SqliteFactory:
    return SqliteFactory(tmp_path_factory.mktemp("sqlite"))


@pytest.fixture(scope="session")
def postgres_factory() -> Iterator[PostgresFactory | None]:
    import os

    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        yield None
        return
    factory = PostgresFactory(url)
    yield factory
    factory.close()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(
    request: pytest.FixtureRequest,
    backend: str,
    sqlite_factory: SqliteFactory,
    postgres_factory: PostgresFactory | None,
) -> Iterator[str]:
    if backend == "postgresql":
        if postgres_factory is None:
            pytest.skip("PostgreSQL: set TEST_DATABASE_URL to run this backend")
        factory: SqliteFactory | PostgresFactory = postgres_factory
    else:
        factory = sqlite_factory
    if request.getfixturevalue("serving") != "app" and postgres_factory is not None:
        # The shared server of this test process serves one database name; it is made anew for each test.
        url = postgres_factory.recreate(SERVED_DATABASE)
    else:
        url = factory.create()
    yield url
    factory.drop(url)


@pytest.fixture
def empty_database_url(
    backend: str, tmp_path: Path, postgres_factory: PostgresFactory | None
) -> Iterator[str]:
    """A database that exists but is not migrated (SQLite: a path not created yet)."""
    if backend == "sqlite":
        (tmp_path / "fresh").mkdir()
        yield f"sqlite:///{tmp_path / 'fresh' / 'buurtkas.db'}"
        return
    if postgres_factory is None:
        pytest.skip("PostgreSQL: set TEST_DATABASE_URL to run this backend")
    with empty_postgres_database(postgres_factory.server_url) as url:
        yield url


@pytest.fixture
def settings(database_url: str) -> Settings:
    return test_settings(database_url)


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    database = Database(settings)
    yield database
    database.dispose()


@pytest.fixture
def serving(request: pytest.FixtureRequest) -> str:
    """How `client` reaches the app: in-process ("app"), or `buurtkas serve --workers 4` ("4-workers")."""
    return str(getattr(request, "param", "app"))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # Tests in modules marked `served` that take `client` run both ways (on PostgreSQL; see tests.served).
    if metafunc.definition.get_closest_marker("served") and "client" in metafunc.fixturenames:
        metafunc.parametrize("serving", ["app", f"{WORKERS}-workers"], indirect=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Several server processes run on PostgreSQL only: leave out SQLite with workers (not a skip)."""
    dropped = [item for item in items if _sqlite_with_workers(item)]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if not _sqlite_with_workers(item)]


def _sqlite_with_workers(item: pytest.Item) -> bool:
    params = getattr(getattr(item, "callspec", None), "params", {})
    return params.get("backend") == "sqlite" and params.get("serving", "app") != "app"


@pytest.fixture(scope="session")
def shared_servers() -> Iterator[dict[str, Server]]:
    """One `buurtkas serve --workers 4` per test process, started at first use (its workers take seconds to
    import the app). Each served test gets the database anew under the same name: DROP … WITH (FORCE)
    ends the server's connections, and its pool (pre-ping) connects to the new one by itself."""
    servers: dict[str, Server] = {}
    yield servers
    for server in servers.values():
        server.stop()


@pytest.fixture
def client(
    serving: str, backend: str, settings: Settings, db: Database, shared_servers: dict[str, Server]
) -> Iterator[Any]:
    if serving == "app":
        with TestClient(create_app(settings, db)) as test_client:
            yield test_client
        return
    assert backend == "postgresql", "several server processes: PostgreSQL only"
    server = shared_servers.get(settings.database_url)
    if server is None or not server.running():
        server = shared_servers[settings.database_url] = Server(settings.database_url)
        server.start()
    server.mark()
    with server.client() as served_client:
        yield served_client


@pytest.fixture
def world(db: Database, settings: Settings) -> World:
    """A gemeente with two wijken, three buurten, 40 households, an open period and their codes."""
    return build_world(db, settings)


@pytest.fixture
def artifacts() -> Path:
    path = Path(__file__).parent / "artifacts"
    path.mkdir(exist_ok=True)
    return path
