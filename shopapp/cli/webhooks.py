"""Webhook commands: `python -m shopapp webhook trigger TOPIC` (send a correctly signed sample to a running
app) and `python -m shopapp webhooks check` (shopify.app.toml against the code, `shopapp.cli.toml_check`).

`webhook trigger` sends the headers Shopify sends (topic, shop domain, webhook id, event id, triggered-at,
API version, HMAC) with the topic's sample payload (`samples/` of the package that handles it; where the
topic's body names its shop, naming `--shop`) or `--payload FILE` as it is, signed with the secret
`Config.from_env()` finds: in dev mode the one `make run` generated in instance/, so it matches a local
app out of the box.
"""
from __future__ import annotations

import json
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Optional

import click
import httpx

from shopapp.cli.build import registry, settings
from shopapp.config import DEV_SHOP, ROOT, Config
from shopapp.shopify.shop_domain import is_valid_shop_domain
from shopapp.shopify.webhook_signing import webhook_headers

TIMEOUT_SECONDS = 10


def load_payload(topic: str, payload_file: Optional[str], shop: str = DEV_SHOP) -> bytes:
    """The JSON body to send: --payload FILE, or the topic's sample for `shop`; raises ValueError saying what
    to do."""
    from shopapp.jobs import registry as jobs_registry
    from shopapp.webhooks.body_rules import name_shop

    if payload_file:
        path = Path(payload_file)
        if not path.exists():
            raise ValueError(f"no payload file {path}")
    else:
        try:
            path = jobs_registry.sample_path(topic)
        except LookupError as exc:
            known = ", ".join(sorted(jobs_registry.topics()))
            raise ValueError(f"{exc} (--payload FILE); topics with a handler: {known}") from None
    body = path.read_bytes()
    try:
        payload = json.loads(body)
        if not isinstance(payload, dict):
            raise ValueError
    except ValueError:
        raise ValueError(f"{path} does not hold a JSON object") from None
    named = payload if payload_file else name_shop(topic, payload, shop)
    return body if named is payload else json.dumps(named, indent=2).encode()


@click.group("webhook")
def webhook_group() -> None:
    """Webhook commands."""


@webhook_group.command("trigger")
@click.argument("topic")
@click.option("--address", default=None, help="webhook URL (default http://127.0.0.1:$PORT/webhooks)")
@click.option("--shop", default=DEV_SHOP, show_default=True, help="shop domain")
@click.option("--payload", "payload_file", default=None, help="JSON file (default: the topic's sample payload)")
@click.option("--webhook-id", default=None, help="X-Shopify-Webhook-Id (default a new UUID)")
def trigger_command(topic: str, address: Optional[str], shop: str, payload_file: Optional[str],
                    webhook_id: Optional[str]) -> int:
    """Send one correctly signed sample webhook to a running app; exit code 0 only for a 2xx."""
    config = registry(settings())
    address = address or f"http://127.0.0.1:{Config.port_from_env()}/webhooks"
    if not is_valid_shop_domain(shop):
        print(f"shopapp webhook trigger: {shop!r} is not a *.myshopify.com shop domain", file=sys.stderr)
        return 2
    try:
        body = load_payload(topic, payload_file, shop)
    except ValueError as exc:
        print(f"shopapp webhook trigger: {exc}", file=sys.stderr)
        return 2
    webhook_id = webhook_id or str(uuid.uuid4())
    headers = webhook_headers(topic, body, config.SHOPIFY_API_SECRET, shop, webhook_id=webhook_id,
                              api_version=config.SHOPIFY_API_VERSION)
    headers["User-Agent"] = "shopapp-webhook-trigger"
    try:
        response = httpx.post(address, content=body, headers=headers, timeout=TIMEOUT_SECONDS)
    except httpx.ConnectError:
        print(f"shopapp webhook trigger: could not connect to {address}. Is the app running? Start it with "
              "`make run` (or pass --address URL of the running app's /webhooks).", file=sys.stderr)
        return 1
    except httpx.HTTPError as exc:
        print(f"shopapp webhook trigger: request to {address} failed: {type(exc).__name__}", file=sys.stderr)
        return 1
    print(f"{topic} for {shop} (webhook id {webhook_id}) -> {address}: HTTP {response.status_code} "
          f"{response.text.strip()[:200]}")
    if response.status_code == 401 and "hmac" in response.text:
        print("The app refused the signature: it uses another SHOPIFY_API_SECRET than this command. Run both "
              "with the same environment (in dev mode both read instance/dev-credentials.json), or set "
              "SHOPIFY_API_SECRET to the app's secret.", file=sys.stderr)
    elif response.status_code == 404:
        print(f"No webhook endpoint at {address}; the app receives webhooks at /webhooks.", file=sys.stderr)
    return 0 if 200 <= response.status_code < 300 else 1


@click.group("webhooks")
def webhooks_group() -> None:
    """The webhook subscriptions of shopify.app.toml."""


@webhooks_group.command("check")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="the file to check (default: the project's shopify.app.toml)")
@click.option("--today", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="judge Shopify's support window on this day, YYYY-MM-DD (default: today, UTC)")
def check_command(config_path: Optional[Path], today: Optional[datetime]) -> int:
    """Compare shopify.app.toml with the handlers and settings: exit 1 on drift, 2 on a malformed file."""
    from shopapp.cli.app_toml import APP_TOML, AppTomlError, read_app_toml
    from shopapp.cli.toml_check import check_app_toml, format_table
    from shopapp.jobs import registry as jobs_registry
    from shopapp.webhooks.endpoint import PATH

    config = registry(settings())
    try:
        app_toml = read_app_toml(config_path or ROOT / APP_TOML)
    except AppTomlError as exc:
        print(f"shopapp webhooks check: {exc}", file=sys.stderr)
        return 2
    day = today.date() if today else datetime.now(UTC).date()
    report = check_app_toml(app_toml, jobs_registry.topics(), config.SHOPIFY_API_VERSION, day, PATH)
    print(format_table(report.rows))
    for warning in report.warnings:
        print(f"warning: {warning}")
    for error in report.errors:
        print(f"error: {error}", file=sys.stderr)
    verdict = f"{len(report.errors)} error(s)" if report.errors else "OK"
    print(f"webhooks check: {verdict}, {len(report.warnings)} warning(s); {app_toml.path.name} "
          f"[webhooks] api_version {app_toml.api_version}, {len(report.rows)} topics")
    return 1 if report.errors else 0


def register(group: click.Group) -> None:
    group.add_command(webhook_group)
    group.add_command(webhooks_group)
