"""The topic registry: which handler applies a webhook of a given topic.

    from shopapp.webhooks.registry import webhook_handler

    @webhook_handler("orders/create", "orders/updated")
    def apply_order(ctx: JobContext) -> str | None: ...

A handler has the job-kind contract (`shopapp.jobs.kinds`): it gets a JobContext with `payload`,
`topic`, `shop`, `triggered_at`, works in `ctx.session` (committed with the job's success) and returns
the job's message; `ctx.ignore(message)` marks a delivery deliberately not applied (stale, uninstalled).
A topic without a handler is recorded, and its job succeeds saying "no handler for <topic>".
"""
from __future__ import annotations

import importlib
from typing import Callable, Optional

from shopapp.jobs.context import JobContext

Handler = Callable[[JobContext], Optional[str]]

# The modules holding the handlers; shopify.app.toml labels each subscription with one of these files.
HANDLER_MODULES = (
    "shopapp.webhooks.handlers.lifecycle",
    "shopapp.webhooks.handlers.compliance",
    "shopapp.webhooks.handlers.orders",
    "shopapp.webhooks.handlers.products",
)

_HANDLERS: dict[str, Handler] = {}


def webhook_handler(*topics: str) -> Callable[[Handler], Handler]:
    """Decorator: register `fn(ctx)` as the handler of each of `topics` (one handler per topic)."""
    def register(fn: Handler) -> Handler:
        for topic in topics:
            existing = _HANDLERS.get(topic)
            if existing is not None and (existing.__module__, existing.__qualname__) != (fn.__module__, fn.__qualname__):
                raise ValueError(f"topic {topic!r} is already handled by {existing.__module__}.{existing.__qualname__}")
            _HANDLERS[topic] = fn
        return fn
    return register


def load_handlers() -> None:
    """Import every handler module (idempotent)."""
    for module in HANDLER_MODULES:
        importlib.import_module(module)


def handler_for(topic: str) -> Optional[Handler]:
    """The handler registered for `topic`, or None."""
    load_handlers()
    return _HANDLERS.get(topic)


def registered_topics() -> dict[str, Handler]:
    """Every registered topic and its handler."""
    load_handlers()
    return dict(_HANDLERS)
