"""`python -m shopapp …`: every command of shopapp, on click (Flask's own CLI library).

    serve                        run web + worker (+ an embedded Redis when REDIS_URL is unset): `make run`
    worker [--processes N]       RQ workers with the scheduler and the periodic sweep
    sweep                        enqueue committed jobs that are on no queue; republish missed events
    db upgrade|downgrade         apply or revert migrations
    jobs retry ID                put a failed job back on the queue
    webhook trigger TOPIC        send a correctly signed sample webhook to a running app
    webhooks check               compare shopify.app.toml with the code
    new webhook TOPIC / new job KIND   scaffold a handler or a merchant job kind, with its test

A missing or malformed setting is one line on stderr and exit code 2. Commands that serve nothing read
only the settings they need (never PORT or HOST, which only the web process reads).
"""
from __future__ import annotations

import sys

import click

from shopapp.config import ConfigError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """shopapp commands."""


def _register() -> None:
    from shopapp.cli import db, jobs, scaffold, serve, webhooks, worker

    for module in (serve, worker, jobs, db, webhooks, scaffold):
        module.register(cli)


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns its exit code (2 for a configuration error, 130 for Ctrl+C)."""
    _register()
    try:
        result = cli.main(args=argv, prog_name="python -m shopapp", standalone_mode=False)
    except ConfigError as exc:
        print(f"shopapp: configuration error: {exc}", file=sys.stderr)
        return 2
    except click.exceptions.Abort:
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    return result if isinstance(result, int) else 0
