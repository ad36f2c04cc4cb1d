"""Reading and extending `shopify.app.toml`, the Shopify CLI's app configuration (its `[webhooks]` part).

`read_app_toml` validates what the webhook commands rely on and raises `AppTomlError` with one line naming
the problem (the commands print it and exit 2): a file that is not TOML, no `[webhooks]` table, no
`api_version`, a subscription without `uri` or without topics, a topic Shopify does not have. The form of a
subscription is Shopify's (shopify.dev, "App configuration": `[[webhooks.subscriptions]]` with `topics`
or `compliance_topics`, `uri`, optional `filter` and `include_fields`).

`add_subscription` appends a subscription with tomlkit, so the file keeps its comments and order, and
labels it `# handled by <module path>` like the existing ones (Shopify's shopify_app engine does the same).
"""
from __future__ import annotations

import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from shopapp.shopify.webhook_topics import topic_problem

APP_TOML = "shopify.app.toml"


class AppTomlError(Exception):
    """shopify.app.toml is missing, is not TOML, or lacks what the webhook commands need (one line)."""


@dataclass(frozen=True)
class Subscription:
    """One `[[webhooks.subscriptions]]` entry; `number` counts from 1 in file order."""

    number: int
    topics: tuple[str, ...]
    compliance_topics: tuple[str, ...]
    uri: str
    filter: Optional[str] = None
    include_fields: Optional[tuple[str, ...]] = None

    @property
    def all_topics(self) -> tuple[str, ...]:
        return self.topics + self.compliance_topics

    def describe(self) -> str:
        return f"subscription {self.number} ({', '.join(self.all_topics)})"


@dataclass(frozen=True)
class AppToml:
    """The `[webhooks]` part of shopify.app.toml."""

    path: Path
    api_version: str
    subscriptions: tuple[Subscription, ...]


def read_app_toml(path: Path) -> AppToml:
    """Parse and validate `path`; raises AppTomlError naming the first problem."""
    name = path.name
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise AppTomlError(f"no {name} at {path}") from None
    except UnicodeDecodeError:
        raise AppTomlError(f"{name} is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise AppTomlError(f"{name} is not valid TOML: {exc}") from None
    webhooks = data.get("webhooks")
    if not isinstance(webhooks, dict):
        raise AppTomlError(f"{name} has no [webhooks] table (it needs api_version and the subscriptions)")
    api_version = webhooks.get("api_version")
    if not isinstance(api_version, str) or not api_version:
        raise AppTomlError(f"{name}: [webhooks] has no api_version (e.g. api_version = \"2026-10\")")
    entries = webhooks.get("subscriptions", [])
    if not isinstance(entries, list) or not all(isinstance(entry, dict) for entry in entries):
        raise AppTomlError(f"{name}: webhooks.subscriptions must be [[webhooks.subscriptions]] tables")
    return AppToml(path, api_version, tuple(_subscription(name, number, entry)
                                            for number, entry in enumerate(entries, start=1)))


def _subscription(name: str, number: int, entry: dict) -> Subscription:
    where = f"{name}: subscription {number}"
    topics = _strings(entry, "topics", where)
    compliance = _strings(entry, "compliance_topics", where)
    if not topics and not compliance:
        raise AppTomlError(f"{where} has no topics (topics = [\"resource/event\", ...] or compliance_topics)")
    for topic in topics + compliance:
        problem = topic_problem(topic)
        if problem:
            raise AppTomlError(f"{where}: {problem}")
    uri = entry.get("uri")
    if not isinstance(uri, str) or not uri.strip():
        raise AppTomlError(f"{where} ({', '.join(topics + compliance)}) has no uri (uri = \"/webhooks\")")
    filter_ = entry.get("filter")
    if filter_ is not None and not isinstance(filter_, str):
        raise AppTomlError(f"{where}: filter must be a string (a search query, e.g. \"status:active\")")
    include = _strings(entry, "include_fields", where) if "include_fields" in entry else None
    return Subscription(number, topics, compliance, uri.strip(), filter_, include)


def _strings(entry: dict, key: str, where: str) -> tuple[str, ...]:
    value = entry.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise AppTomlError(f"{where}: {key} must be a list of strings")
    return tuple(value)


def add_subscription(path: Path, topics: Sequence[str], label: str, uri: str = "/webhooks") -> None:
    """Append `[[webhooks.subscriptions]]` for `topics`, preceded by `# handled by <label>`.

    Comments, blank lines and the order of everything else in the file are kept (tomlkit round-trip).
    Raises AppTomlError when the file cannot be read as shopify.app.toml (`read_app_toml`).
    """
    import tomlkit

    read_app_toml(path)  # the same checks (and the same one-line errors) as every webhook command
    document = tomlkit.parse(path.read_text())
    webhooks = document["webhooks"]
    entry = tomlkit.table()
    entry.add("topics", list(topics))
    entry.add("uri", uri)
    entry.add(tomlkit.nl())
    comment = tomlkit.comment(f"handled by {label}")
    subscriptions = webhooks.get("subscriptions")
    if subscriptions is None:
        webhooks.add(tomlkit.nl())
        webhooks.add(comment)
        subscriptions = tomlkit.aot()
        subscriptions.append(entry)
        webhooks.add("subscriptions", subscriptions)
    else:
        # A comment before a [[table]] header belongs to the body of the table above it.
        last = subscriptions[-1]
        if not last.as_string().endswith("\n\n"):
            last.add(tomlkit.nl())
        last.add(comment)
        subscriptions.append(entry)
    path.write_text(tomlkit.dumps(document))
