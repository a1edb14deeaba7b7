"""Alembic environment: the URL comes from the app's settings (or `-x url=` / config attributes)."""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from sqlalchemy import Connection

from app.config import get_settings
from app.db import Database
from app.models import Base

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata


def run_with(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


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
