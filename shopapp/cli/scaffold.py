"""`python -m shopapp new webhook TOPIC` and `python -m shopapp new job KIND` (see issue: scaffolds)."""
from __future__ import annotations

import click


@click.group("new")
def new_group() -> None:
    """Scaffold a webhook handler or a merchant job kind, with its test."""


def register(group: click.Group) -> None:
    group.add_command(new_group)
