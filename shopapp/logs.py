"""Logging: one JSON object per line with request and job context; never tokens, secrets or customer data."""
from __future__ import annotations

import json
import logging
import sys
import time

from flask import Flask

# Context fields copied from a record's `extra=` into the JSON line.
CONTEXT_FIELDS = ("request_id", "shop", "topic", "webhook_id", "job_id", "event_id", "status", "duration_ms")


class JsonFormatter(logging.Formatter):
    """Formats a record as a single JSON line."""

    def format(self, record: logging.LogRecord) -> str:
        data = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                data[name] = value
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        return json.dumps(data, default=str)


def configure(level: str = "INFO", json_lines: bool = True) -> None:
    """Configure the root logger once per process."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if json_lines else logging.Formatter(
        "%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def init_app(app: Flask) -> None:
    """Configure logging from the app's settings (not in tests, where pytest captures logs)."""
    if not app.config["TESTING"]:
        configure(app.config["LOG_LEVEL"], app.config["LOG_JSON"])
