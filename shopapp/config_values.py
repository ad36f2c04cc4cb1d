"""Parsing one environment variable at a time, for `shopapp.config` (the one place that reads settings).

Each parser returns the typed value or raises `ConfigError` with one line that names the variable and says
what a valid value looks like; secrets in a refused value are masked (`redact`).
"""
from __future__ import annotations

import base64
import ipaddress
import math
from pathlib import Path
from urllib.parse import urlparse

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError


class ConfigError(Exception):
    """A setting is missing or malformed; the message names it in one line."""



class EnvReader:
    """Parses single environment variables, raising ConfigError that names the variable."""

    def __init__(self, env):
        self.env = env

    def flag(self, name: str) -> bool:
        raw = self.env.get(name, "").strip().lower()
        if raw in ("", "0", "false", "no", "off"):
            return False
        if raw in ("1", "true", "yes", "on"):
            return True
        raise ConfigError(f"{name}={raw!r} is not a boolean (use 1 or 0)")

    def integer(self, name: str, default: int, minimum: int | None = None, maximum: int | None = None) -> int:
        raw = self.env.get(name, "").strip()
        if not raw:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ConfigError(f"{name}={raw!r} is not an integer") from None
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            raise ConfigError(f"{name}={value} is out of range [{minimum}, {maximum}]")
        return value

    def number(self, name: str, default: float) -> float:
        raw = self.env.get(name, "").strip()
        if not raw:
            return default
        try:
            value = float(raw)
        except ValueError:
            raise ConfigError(f"{name}={raw!r} is not a number") from None
        if not math.isfinite(value):
            raise ConfigError(f"{name}={raw!r} is not a finite number")
        if value < 0:
            raise ConfigError(f"{name}={raw!r} must not be negative")
        return value

    def positive(self, name: str, default: float) -> float:
        value = self.number(name, default)
        if value <= 0:
            raise ConfigError(f"{name}={value:g} must be a positive number of seconds")
        return value

    def log_format(self, name: str, replaced: str) -> str:
        if self.env.get(replaced, "").strip() not in ("", "0"):  # the older flag: say what replaced it
            raise ConfigError(f"{replaced} is replaced by {name} (json, plain or auto); set {name}=plain")
        return self.choice(name, "AUTO", ("AUTO", "JSON", "PLAIN")).lower()

    def buffer_bytes(self, name: str, default: int, max_bytes: int) -> int:
        # One body of the largest size must fit, or it could never be read.
        value = self.integer(name, max(default, max_bytes), minimum=1)
        if value < max_bytes:
            raise ConfigError(f"{name}={value} is smaller than WEBHOOK_MAX_BYTES={max_bytes}")
        return value

    def choice(self, name: str, default: str, options: tuple[str, ...]) -> str:
        raw = self.env.get(name, "").strip().upper() or default
        if raw not in options:
            raise ConfigError(f"{name}={raw!r} is not one of {', '.join(options)}")
        return raw

    def url(self, name: str, fallback_name: str, default: str) -> str:
        for var in (name, fallback_name):
            raw = self.env.get(var, "").strip()
            if raw:
                if "://" not in raw:  # the Shopify CLI's HOST may be a bare host name
                    raw = "https://" + raw
                if not urlparse(raw).netloc:
                    raise ConfigError(f"{var}={raw!r} is not a URL")
                return raw.rstrip("/")
        return default

    def origin(self, name: str) -> str:
        raw = self.env.get(name, "").strip()
        if not raw:
            return ""
        parsed = urlparse(raw)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ConfigError(f"{name}={raw!r} is not an http(s) origin")
        return f"{parsed.scheme}://{parsed.netloc}"

    def database_url(self, name: str, instance_dir: Path) -> str:
        """`name`'s database URL (postgres:// accepted, psycopg 3 chosen), or a SQLite file in `instance_dir`
        (created) when unset."""
        raw = self.env.get(name, "").strip()
        if not raw:
            instance_dir.mkdir(parents=True, exist_ok=True)
            return f"sqlite:///{instance_dir / 'shopapp.sqlite3'}"
        if raw.startswith("postgres://"):  # Heroku-style scheme that SQLAlchemy no longer accepts
            raw = "postgresql://" + raw[len("postgres://"):]
        try:
            url = make_url(raw)
        except ArgumentError:
            raise ConfigError(f"{name} cannot be parsed as a database URL (e.g. "
                              "postgresql://user@host/db or sqlite:///path)") from None
        if url.get_backend_name() not in ("sqlite", "postgresql"):
            raise ConfigError(f"{name} uses {url.get_backend_name()!r}; use postgresql or sqlite")
        if url.get_backend_name() == "postgresql" and url.drivername == "postgresql":
            raw = url.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
        return raw

    def redis_url(self, name: str) -> str:
        raw = self.env.get(name, "").strip()
        if not raw:
            return ""
        if urlparse(raw).scheme not in ("redis", "rediss", "unix"):
            raise ConfigError(f"{name}={redact(raw)!r} is not a redis://, rediss:// or unix:// URL")
        return raw

    def sentinels(self, name: str, master_name: str, url_name: str) -> tuple[tuple[tuple[str, int], ...], str]:
        """`host:port,host:port` (IPv6 as `[::1]:26379`) and the master's name: both set, or neither."""
        raw, master = self.env.get(name, "").strip(), self.env.get(master_name, "").strip()
        if bool(raw) != bool(master):
            raise ConfigError(f"{name} and {master_name} go together: set both (Sentinel) or neither")
        if not raw:
            return (), ""
        if self.env.get(url_name, "").strip().startswith("unix://"):
            raise ConfigError(f"{url_name} is a unix:// URL, which Sentinel cannot name: use redis:// or rediss://")
        nodes = []
        for entry in (e.strip() for e in raw.split(",")):
            host, _, port = entry.rpartition(":")
            host = host.strip("[]")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ConfigError(f"{name} holds {entry!r}, which is not host:port (e.g. 10.0.0.5:26379)")
            nodes.append((host, int(port)))
        return tuple(nodes), master

    def address(self, name: str, default: str) -> str:
        raw = self.env.get(name, "").strip()
        if not raw:
            return default
        try:
            ipaddress.ip_address(raw)
        except ValueError:
            raise ConfigError(f"{name}={raw!r} is not an IP address "
                              "(e.g. 127.0.0.1, or 0.0.0.0 for every one)") from None
        return raw

    def features(self, name: str, package: str, default: tuple[str, ...]) -> tuple[str, ...]:
        """Comma-separated module names, a bare name meaning `package`.<name>; `default` when unset."""
        raw = self.env.get(name, "").strip()
        if not raw:
            return default
        names = []
        for entry in (e.strip() for e in raw.split(",")):
            if not entry:
                continue
            if not all(part.isidentifier() for part in entry.split(".")):
                raise ConfigError(f"{name} holds {entry!r}, which is not a module name (e.g. orders, or "
                                  "mycompany.features.reviews)")
            names.append(entry if "." in entry else f"{package}.{entry}")
        return tuple(dict.fromkeys(names))

    def fernet_keys(self, name: str) -> tuple[str, ...]:
        raw = self.env.get(name, "").strip()
        if not raw:
            return ()
        keys = tuple(k.strip() for k in raw.split(",") if k.strip())
        for key in keys:
            try:
                if len(base64.urlsafe_b64decode(key.encode())) != 32:
                    raise ValueError
            except ValueError:
                raise ConfigError(f"{name} holds a key that is not a Fernet key "
                                  "(32 url-safe base64-encoded bytes)") from None
        return keys


def redact(url: str) -> str:
    """`url` with its password, if any, replaced by ***."""
    parsed = urlparse(url)
    return url.replace(parsed.password, "***") if parsed.password else url
