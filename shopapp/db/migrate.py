"""Apply alembic migrations (`python -m shopapp db upgrade`), run by `make run` and by deployments."""
from __future__ import annotations

from alembic import command
from alembic.config import Config as AlembicConfig

from shopapp.config import ROOT


def alembic_config(database_url: str) -> AlembicConfig:
    """An alembic config pointing at `migrations/` and `database_url` (no alembic.ini needed)."""
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.attributes["database_url"] = database_url
    return cfg


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the database up to `revision`."""
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str = "base") -> None:
    """Take the database down to `revision`."""
    command.downgrade(alembic_config(database_url), revision)
