"""`python -m shopapp db upgrade|downgrade [REVISION]`: apply or revert migrations (reads DATABASE_URL only)."""
from __future__ import annotations

import click

from shopapp.config import Config


@click.group("db")
def db_group() -> None:
    """Database migrations."""


def _migrate(direction: str, revision: str) -> int:
    from shopapp.db import migrate

    getattr(migrate, direction)(Config.database_url_from_env(), revision)
    print(f"database {direction}d to {revision}")
    return 0


@db_group.command("upgrade")
@click.argument("revision", default="head")
def upgrade_command(revision: str) -> int:
    """Apply migrations up to REVISION (default head)."""
    return _migrate("upgrade", revision)


@db_group.command("downgrade")
@click.argument("revision", default="base")
def downgrade_command(revision: str) -> int:
    """Revert migrations down to REVISION (default base)."""
    return _migrate("downgrade", revision)


def register(group: click.Group) -> None:
    group.add_command(db_group)
