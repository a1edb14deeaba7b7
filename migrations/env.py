"""Alembic environment: the URL comes from the app's settings (or `-x url=` / config attributes)."""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from sqlalchemy import Connection, text

from app.config import get_settings
from app.db import Database
from app.models import Base

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata
MIGRATION_LOCK = 0x42554B4D  # "BUKM"; the tick's lock is another number


def run_with(connection: Connection) -> None:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite and not connection.in_transaction():
        # SQLite rebuilds a table to change its constraints (batch mode): copy, drop, rename. With foreign
        # keys on, dropping a table others refer to fails, so they are off while migrating (this must be
        # set outside a transaction) and every reference is checked before the migration commits.
        connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Several app containers that start together each run `buurtkas db upgrade`: one migrates, the
            # others wait here until it commits, then find the database at the head and do nothing.
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        context.run_migrations()
        if sqlite:
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise RuntimeError(f"the migration leaves broken references: {broken[:5]}")
    if sqlite:
        connection.connection.driver_connection.execute("PRAGMA foreign_keys=ON")  # type: ignore[union-attr]


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        run_with(connection)
        return
    settings = get_settings()
    url = context.get_x_argument(as_dictionary=True).get("url") or config.attributes.get("url")
    database = Database(settings, url=url)
    try:
        with database.engine.connect() as conn:
            run_with(conn)
            conn.commit()
    finally:
        database.dispose()


if context.is_offline_mode():
    raise SystemExit("Offline migrations are not supported; run `buurtkas db upgrade`.")
run_migrations_online()
