"""Every Redis client of the app, built in one place: the app's client (queues, publisher, locks, the Admin
API budget), each worker's RQ connection, and each web process's subscriber.

Redis is named either by `REDIS_URL` or by Sentinel (`REDIS_SENTINELS` + `REDIS_SENTINEL_MASTER`): then
every client asks the sentinels for the current master on each new connection, so after a failover the
app follows the new master by itself. With Sentinel, `REDIS_URL` (optional) gives the master's
credentials, database number and TLS options (`rediss://user:pw@any-host/0?ssl_ca_certs=...`); its host
and port are ignored. The sentinels are reached over plain TCP with `REDIS_SENTINEL_PASSWORD`, if set.

Each client has explicit timeouts, TCP keepalives and a bounded retry, because redis-py's defaults wait
for minutes when a network path silently drops packets (measured: a first connect gave up after 59 s, a
command on an open connection had not returned after 300 s).
"""
from __future__ import annotations

import socket
from collections.abc import Mapping
from typing import Any

import redis
from flask import Flask, current_app
from redis.backoff import ExponentialWithJitterBackoff, NoBackoff
from redis.connection import SSLConnection, parse_url
from redis.retry import Retry
from redis.sentinel import Sentinel, SentinelConnectionPool, SentinelManagedConnection

from shopapp.config import Config, ConfigError

# Connections one process may open. Under gevent hundreds of requests run at once; redis-py's default
# pool raises "Too many connections" past 100, so a blocking pool makes a burst wait for a free one.
MAX_CONNECTIONS = 200
POOL_WAIT_SECONDS = 5
CONNECT_TIMEOUT_SECONDS = 2
COMMAND_TIMEOUT_SECONDS = 5
# The subscriber's reads wait for messages; a health-check PING every 10 s keeps a dead link from hiding.
SUBSCRIBER_TIMEOUT_SECONDS = 10
HEALTH_CHECK_SECONDS = 15
SENTINEL_TIMEOUT_SECONDS = 1
# A broken or refused connection is tried again up to 3 times within about a second (a restarted
# Redis, a failover that has just finished). A timeout is not: the server did not answer in 5 s, and
# waiting three times as long would only hold a webhook's answer past Shopify's 5 s.
RETRIES = 3
_BACKOFF = dict(base=0.1, cap=1.0)
# Linux TCP options: probe an idle connection after 10 s, give up after 3 unanswered probes 5 s apart,
# and drop a connection whose sent data stays unacknowledged for 15 s (a link that silently drops packets).
KEEPALIVE_OPTIONS = {getattr(socket, name): value for name, value in
                     (("TCP_KEEPIDLE", 10), ("TCP_KEEPINTVL", 5), ("TCP_KEEPCNT", 3), ("TCP_USER_TIMEOUT", 15_000))
                     if hasattr(socket, name)}


class SafeSentinelManagedConnection(SentinelManagedConnection):
    """A Sentinel-managed connection that is dropped, not reused, after an interrupted read.

    redis-py 8.1's SentinelManagedConnection.read_response defaults `disconnect_on_error` to False (the
    base Connection: True). A blocking read cut short (RQ's warm shutdown during BLMOVE, a gevent timeout)
    then leaves a half-read connection in the pool, and the next command reads the old reply: an RQ worker
    took 402 s to stop and then failed with "Wrong number of response items".
    """

    def read_response(self, *args, disconnect_on_error=True, **kwargs):
        return super().read_response(*args, disconnect_on_error=disconnect_on_error, **kwargs)


class SafeSentinelManagedSSLConnection(SafeSentinelManagedConnection, SSLConnection):
    """`SafeSentinelManagedConnection` over TLS (`rediss://` in REDIS_URL)."""


class BlockingSentinelConnectionPool(SentinelConnectionPool, redis.BlockingConnectionPool):
    """Sentinel's pool with the blocking pool's waiting: a burst waits up to `timeout` for a connection
    instead of failing with "Too many connections" (redis-py has no such pool of its own)."""

    def close(self) -> None:
        super().close()
        for client in self.sentinel_manager.sentinels:  # this pool's own Sentinel manager (see _sentinel_pool)
            client.close()


def connect(config: Config | Mapping[str, Any] | str, *, max_connections: int = MAX_CONNECTIONS) -> redis.Redis:
    """A client of the app's Redis with a blocking pool of `max_connections`.

    `config`: the settings (a `Config`, or a Flask app's config) or a plain Redis URL. Commands time out
    after 5 s, connecting after 2 s; a burst of callers waits up to 5 s for a free connection. The client
    owns its pool: `close()` closes every connection. Raises ConfigError when no Redis is configured.
    """
    options = dict(socket_timeout=COMMAND_TIMEOUT_SECONDS, health_check_interval=HEALTH_CHECK_SECONDS)
    return redis.Redis.from_pool(_pool(_settings(config), options, max_connections))


def subscriber_client(config: Config | Mapping[str, Any] | str) -> redis.Redis:
    """A client for one process's pub/sub subscription (realtime.hub): a read waits up to 10 s, and a
    PING every 10 s shows a dead link; with Sentinel it subscribes on the current master.

    It never retries: redis-py would reconnect and subscribe again unseen, and the hub must see every
    break to have its sockets resync what was published meanwhile.
    """
    options = dict(socket_timeout=SUBSCRIBER_TIMEOUT_SECONDS, health_check_interval=10, retry=Retry(NoBackoff(), 0))
    return redis.Redis.from_pool(_pool(_settings(config), options, max_connections=4))


def _settings(config: Config | Mapping[str, Any] | str) -> dict[str, Any]:
    if isinstance(config, str):
        return {"REDIS_URL": config, "REDIS_SENTINELS": (), "REDIS_SENTINEL_MASTER": "", "REDIS_SENTINEL_PASSWORD": ""}
    names = ("REDIS_URL", "REDIS_SENTINELS", "REDIS_SENTINEL_MASTER", "REDIS_SENTINEL_PASSWORD")
    if isinstance(config, Config):
        return {name: getattr(config, name) for name in names}
    return {name: config.get(name) or "" for name in names}


def _pool(settings: dict[str, Any], options: dict[str, Any], max_connections: int) -> redis.ConnectionPool:
    url = settings["REDIS_URL"]
    if not url and not settings["REDIS_SENTINELS"]:
        raise ConfigError("REDIS_URL is not set: run `make run` (starts an embedded Redis) or set REDIS_URL "
                          "(or REDIS_SENTINELS and REDIS_SENTINEL_MASTER)")
    kwargs = dict(socket_connect_timeout=CONNECT_TIMEOUT_SECONDS, socket_keepalive=True,
                  socket_keepalive_options=KEEPALIVE_OPTIONS,
                  retry=Retry(ExponentialWithJitterBackoff(**_BACKOFF), RETRIES, (redis.ConnectionError,)))
    kwargs.update(options)
    if settings["REDIS_SENTINELS"]:
        return _sentinel_pool(settings, kwargs, max_connections)
    kwargs.update(parse_url(url))  # the URL's own options (e.g. ?socket_timeout=) win over the defaults
    if "path" in kwargs:  # a unix socket has no TCP options
        kwargs.pop("socket_keepalive_options")
        kwargs.pop("socket_keepalive")
    return redis.BlockingConnectionPool(max_connections=max_connections, timeout=POOL_WAIT_SECONDS, **kwargs)


def _sentinel_pool(settings: dict[str, Any], kwargs: dict[str, Any], max_connections: int) -> redis.ConnectionPool:
    url_options = parse_url(settings["REDIS_URL"]) if settings["REDIS_URL"] else {}
    tls = url_options.pop("connection_class", None) is SSLConnection
    for ignored in ("host", "port"):  # Sentinel names the master
        url_options.pop(ignored, None)
    kwargs.update(url_options)
    # One manager per pool, closed with it. A sentinel that does not answer within 1 s is skipped for the
    # next one (no retries: discover_master already goes through every sentinel).
    sentinel = Sentinel(settings["REDIS_SENTINELS"], sentinel_kwargs=dict(
        socket_timeout=SENTINEL_TIMEOUT_SECONDS, socket_connect_timeout=SENTINEL_TIMEOUT_SECONDS,
        password=settings["REDIS_SENTINEL_PASSWORD"] or None, retry=Retry(NoBackoff(), 0)))
    connection_class = SafeSentinelManagedSSLConnection if tls else SafeSentinelManagedConnection
    return BlockingSentinelConnectionPool(settings["REDIS_SENTINEL_MASTER"], sentinel, is_master=True,
                                          connection_class=connection_class, max_connections=max_connections,
                                          timeout=POOL_WAIT_SECONDS, **kwargs)


def init_app(app: Flask) -> None:
    """Bind the app's Redis client (see `connect`) to the app; ConfigError when no Redis is configured."""
    app.extensions["redis"] = connect(app.config)


def get_redis(app: Flask | None = None) -> redis.Redis:
    """The app's Redis client."""
    return (app or current_app).extensions["redis"]
