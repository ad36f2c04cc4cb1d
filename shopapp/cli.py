"""`python -m shopapp` commands. Each command lives with the area it belongs to; this module only parses.

    db upgrade|downgrade        apply or revert migrations
    serve                       run web + worker (+ embedded Redis when REDIS_URL is unset): `make run`
    worker                      run RQ workers with the scheduler and the periodic sweep
    sweep                       enqueue every committed job that is not on a queue, republish missed events
    jobs retry ID               put a failed job back on the queue
    webhook trigger TOPIC       send a correctly signed sample webhook to a running app
"""
from __future__ import annotations

import argparse
import sys

from shopapp.config import ConfigError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m shopapp", description="shopapp commands")
    sub = parser.add_subparsers(dest="command", required=True)

    db = sub.add_parser("db", help="database migrations")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    up = db_sub.add_parser("upgrade", help="apply migrations up to a revision (default head)")
    up.add_argument("revision", nargs="?", default="head")
    down = db_sub.add_parser("downgrade", help="revert migrations down to a revision (default base)")
    down.add_argument("revision", nargs="?", default="base")

    sub.add_parser("serve", help="run web, worker and (if REDIS_URL is unset) an embedded Redis")
    worker = sub.add_parser("worker", help="run RQ workers for the app's queue")
    worker.add_argument("--processes", type=int, default=None, help="worker processes (default WORKER_PROCESSES)")
    worker.add_argument("--burst", action="store_true", help="exit when the queue is empty")
    sub.add_parser("sweep", help="enqueue committed jobs that are not on a queue; republish missed events")

    jobs = sub.add_parser("jobs", help="job commands")
    jobs_sub = jobs.add_subparsers(dest="jobs_command", required=True)
    retry = jobs_sub.add_parser("retry", help="retry a failed job")
    retry.add_argument("job_id", type=int)

    webhook = sub.add_parser("webhook", help="webhook commands")
    webhook_sub = webhook.add_subparsers(dest="webhook_command", required=True)
    trigger = webhook_sub.add_parser("trigger", help="send a correctly signed sample webhook")
    trigger.add_argument("topic", help="e.g. orders/create")
    trigger.add_argument("--address", default=None, help="webhook URL (default http://127.0.0.1:$PORT/webhooks)")
    trigger.add_argument("--shop", default=None, help="shop domain (default the dev shop)")
    trigger.add_argument("--payload", default=None, help="JSON file (default tests/fixtures/<topic>.json)")
    trigger.add_argument("--webhook-id", default=None, help="X-Shopify-Webhook-Id (default a new UUID)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _dispatch(args) or 0
    except ConfigError as exc:
        print(f"shopapp: configuration error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _dispatch(args: argparse.Namespace) -> int | None:
    from shopapp.config import Config

    if args.command == "db":
        from shopapp import migrate

        url = Config.from_env().DATABASE_URL
        if args.db_command == "upgrade":
            migrate.upgrade(url, args.revision)
        else:
            migrate.downgrade(url, args.revision)
        print(f"database {args.db_command}d to {args.revision}")
        return 0
    if args.command == "serve":
        from shopapp import serve

        return serve.main()
    if args.command == "worker":
        from shopapp import metrics

        metrics.prepare_worker_process()  # before the task modules import prometheus_client
        from shopapp.jobs import worker

        return worker.main(processes=args.processes, burst=args.burst)
    if args.command == "sweep":
        from shopapp.jobs import sweeper

        return sweeper.main()
    if args.command == "jobs":
        from shopapp.jobs import commands

        return commands.retry_main(args.job_id)
    if args.command == "webhook":
        from shopapp.webhooks import trigger

        return trigger.main(args.topic, address=args.address, shop=args.shop, payload_file=args.payload,
                            webhook_id=args.webhook_id)
    return 2
