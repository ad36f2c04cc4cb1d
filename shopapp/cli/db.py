"""`python -m shopapp db upgrade|downgrade [REVISION]`: apply or revert migrations (reads DATABASE_URL only)."""
from __future__ import annotations

import click

from shopapp.config import Config


@click.group("db")
def db_group() -> None:
    """Database migrations."""


@db_group.command("upgrade")
@click.argument("revision", default="head")
def upgrade_command(revision: str) -> int:
    """Apply migrations up to REVISION (default head)."""
    from shopapp.db import migrate

    migrate.upgrade(Config.database_url_from_env(), revision)
    print(f"database upgraded to {revision}")
    return 0


@db_group.command("downgrade")
@click.argument("revision", default="base")
def downgrade_command(revision: str) -> int:
    """Revert migrations down to REVISION (default base)."""
    from shopapp.db import migrate

    migrate.downgrade(Config.database_url_from_env(), revision)
    print(f"database downgraded to {revision}")
    return 0


def register(group: click.Group) -> None:
    group.add_command(db_group)
