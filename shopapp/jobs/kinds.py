"""The registry of job kinds: what runs for a Job row of a given `kind`.

Register a merchant job (started from the UI, the API or the CLI) with the decorator:

    from shopapp.jobs.kinds import JobContext, job_kind

    @job_kind("sync_products")
    def sync_products(ctx: JobContext) -> str | None:
        for page, total in ...:
            ctx.check_cancelled()           # raises JobCancelledError if the merchant cancelled
            ...                             # work in ctx.session; ctx.shop, ctx.params
            ctx.report(done, total, "Synced 50 of 200 products")  # commits ctx.session, publishes progress
        return "Synced 200 products"        # the job's final message

Contract of a handler `fn(ctx) -> str | None`:
- it runs in an RQ worker inside an app context; `ctx.session` is a fresh SQLAlchemy session that the
  runner commits together with the job's `succeeded` state (so a short handler's effect and its success
  are one transaction: if the worker dies before, nothing was applied and another worker runs it again);
- a plain exception fails the attempt: the job goes to `retrying` with exponential back-off
  (JOB_BACKOFF_SECONDS doubling, capped at JOB_BACKOFF_MAX_SECONDS) and ends `failed` after
  JOB_MAX_ATTEMPTS, with the error kept; raise `PermanentJobError(message)` to fail at once;
- the returned string becomes the job's message (default "done").

Webhooks run as kind "webhook", which dispatches by topic to `shopapp.webhooks.registry`.
Modules holding kinds are imported by `load_kinds()` (the built-in ones below plus JOB_MODULES).
"""
from __future__ import annotations

import importlib
import logging
from typing import Callable, Iterable, Optional

from shopapp.jobs.context import JobContext
from shopapp.jobs.errors import JobCancelledError, PermanentJobError, UnknownJobKindError

__all__ = ["JobContext", "JobCancelledError", "PermanentJobError", "job_kind", "get_kind", "kind_names",
           "load_kinds", "BUILTIN_KIND_MODULES"]

log = logging.getLogger(__name__)

Handler = Callable[[JobContext], Optional[str]]

# Modules that register the app's own kinds; imported by every worker before it takes a job.
BUILTIN_KIND_MODULES = ("shopapp.webhooks.dispatch", "shopapp.jobs.sync_products")

_KINDS: dict[str, Handler] = {}


def job_kind(name: str) -> Callable[[Handler], Handler]:
    """Decorator: register `fn(ctx)` as the handler of jobs of kind `name` (one handler per kind)."""
    def register(fn: Handler) -> Handler:
        existing = _KINDS.get(name)
        if existing is not None and existing is not fn and _qualname(existing) != _qualname(fn):
            raise ValueError(f"job kind {name!r} is already handled by {_qualname(existing)}")
        _KINDS[name] = fn
        return fn
    return register


def get_kind(name: str) -> Handler:
    """The handler of kind `name`; raises UnknownJobKindError."""
    try:
        return _KINDS[name]
    except KeyError:
        raise UnknownJobKindError(f"no handler for job kind {name!r}") from None


def kind_names() -> list[str]:
    """Names of every registered kind."""
    return sorted(_KINDS)


def load_kinds(extra_modules: Iterable[str] = ()) -> None:
    """Import the modules that register kinds: the built-in ones (when present) and `extra_modules`."""
    for module in BUILTIN_KIND_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:  # a real import error inside the module must not pass silently
                raise
            log.debug("job kind module %s is not present", module)
    for module in extra_modules:
        if module:
            importlib.import_module(module)


def _qualname(fn) -> str:
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"
