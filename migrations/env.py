"""Alembic environment: the URL comes from shopapp's settings, the target metadata from the engine's models
and those of every loaded feature (FEATURES)."""
from __future__ import annotations

import logging

from alembic import context
from sqlalchemy import create_engine, pool

from shopapp.config import Config
from shopapp.jobs.registry import load_features
from shopapp.models import Base

logging.getLogger("alembic").setLevel(logging.WARNING)
config = context.config
load_features(Config.features_from_env())
target_metadata = Base.metadata


def _url() -> str:
    return config.attributes.get("database_url") or Config.database_url_from_env()


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True,
                      render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = create_engine(_url(), poolclass=pool.NullPool)
    with engine.connect() as connection:
        # Batch mode lets ALTER-style changes work on SQLite too.
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
