"""The one registry: what runs for a job, whether Shopify's webhook started it or a merchant did.

Feature code registers with two decorators, public at the package top:

    from shopapp import JobContext, job_kind, webhook_handler

    @webhook_handler("orders/create", "orders/updated", ordered_by="updated_at")
    def apply_order(ctx: JobContext) -> str | None: ...      # ctx.payload, ctx.shop, ctx.session

    @job_kind("sync_products", timeout=1800)
    def sync_products(ctx: JobContext) -> str | None: ...    # ctx.params, ctx.report(), ctx.check_cancelled()

Contract of a handler `fn(ctx) -> str | None` (the same for both): it runs in a worker inside an app
context; `ctx.session` is committed together with the job's `succeeded` state (a short handler's effect
and its success are one transaction); a plain exception fails the attempt, which is retried with
back-off up to JOB_MAX_ATTEMPTS; `PermanentJobError` fails it at once; the returned string becomes the
job's message. A webhook handler returns `ctx.ignore(reason)` for a delivery it deliberately skips.

Besides handlers, the engine asks features for more through hooks (`add_hook`/`hooks`): the compliance
topics ask every registered `Redaction` what to report, delete or redact (`shopapp.webhooks.privacy`).

Features are packages listed in the FEATURES setting. `load_features` imports each once per process, at
start-up (the app factory, the CLI); importing a feature registers its handlers, kinds, hooks and
models. The engine never imports a feature by name.
"""
from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Optional

from shopapp.jobs.context import JobContext
from shopapp.jobs.errors import UnknownJobKindError

__all__ = ["Handler", "Registration", "webhook_handler", "job_kind", "topic", "kind", "topics", "kinds",
           "merchant_kinds", "add_hook", "hooks", "load_features", "features", "sample_path", "sample_name"]

Handler = Callable[[JobContext], Optional[str]]

# Lanes: each has its own RQ queue, so that webhook jobs never wait behind merchant jobs (see worker.py).
WEBHOOKS_LANE = "webhooks"
MERCHANT_LANE = "merchant"
LANES = (WEBHOOKS_LANE, MERCHANT_LANE)


@dataclass(frozen=True)
class Registration:
    """One registered handler: a webhook topic's or a job kind's.

    `timeout`: the handler's own time limit in seconds (None: the engine's default for its kind of job).
    `ordered_by`: for a topic, the payload field its stale-delivery guard orders by (e.g. "updated_at"),
    which a subscription's `include_fields` must keep (`python -m shopapp webhooks check`).
    `merchant`: for a kind, whether a merchant may start it (`POST /api/jobs`).
    `lane`: for a kind, the queue its jobs wait in (WEBHOOKS_LANE or MERCHANT_LANE).
    `single_per_shop`: for a kind, at most one job of a shop is waiting or running at a time (starting
    another returns the active one).
    """

    name: str
    handler: Handler
    timeout: Optional[float] = None
    ordered_by: Optional[str] = None
    merchant: bool = True
    lane: str = MERCHANT_LANE
    single_per_shop: bool = False

    @property
    def module(self) -> str:
        """The module that defines the handler (a subscription's label, the place of its samples)."""
        return self.handler.__module__

    @property
    def qualname(self) -> str:
        return f"{self.handler.__module__}.{self.handler.__qualname__}"


_TOPICS: dict[str, Registration] = {}
_KINDS: dict[str, Registration] = {}
_HOOKS: dict[str, list[Any]] = {}
_FEATURES: dict[str, ModuleType] = {}


def _add(table: dict[str, Registration], what: str, registration: Registration) -> None:
    existing = table.get(registration.name)
    if existing is not None and existing.qualname != registration.qualname:
        raise ValueError(f"{what} {registration.name!r} is already handled by {existing.qualname}")
    table[registration.name] = registration


def _timeout(value: Optional[float]) -> Optional[float]:
    if value is not None and not value > 0:
        raise ValueError(f"timeout must be a positive number of seconds, not {value!r}")
    return None if value is None else float(value)


def webhook_handler(*topic_names: str, ordered_by: Optional[str] = None,
                    timeout: Optional[float] = None) -> Callable[[Handler], Handler]:
    """Decorator: `fn(ctx)` handles deliveries of each of `topic_names` (one handler per topic).

    Raises ValueError when a topic already has another handler, or for a bad `timeout` (seconds, > 0).
    """
    limit = _timeout(timeout)

    def register(fn: Handler) -> Handler:
        for name in topic_names:
            _add(_TOPICS, "topic", Registration(name, fn, timeout=limit, ordered_by=ordered_by))
        return fn
    return register


def job_kind(name: str, *, timeout: Optional[float] = None, merchant: bool = True, lane: str = MERCHANT_LANE,
             single_per_shop: bool = False) -> Callable[[Handler], Handler]:
    """Decorator: `fn(ctx)` runs jobs of kind `name` (one handler per kind), within `timeout` seconds
    (default JOB_TIMEOUT_SECONDS). `merchant=False` for kinds only the engine starts; `lane` is the
    queue its jobs wait in (the engine's "webhook" kind uses WEBHOOKS_LANE); `single_per_shop=True` for a kind
    of which a shop should run one job at a time (starting another returns the active one).

    Raises ValueError when the kind already has another handler, or for a bad `timeout` or `lane`.
    """
    limit = _timeout(timeout)
    if lane not in LANES:
        raise ValueError(f"lane must be one of {', '.join(LANES)}, not {lane!r}")

    def register(fn: Handler) -> Handler:
        _add(_KINDS, "job kind", Registration(name, fn, timeout=limit, merchant=merchant, lane=lane,
                                              single_per_shop=single_per_shop))
        return fn
    return register


def time_limit(kind_name: str, topic_name: Optional[str], defaults: dict[str, float]) -> float:
    """The time limit of a job in seconds: its kind's own, else (webhook jobs) its topic's own, else the
    default of its kind's lane (`defaults`: lane -> seconds). Raises UnknownJobKindError."""
    registration = kind(kind_name)
    if registration.timeout is not None:
        return registration.timeout
    handled = _TOPICS.get(topic_name) if topic_name else None
    if handled is not None and handled.timeout is not None:
        return handled.timeout
    return defaults[registration.lane]


def topic(name: str) -> Optional[Registration]:
    """The registration of webhook topic `name`, or None (a topic nobody handles)."""
    return _TOPICS.get(name)


def kind(name: str) -> Registration:
    """The registration of job kind `name`; raises UnknownJobKindError."""
    try:
        return _KINDS[name]
    except KeyError:
        raise UnknownJobKindError(f"no handler for job kind {name!r}") from None


def topics() -> dict[str, Registration]:
    """Every registered topic."""
    return dict(_TOPICS)


def kinds() -> dict[str, Registration]:
    """Every registered job kind."""
    return dict(_KINDS)


def merchant_kinds() -> list[str]:
    """Names of the kinds a merchant may start, sorted."""
    return sorted(name for name, registration in _KINDS.items() if registration.merchant)


def add_hook(name: str, implementation: Any) -> Any:
    """Register `implementation` for the engine's hook `name` (e.g. "redaction"); returns it."""
    implementations = _HOOKS.setdefault(name, [])
    if implementation not in implementations:
        implementations.append(implementation)
    return implementation


def hooks(name: str) -> list[Any]:
    """Every implementation registered for hook `name`, in registration order."""
    return list(_HOOKS.get(name, ()))


def load_features(names: Iterable[str]) -> dict[str, ModuleType]:
    """Import each feature package once per process (FEATURES setting: dotted module names).

    Raises ImportError naming the feature when one cannot be imported.
    """
    for name in names:
        if name in _FEATURES:
            continue
        try:
            _FEATURES[name] = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name and name.startswith(exc.name):
                raise ImportError(f"feature {name!r} (FEATURES) cannot be found") from exc
            raise
    return dict(_FEATURES)


def features() -> dict[str, ModuleType]:
    """The features loaded in this process, by name."""
    return dict(_FEATURES)


def sample_name(topic_name: str) -> str:
    """The file name of a topic's sample payload: `orders/create` -> `orders_create.json`."""
    return topic_name.replace("/", "_") + ".json"


def sample_path(topic_name: str) -> Path:
    """The sample payload of a registered topic: `samples/<sample_name>` in its handler's package.

    Raises LookupError, saying what to do, when the topic has no handler or its package has no sample.
    """
    registration = _TOPICS.get(topic_name)
    if registration is None:
        raise LookupError(f"no handler is registered for {topic_name!r}, so there is no sample payload for it; "
                          "pass a payload file")
    spec = importlib.util.find_spec(registration.module)
    folder = Path(spec.origin).parent if spec and spec.origin else None  # the folder of the handler's module
    path = folder / "samples" / sample_name(topic_name) if folder else None
    if path is None or not path.exists():
        raise LookupError(f"{topic_name!r} has no sample payload: add {path or 'samples/' + sample_name(topic_name)} "
                          "(a delivery captured from `shopify app webhook trigger` is the best sample)")
    return path
