"""Every setting of shopapp, read from the environment in one place.

`Config.from_env()` is the only code that reads `os.environ` for settings; the rest of the app reads
`app.config`. A missing or malformed setting raises `ConfigError` with one line naming it, which the
entry points (`wsgi.py`, `python -m shopapp`) print before exiting.
"""
from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

from shopapp.config_values import ConfigError, EnvReader

ROOT = Path(__file__).resolve().parent.parent
INSTANCE_DIR = Path(os.environ.get("SHOPAPP_INSTANCE_DIR", ROOT / "instance"))
DEV_CREDENTIALS_FILE = "dev-credentials.json"
DEV_SHOP = "dev-shop.myshopify.com"
DEFAULT_API_VERSION = "2026-10"
FEATURES_PACKAGE = "shopapp.features"
# Environment variables only the web process reads: other commands neither read nor validate them.
WEB_ONLY = frozenset({"PORT", "BIND_HOST", "HOST", "SHOPIFY_APP_URL", "WEBHOOK_MAX_BYTES",
                      "WEBHOOK_BODY_TIMEOUT_SECONDS", "WEBHOOK_BUFFER_BYTES", "WS_TOKEN_GRACE_SECONDS",
                      "WS_QUEUE_SIZE", "WS_PING_SECONDS", "WS_MAX_MESSAGE_BYTES"})


@dataclass(frozen=True)
class Config:
    """Typed settings. Field names are the Flask config keys (`app.config["WEBHOOK_MAX_BYTES"]`)."""

    SHOPIFY_API_KEY: str = ""
    SHOPIFY_API_SECRET: str = ""
    # Accepted alongside the current secret while a rotation is in progress.
    SHOPIFY_API_SECRET_PREVIOUS: str = ""
    SCOPES: str = "read_products,read_orders"
    APP_URL: str = "http://127.0.0.1:8000"
    PORT: int = 8000
    # The web process's listening address; unset: 127.0.0.1 under `make run` and in dev mode, else 0.0.0.0
    # (gunicorn.conf.py, where platforms route traffic to the container's address).
    BIND_HOST: str = ""
    DATABASE_URL: str = ""
    REDIS_URL: str = ""
    # Redis Sentinel: (host, port) of each sentinel and the monitored master's name. With them every Redis
    # client follows the master Sentinel names; REDIS_URL then only gives the master's credentials, db and TLS.
    REDIS_SENTINELS: tuple[tuple[str, int], ...] = ()
    REDIS_SENTINEL_MASTER: str = ""
    # The sentinels' own password (their `requirepass`), when they have one.
    REDIS_SENTINEL_PASSWORD: str = ""
    DEV_MODE: bool = False
    # Unset in production. Sends every OAuth and Admin API call to this origin (tests, local stand-in).
    SHOPIFY_ADMIN_ORIGIN: str = ""
    # Comma-separated Fernet keys; the first encrypts, all decrypt (key rotation).
    ENCRYPTION_KEYS: tuple[str, ...] = ()
    SHOPIFY_API_VERSION: str = DEFAULT_API_VERSION
    # The largest webhook body: a 2,048-variant product's products/update passes 1 MB (README "Webhooks").
    WEBHOOK_MAX_BYTES: int = 16 * 1024 * 1024
    # A webhook body must arrive whole within this many seconds (408 after).
    WEBHOOK_BODY_TIMEOUT_SECONDS: float = 10.0
    # The bytes of webhook bodies one web process holds at once (a delivery finding no room: 503).
    WEBHOOK_BUFFER_BYTES: int = 64 * 1024 * 1024
    JOB_MAX_ATTEMPTS: int = 5
    JOB_BACKOFF_SECONDS: float = 2.0
    JOB_BACKOFF_MAX_SECONDS: float = 300.0
    # A running job whose worker stopped heart-beating this long ago is handed to another worker.
    JOB_STALL_SECONDS: float = 30.0
    SWEEP_INTERVAL_SECONDS: float = 5.0
    # Worker processes of `python -m shopapp worker`; the first WEBHOOK_WORKER_PROCESSES take webhook jobs
    # only, the others webhook jobs first, then merchant jobs (lanes: webhooks never wait behind a sync).
    WORKER_PROCESSES: int = 2
    WEBHOOK_WORKER_PROCESSES: int = 1
    # Time limits of one attempt, in seconds (a kind or topic may declare its own).
    JOB_TIMEOUT_SECONDS: float = 300.0
    # How often the workers start a reconcile (catch-up) for each installed shop; 0: never.
    RECONCILE_INTERVAL_SECONDS: float = 21600.0
    WEBHOOK_JOB_TIMEOUT_SECONDS: float = 60.0
    QUEUE_NAME: str = "shopapp"
    # The feature packages each process loads at start-up (dotted names; a bare name is a bundled feature).
    FEATURES: tuple[str, ...] = ()
    WS_TOKEN_GRACE_SECONDS: float = 60.0
    WS_QUEUE_SIZE: int = 1000
    WS_PING_SECONDS: float = 25.0
    WS_MAX_MESSAGE_BYTES: int = 64 * 1024
    EVENT_LOG_SIZE: int = 1000
    SHOPIFY_API_BUDGET_PER_SECOND: float = 2.0
    LOG_LEVEL: str = "INFO"
    # json, plain, or auto: plain when stderr is a terminal or in dev mode, else JSON (logs.use_json_lines).
    LOG_FORMAT: str = "auto"
    # Bearer token that /metrics requires; unset: only direct scrapes from loopback or a private network.
    METRICS_TOKEN: str = ""
    # The worker command's own metrics listener (worker-only machines): port (0: none) and address.
    METRICS_PORT: int = 0
    METRICS_BIND: str = "127.0.0.1"
    TESTING: bool = False
    dev_credentials_generated: bool = field(default=False, compare=False)
    # True when SHOPAPP_ENCRYPTION_KEY was unset and the local key under instance/ is used (never in production).
    encryption_key_generated: bool = field(default=False, compare=False)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, *, web: bool = True) -> Config:
        """Build the settings from `environ` (default `os.environ`), validating each one.

        With `web=False` (commands that serve nothing: the worker, sweep, trigger, ...) the settings only
        the web process reads (`WEB_ONLY`) are neither read nor validated; they keep their defaults.
        Raises ConfigError naming the first bad setting.
        """
        env = os.environ if environ is None else environ
        reader = EnvReader(env if web else {k: v for k, v in env.items() if k not in WEB_ONLY})
        dev = reader.flag("SHOPAPP_DEV")
        key, secret = env.get("SHOPIFY_API_KEY", ""), env.get("SHOPIFY_API_SECRET", "")
        generated = key_generated = False
        production = reader.flag("SHOPAPP_PRODUCTION")
        enc_keys = reader.fernet_keys("SHOPAPP_ENCRYPTION_KEY")
        if not key or not secret:
            if production:
                raise ConfigError("SHOPIFY_API_KEY and SHOPIFY_API_SECRET are required in production")
            dev, generated = True, True
            creds = load_dev_credentials()
            key, secret = key or creds["api_key"], secret or creds["api_secret"]
        if not enc_keys:
            if production:
                raise ConfigError("SHOPAPP_ENCRYPTION_KEY is required in production "
                                  "(generate one: python -c 'from cryptography.fernet import Fernet;"
                                  "print(Fernet.generate_key().decode())')")
            # Outside production (make run, `shopify app dev`) a local key is generated once and kept with the
            # other local credentials, so stored tokens survive restarts.
            enc_keys, key_generated = (load_dev_credentials()["encryption_key"],), True
        port = reader.integer("PORT", 8000, minimum=1, maximum=65535)
        max_bytes = reader.integer("WEBHOOK_MAX_BYTES", cls.WEBHOOK_MAX_BYTES, minimum=1)
        sentinels, sentinel_master = reader.sentinels("REDIS_SENTINELS", "REDIS_SENTINEL_MASTER", "REDIS_URL")
        return cls(
            SHOPIFY_API_KEY=key,
            SHOPIFY_API_SECRET=secret,
            SHOPIFY_API_SECRET_PREVIOUS=env.get("SHOPIFY_API_SECRET_PREVIOUS", ""),
            SCOPES=env.get("SCOPES", cls.SCOPES),
            APP_URL=reader.url("SHOPIFY_APP_URL", "HOST", f"http://127.0.0.1:{port}"),
            PORT=port,
            BIND_HOST=reader.address("BIND_HOST", ""),
            DATABASE_URL=reader.database_url("DATABASE_URL", INSTANCE_DIR),
            REDIS_URL=reader.redis_url("REDIS_URL"),
            REDIS_SENTINELS=sentinels,
            REDIS_SENTINEL_MASTER=sentinel_master,
            REDIS_SENTINEL_PASSWORD=env.get("REDIS_SENTINEL_PASSWORD", ""),
            DEV_MODE=dev,
            SHOPIFY_ADMIN_ORIGIN=reader.origin("SHOPIFY_ADMIN_ORIGIN"),
            ENCRYPTION_KEYS=enc_keys,
            SHOPIFY_API_VERSION=env.get("SHOPIFY_API_VERSION", DEFAULT_API_VERSION),
            WEBHOOK_MAX_BYTES=max_bytes,
            WEBHOOK_BODY_TIMEOUT_SECONDS=reader.positive("WEBHOOK_BODY_TIMEOUT_SECONDS",
                                                         cls.WEBHOOK_BODY_TIMEOUT_SECONDS),
            WEBHOOK_BUFFER_BYTES=reader.buffer_bytes("WEBHOOK_BUFFER_BYTES", cls.WEBHOOK_BUFFER_BYTES, max_bytes),
            JOB_MAX_ATTEMPTS=reader.integer("JOB_MAX_ATTEMPTS", cls.JOB_MAX_ATTEMPTS, minimum=1),
            JOB_BACKOFF_SECONDS=reader.number("JOB_BACKOFF_SECONDS", cls.JOB_BACKOFF_SECONDS),
            JOB_BACKOFF_MAX_SECONDS=reader.number("JOB_BACKOFF_MAX_SECONDS", cls.JOB_BACKOFF_MAX_SECONDS),
            JOB_STALL_SECONDS=reader.number("JOB_STALL_SECONDS", cls.JOB_STALL_SECONDS),
            SWEEP_INTERVAL_SECONDS=reader.number("SWEEP_INTERVAL_SECONDS", cls.SWEEP_INTERVAL_SECONDS),
            WORKER_PROCESSES=reader.integer("WORKER_PROCESSES", cls.WORKER_PROCESSES, minimum=1),
            WEBHOOK_WORKER_PROCESSES=reader.integer("WEBHOOK_WORKER_PROCESSES", cls.WEBHOOK_WORKER_PROCESSES,
                                                    minimum=0),
            JOB_TIMEOUT_SECONDS=reader.positive("JOB_TIMEOUT_SECONDS", cls.JOB_TIMEOUT_SECONDS),
            RECONCILE_INTERVAL_SECONDS=reader.number("RECONCILE_INTERVAL_SECONDS", cls.RECONCILE_INTERVAL_SECONDS),
            WEBHOOK_JOB_TIMEOUT_SECONDS=reader.positive("WEBHOOK_JOB_TIMEOUT_SECONDS",
                                                        cls.WEBHOOK_JOB_TIMEOUT_SECONDS),
            QUEUE_NAME=env.get("QUEUE_NAME", cls.QUEUE_NAME),
            WS_TOKEN_GRACE_SECONDS=reader.number("WS_TOKEN_GRACE_SECONDS", cls.WS_TOKEN_GRACE_SECONDS),
            WS_QUEUE_SIZE=reader.integer("WS_QUEUE_SIZE", cls.WS_QUEUE_SIZE, minimum=1),
            FEATURES=reader.features("FEATURES", FEATURES_PACKAGE, bundled_features()),
            WS_PING_SECONDS=reader.number("WS_PING_SECONDS", cls.WS_PING_SECONDS),
            WS_MAX_MESSAGE_BYTES=reader.integer("WS_MAX_MESSAGE_BYTES", cls.WS_MAX_MESSAGE_BYTES, minimum=1),
            EVENT_LOG_SIZE=reader.integer("EVENT_LOG_SIZE", cls.EVENT_LOG_SIZE, minimum=1),
            SHOPIFY_API_BUDGET_PER_SECOND=reader.number(
                "SHOPIFY_API_BUDGET_PER_SECOND", cls.SHOPIFY_API_BUDGET_PER_SECOND),
            LOG_LEVEL=reader.choice("LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR")),
            LOG_FORMAT=reader.log_format("LOG_FORMAT", "LOG_PLAIN"),
            METRICS_TOKEN=env.get("METRICS_TOKEN", ""),
            METRICS_PORT=reader.integer("METRICS_PORT", 0, minimum=0, maximum=65535),
            METRICS_BIND=reader.address("METRICS_BIND", cls.METRICS_BIND),
            dev_credentials_generated=generated,
            encryption_key_generated=key_generated,
        )

    @staticmethod
    def database_url_from_env(environ: dict[str, str] | None = None) -> str:
        """DATABASE_URL alone (`db upgrade` needs nothing else); raises ConfigError when it is malformed."""
        return EnvReader(os.environ if environ is None else environ).database_url("DATABASE_URL", INSTANCE_DIR)

    @staticmethod
    def port_from_env(environ: dict[str, str] | None = None) -> int:
        """PORT when it is a valid port, else the default: for commands that only talk to a local app."""
        try:
            return EnvReader(os.environ if environ is None else environ).integer("PORT", 8000, 1, 65535)
        except ConfigError:
            return Config.PORT

    @staticmethod
    def features_from_env(environ: dict[str, str] | None = None) -> tuple[str, ...]:
        """FEATURES alone (migrations load the features' models); raises ConfigError when it is malformed."""
        reader = EnvReader(os.environ if environ is None else environ)
        return reader.features("FEATURES", FEATURES_PACKAGE, bundled_features())

    def with_overrides(self, **overrides) -> Config:
        """A copy with some settings replaced (tests)."""
        return replace(self, **overrides)

    def as_flask_config(self) -> dict:
        """The settings as a dict for `app.config.update`."""
        data = asdict(self)
        # No SECRET_KEY: the app keeps no cookie session (the embedded page authenticates every call with
        # a session token), so Flask skips its session serializer on every request and an accidental use
        # of `flask.session` fails loudly instead of setting a cookie.
        data["MAX_CONTENT_LENGTH"] = None  # the webhook endpoint enforces its own limit
        return data

    @property
    def redis_configured(self) -> bool:
        """True when a Redis is named: REDIS_URL, or Sentinel (REDIS_SENTINELS and REDIS_SENTINEL_MASTER)."""
        return bool(self.REDIS_URL or self.REDIS_SENTINELS)

    @property
    def api_secrets(self) -> tuple[str, ...]:
        """The secrets that may have signed a webhook or session token, current one first."""
        return tuple(s for s in (self.SHOPIFY_API_SECRET, self.SHOPIFY_API_SECRET_PREVIOUS) if s)


def load_dev_credentials() -> dict:
    """Local credentials for dev mode, generated once and kept under instance/ so tokens survive restarts."""
    path = INSTANCE_DIR / DEV_CREDENTIALS_FILE
    if path.exists():
        return json.loads(path.read_text())
    from cryptography.fernet import Fernet

    INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
    creds = {
        "api_key": "dev-" + secrets.token_hex(8),
        "api_secret": secrets.token_hex(32),
        "encryption_key": Fernet.generate_key().decode(),
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(creds, indent=2))
    os.chmod(tmp, 0o600)
    tmp.replace(path)
    return creds


def get_config(app=None) -> Config:
    """The typed settings the app (default: the current app) was built with."""
    from flask import current_app

    return (app or current_app).extensions["shopapp.config"]


def bundled_features() -> tuple[str, ...]:
    """Every feature package in shopapp/features/ (FEATURES' default), as dotted names, sorted."""
    folder = ROOT / Path(*FEATURES_PACKAGE.split("."))
    return tuple(f"{FEATURES_PACKAGE}.{p.parent.name}" for p in sorted(folder.glob("*/__init__.py"))
                 if p.parent.name.isidentifier())


def setting_names() -> list[str]:
    """Names of all typed settings (for docs and tests)."""
    return [f.name for f in fields(Config) if f.name.isupper()]
