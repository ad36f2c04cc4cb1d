"""Logging: one line per event with request and job context; never tokens, secrets or customer data.

Two forms (LOG_FORMAT): JSON objects, the default where nobody reads the terminal (production, log
collectors), and plain lines for a developer's terminal (`12:01:02 INFO  webhook accepted  shop=...
topic=orders/create job_id=7 request_id=...`), chosen by `use_json_lines`: `auto` is plain when stderr is a
terminal or in dev mode. gunicorn's own lines take the same form (`gunicorn_logconfig`, gunicorn.conf.py).

Context travels in a contextvar (per thread and per gevent greenlet), so a line logged deep inside a view
or a task carries the request id, shop, topic, webhook id and job id without passing them around:
- every HTTP request gets a request id (`shopapp.observability`) that its lines carry;
- views add what they learn with `set_context(shop=..., topic=..., webhook_id=...)`;
- tasks wrap their work in `with bind(job_id=..., shop=...):`.
Every line passes a redactor that removes session tokens (JWTs), bearer and Shopify access tokens, token
query parameters, e-mail addresses, SQL parameters and the configured secrets, in case a message or an
exception text carried one by accident. Only paths are logged, never query strings.
"""
from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:  # gunicorn's master imports this module: nothing heavier than the standard library
    from flask import Flask

# Context fields copied from a record's `extra=` (or the context) into the JSON line.
CONTEXT_FIELDS = ("request_id", "shop", "topic", "webhook_id", "job_id", "event_id", "kind", "method", "path",
                  "status", "duration_ms")

# The default is never mutated: every change sets a new dict.
_context: contextvars.ContextVar[dict] = contextvars.ContextVar("shopapp_log_context", default={})  # noqa: B039

_PATTERNS = [
    (re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), "[redacted-jwt]"),
    (re.compile(r"\bshp(?:at|ua|ca|ss|pa|rt)_[A-Za-z0-9]+"), "[redacted-token]"),
    (re.compile(r"(?i)\b(bearer)\s+[^\s\"',]+"), r"\1 [redacted]"),
    # Query parameters that carry credentials (a URL logged by a library, an OAuth callback).
    (re.compile(r"(?i)(?<=[?&;])(id_token|session|token|access_token|refresh_token|hmac|code|secret|"
                r"password|signature)=[^&;\s\"']+"), r"\1=[redacted]"),
    (re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"), "[redacted-email]"),
    # SQLAlchemy puts bound values (payload fields) into its error texts.
    (re.compile(r"\[parameters: [^\n]*\]"), "[parameters: redacted]"),
]
_secrets: tuple[str, ...] = ()


def redact(text: str) -> str:
    """`text` without anything that looks like a token, a secret or an e-mail address."""
    for secret in _secrets:
        text = text.replace(secret, "[redacted-secret]")
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


# --- context ------------------------------------------------------------------------------------------

def current_context() -> dict:
    """The fields every line logged now will carry."""
    return dict(_context.get())


def set_context(**fields) -> None:
    """Add fields (shop, topic, webhook_id, job_id, ...) to the current request's or task's context."""
    _context.set({**_context.get(), **{k: v for k, v in fields.items() if v is not None}})


@contextmanager
def bind(**fields) -> Iterator[None]:
    """Carry `fields` on every line logged inside the block (a job's run, a socket's life)."""
    token = _context.set({**_context.get(), **{k: v for k, v in fields.items() if v is not None}})
    try:
        yield
    finally:
        _context.reset(token)


def request_id() -> str | None:
    """The current request's id."""
    return _context.get().get("request_id")


class ContextFilter(logging.Filter):
    """Copies the current context onto each record (explicit `extra=` values win)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in _context.get().items():
            if getattr(record, name, None) is None:
                setattr(record, name, value)
        return True


class JsonFormatter(logging.Formatter):
    """Formats a record as a single redacted JSON line."""

    def format(self, record: logging.LogRecord) -> str:
        data = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": redact(record.getMessage()),
        }
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                data[name] = redact(value) if isinstance(value, str) else value
        if record.exc_info:
            data["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(data, default=str)


# Plain lines put what names the event first and the request id last.
PLAIN_FIELDS = ("shop", "topic", "webhook_id", "event_id", "job_id", "kind", "method", "path", "status",
                "duration_ms", "request_id")
LOG_FORMATS = ("auto", "json", "plain")


class PlainFormatter(logging.Formatter):
    """One readable line per event, redacted like the JSON ones: `HH:MM:SS LEVEL message  key=value ...`
    (local time); an exception's traceback follows on the next lines."""

    def format(self, record: logging.LogRecord) -> str:
        when = time.strftime("%H:%M:%S", time.localtime(record.created))
        fields = "  ".join(filter(None, [
            record.getMessage(),
            " ".join(f"{n}={getattr(record, n)}" for n in PLAIN_FIELDS if getattr(record, n, None) is not None)]))
        line = f"{when} {record.levelname:<5} {fields}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return redact(line)


def use_json_lines(log_format: str, dev: bool, stream: TextIO | None = None) -> bool:
    """Whether to write JSON lines: LOG_FORMAT `json` always, `plain` never, `auto` (or anything else)
    unless `stream` (default stderr) is a terminal or the app runs in dev mode."""
    if log_format in ("json", "plain"):
        return log_format == "json"
    stream = stream or sys.stderr
    try:
        terminal = stream.isatty()
    except (AttributeError, ValueError):  # a closed or unusual stream
        terminal = False
    return not (terminal or dev)


def gunicorn_logconfig(json_form: bool, level: str = "info") -> dict:
    """gunicorn's `logconfig_dict`: its own loggers (gunicorn.error, gunicorn.access) and the master's root
    logger write through this module's formatter to stderr, in the form the app's lines have."""
    level = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        # Classes, not dotted names: gunicorn.conf.py loads this module by path (see there).
        "formatters": {"shopapp": {"()": JsonFormatter if json_form else PlainFormatter}},
        "filters": {"context": {"()": ContextFilter}},
        "handlers": {"shopapp": {"class": "logging.StreamHandler", "formatter": "shopapp",
                                 "filters": ["context"], "stream": "ext://sys.stderr"}},
        "root": {"level": level, "handlers": ["shopapp"]},
        "loggers": {name: {"level": level, "handlers": ["shopapp"], "propagate": False}
                    for name in ("gunicorn.error", "gunicorn.access")},
    }


def build_handler(stream=None, json_lines: bool = True) -> logging.Handler:
    """A handler writing redacted lines with context to `stream` (default stderr)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if json_lines else PlainFormatter())
    handler.addFilter(ContextFilter())
    return handler


def configure(level: str = "INFO", json_lines: bool = True, secrets: Iterable[str] = ()) -> None:
    """Configure the root logger once per process; `secrets` are removed from every line."""
    global _secrets
    # Longest first, so that a secret containing another is removed whole.
    _secrets = tuple(sorted({s for s in secrets if s and len(s) >= 8}, key=len, reverse=True))
    root = logging.getLogger()
    root.handlers[:] = [build_handler(json_lines=json_lines)]
    root.setLevel(level)


def start_context(**fields) -> contextvars.Token:
    """Start a fresh context holding `fields` (a request's); returns the token for `end_context`."""
    return _context.set({k: v for k, v in fields.items() if v is not None})


def end_context(token: contextvars.Token) -> None:
    """Drop a context that `start_context` started."""
    try:
        _context.reset(token)
    except ValueError:  # reset from another context (should not happen): start the next one clean
        _context.set({})


def init_app(app: Flask) -> None:
    """Configure logging from the app's settings (not in tests, where pytest captures logs)."""
    if not app.config["TESTING"]:
        configure(app.config["LOG_LEVEL"], use_json_lines(app.config["LOG_FORMAT"], app.config["DEV_MODE"]),
                  secrets=configured_secrets(app.config))


def configured_secrets(config) -> tuple[str, ...]:
    """Every secret the settings hold (`config`: app.config): the API secrets, the metrics token, the
    encryption keys, the Sentinel password and the passwords inside REDIS_URL and DATABASE_URL."""
    from urllib.parse import urlparse

    passwords = [urlparse(config.get(name) or "").password or "" for name in ("REDIS_URL", "DATABASE_URL")]
    return (config["SHOPIFY_API_SECRET"], config["SHOPIFY_API_SECRET_PREVIOUS"], config.get("METRICS_TOKEN", ""),
            config.get("REDIS_SENTINEL_PASSWORD", ""), *passwords, *config["ENCRYPTION_KEYS"])
