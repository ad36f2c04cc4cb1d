"""shopapp: a Shopify embedded app whose heart is webhook ingestion with live job status, and the
foundation to build your own webhook-heavy app on.

The public API for feature code (`shopapp/features/<name>/`):

    from shopapp import JobContext, webhook_handler, job_kind          # handlers and merchant jobs
    from shopapp import PermanentJobError, JobCancelledError            # what a handler may raise
    from shopapp import Customer, Redaction, redaction                  # its part in privacy requests

and `create_app(config)`, the application factory. Names are imported on first use, so that importing
the package costs nothing (gunicorn's master and the CLI import it before deciding what to load).
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "create_app": "shopapp.app",
    "get_config": "shopapp.config",
    "JobContext": "shopapp.jobs.context",
    "webhook_handler": "shopapp.jobs.registry",
    "job_kind": "shopapp.jobs.registry",
    "PermanentJobError": "shopapp.jobs.errors",
    "JobCancelledError": "shopapp.jobs.errors",
    "Customer": "shopapp.webhooks.privacy",
    "Redaction": "shopapp.webhooks.privacy",
    "redaction": "shopapp.webhooks.privacy",
}

__all__ = ["create_app", "get_config", "JobContext", "webhook_handler", "job_kind", "PermanentJobError",
           "JobCancelledError", "Customer", "Redaction", "redaction"]

if TYPE_CHECKING:
    from shopapp.app import create_app
    from shopapp.config import get_config
    from shopapp.jobs.context import JobContext
    from shopapp.jobs.errors import JobCancelledError, PermanentJobError
    from shopapp.jobs.registry import job_kind, webhook_handler
    from shopapp.webhooks.privacy import Customer, Redaction, redaction


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'shopapp' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
