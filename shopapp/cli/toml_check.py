"""`python -m shopapp webhooks check`: shopify.app.toml against the code, so subscriptions never silently
drift from the handlers (the most reported pain of Shopify's app templates: a topic that never fires).

Errors (exit 1), each naming its topic:
- a topic has a handler but no subscription (its webhooks would never arrive);
- a compliance topic is missing from `compliance_topics`, or is listed under `topics`;
- a subscription's `include_fields` omits the field the topic's stale-delivery guard orders by
  (`Registration.ordered_by`): the guard would see no timestamp, and Shopify's duplicate suppression
  (which compares the included fields) and the guard would disagree;
- `[webhooks] api_version` differs from SHOPIFY_API_VERSION, or is outside Shopify's 12-month support
  window (`shopapp.shopify.api_versions`; the Shopify CLI refuses to deploy it, and Shopify then sends a
  newer format than the code expects);
- a subscription's `uri` is not the webhook path: `/webhooks`, or an https URL whose path is `/webhooks`
  (Pub/Sub and EventBridge URIs are valid for Shopify but nothing here reads them).
A subscribed topic without a handler is a warning: its deliveries are recorded and their jobs succeed with
"no handler". Problems in the file itself (`AppTomlError`) are the command's exit 2.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from urllib.parse import urlsplit

from shopapp.cli.app_toml import AppToml, Subscription
from shopapp.jobs.registry import Registration
from shopapp.shopify import api_versions
from shopapp.shopify.webhook_topics import COMPLIANCE_TOPICS, is_compliance_topic

_FOREIGN_SCHEMES = {"pubsub": "a Google Pub/Sub destination", "arn": "an Amazon EventBridge destination"}


@dataclass(frozen=True)
class Row:
    """One line of the table: a topic, the handler that runs for it, its subscription's filter."""

    topic: str
    handler: str
    filter: str


@dataclass
class CheckReport:
    """What `check_app_toml` found: the table, errors (exit 1) and warnings."""

    rows: list[Row] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def check_app_toml(app_toml: AppToml, handlers: Mapping[str, Registration], api_version: str, today: date,
                   webhook_path: str) -> CheckReport:
    """Compare the file with the registered `handlers` (topic -> Registration), the SHOPIFY_API_VERSION
    setting `api_version` and Shopify's calendar on `today`; `webhook_path` is where the app listens."""
    report = CheckReport()
    subscribed: dict[str, list[Subscription]] = {}
    for subscription in app_toml.subscriptions:
        for topic in subscription.all_topics:
            subscribed.setdefault(topic, []).append(subscription)
        _check_uri(subscription, webhook_path, report)
        for topic in subscription.topics:
            if is_compliance_topic(topic):
                report.errors.append(f"{topic}: a compliance topic belongs in compliance_topics, not in topics "
                                     f"({subscription.describe()})")
    compliance = {t for s in app_toml.subscriptions for t in s.compliance_topics}
    for topic in COMPLIANCE_TOPICS:
        if topic not in compliance:
            report.errors.append(f"{topic}: missing from compliance_topics (Shopify requires all three "
                                 f"compliance topics; the engine handles them)")
    for topic, registration in sorted(handlers.items()):
        if topic not in subscribed and not is_compliance_topic(topic):
            report.errors.append(f"{topic}: handled by {registration.qualname} but not subscribed in "
                                 f"{app_toml.path.name} (add it to the topics of a [[webhooks.subscriptions]])")
        for subscription in subscribed.get(topic, []):
            _check_include_fields(topic, registration, subscription, report)
    for topic in sorted(subscribed):
        if topic not in handlers:
            report.warnings.append(f"{topic}: subscribed but no handler (its deliveries are recorded and their "
                                   f"jobs succeed with \"no handler\")")
    _check_api_version(app_toml.api_version, api_version, today, report)
    for topic in sorted(set(subscribed) | set(handlers)):
        registration = handlers.get(topic)
        filters = sorted({s.filter for s in subscribed.get(topic, []) if s.filter})
        report.rows.append(Row(topic, registration.qualname if registration else "no handler",
                               " | ".join(filters) if filters else ("-" if topic in subscribed else "not subscribed")))
    return report


def _check_uri(subscription: Subscription, webhook_path: str, report: CheckReport) -> None:
    uri = subscription.uri
    scheme = uri.split(":", 1)[0].lower() if ":" in uri else ""
    if scheme in _FOREIGN_SCHEMES:
        problem = f"is {_FOREIGN_SCHEMES[scheme]}, which this app does not read"
    elif uri == webhook_path:
        return
    elif scheme == "https":
        path = urlsplit(uri).path
        if path == webhook_path:
            return
        problem = f"has the path {path or '/'!r}"
    elif scheme:
        problem = "is not https (Shopify delivers HTTP webhooks over https only)"
    else:
        problem = "is another path"
    report.errors.append(f"{', '.join(subscription.all_topics)}: uri {uri!r} {problem}; the app receives "
                         f"webhooks at {webhook_path} (uri = \"{webhook_path}\", or https://<app host>{webhook_path})")


def _check_include_fields(topic: str, registration: Registration, subscription: Subscription,
                          report: CheckReport) -> None:
    needed = registration.ordered_by
    if needed is None or subscription.include_fields is None or needed in subscription.include_fields:
        return
    report.errors.append(f"{topic}: include_fields of {subscription.describe()} omits {needed!r}, which the "
                         f"stale-delivery guard of {registration.qualname} orders by (add \"{needed}\")")


def _check_api_version(version: str, setting: str, today: date, report: CheckReport) -> None:
    if version != setting:
        report.errors.append(f"[webhooks] api_version {version} differs from SHOPIFY_API_VERSION {setting}: "
                             f"webhooks would arrive in another format than the code reads")
    try:
        released = api_versions.release_date(version)
    except api_versions.ApiVersionError as exc:
        report.errors.append(f"[webhooks] api_version: {exc}")
        return
    stable = api_versions.current_stable(today)
    if today < released:
        report.warnings.append(f"[webhooks] api_version {version} is not released until {released} "
                               f"(a release candidate); the current stable version is {stable}")
    elif not api_versions.is_supported(version, today):
        report.errors.append(
            f"[webhooks] api_version {version} left Shopify's 12-month support on "
            f"{api_versions.end_of_support(version)} (supported on {today}: "
            f"{', '.join(api_versions.supported_versions(today))}); the Shopify CLI will not deploy it: "
            f"move it and SHOPIFY_API_VERSION to {stable}")


def format_table(rows: list[Row]) -> str:
    """The rows as an aligned text table with a header: topic, handler, filter."""
    lines = [("topic", "handler", "filter")] + [(r.topic, r.handler, r.filter) for r in rows]
    widths = [max(len(line[i]) for line in lines) for i in range(2)]
    return "\n".join(f"{t.ljust(widths[0])}  {h.ljust(widths[1])}  {f}".rstrip() for t, h, f in lines)
