"""The per-process Redis subscriber and the registry of open job sockets, by shop.

One pub/sub connection per web process (a pattern subscription to every shop's events channel plus the
control channel) feeds every socket of that process. It is started lazily, by the first socket of the
process (never before gunicorn forks). Under gunicorn's gevent worker `threading` is monkey-patched, so
the subscriber and the locks are greenlets and cooperative locks; under threads they are real threads.

When the subscription breaks, it reconnects with a back-off that doubles and caps (python-socketio's
Redis manager pattern), and then asks every socket to resync from its last seq: nothing published during
the gap is lost, since it is in the per-shop event log (or the socket gets a fresh snapshot). When another
Redis server answers after the gap (Sentinel promoted a replica, Redis restarted: its run id changed), a
socket replays only if that server's log holds the page's own last event at its seq; else it gets a
snapshot, since that server's counter may be behind what the page holds and repeat its seqs.
"""
from __future__ import annotations

import json
import logging
import os
import threading
import time
import weakref

import redis

from shopapp import redis_keys
from shopapp.realtime import codes
from shopapp.realtime.jobsocket import Event, JobSocket
from shopapp.redis_client import subscriber_client

log = logging.getLogger(__name__)

BACKOFF_INITIAL_SECONDS = 0.2
BACKOFF_MAX_SECONDS = 5.0
# How long get_message waits before the loop looks at its stop flag again.
POLL_SECONDS = 1.0
# How often token deadlines (expiry + WS_TOKEN_GRACE_SECONDS) and due pings are checked.
DEADLINE_CHECK_SECONDS = 1.0

_CHANNEL_HEAD, _CHANNEL_TAIL = redis_keys.shop_events_channel("\0").encode().split(b"\0")
_HUBS: weakref.WeakSet[Hub] = weakref.WeakSet()


class Hub:
    """Subscribes once per process and hands each shop's events to that shop's sockets."""

    def __init__(self, redis_settings):
        self.redis_settings = redis_settings  # what `redis_client.subscriber_client` takes: the app's config
        self.closing_code: int | None = None
        self.reconnects = 0
        self._lock = threading.Lock()
        self._sockets: dict[str, tuple[JobSocket, ...]] = {}
        self._ready = threading.Event()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self._deadlines: threading.Thread | None = None
        self._deadlines_pid: int | None = None
        self._pid: int | None = None
        _HUBS.add(self)

    # --- sockets ----------------------------------------------------------------------------------

    def register(self, sock: JobSocket) -> None:
        """Start receiving the shop's live events into `sock`'s queue (before its snapshot is read)."""
        with self._lock:
            self._sockets[sock.shop] = self._sockets.get(sock.shop, ()) + (sock,)

    def unregister(self, sock: JobSocket) -> None:
        with self._lock:
            rest = tuple(s for s in self._sockets.get(sock.shop, ()) if s is not sock)
            if rest:
                self._sockets[sock.shop] = rest
            else:
                self._sockets.pop(sock.shop, None)

    def sockets(self, shop: str | None = None) -> list[JobSocket]:
        """The open sockets (of one shop, or all)."""
        if shop is not None:
            return list(self._sockets.get(shop, ()))
        return [s for group in list(self._sockets.values()) for s in group]

    def close_shop(self, shop: str, code: int, reason: str) -> None:
        for sock in self._sockets.get(shop, ()):
            sock.close_soon(code, reason)

    # --- the subscriber -----------------------------------------------------------------------------

    def ensure_started(self) -> None:
        """Start the subscriber in this process if it is not running (after a fork: a new one)."""
        with self._lock:
            pid = os.getpid()
            if self._pid == pid and self._thread is not None and self._thread.is_alive():
                return
            if self._pid != pid:  # a forked child inherits no subscriber and no sockets
                self._sockets = {}
                self._ready = threading.Event()
            self._pid = pid
            self._stopped.clear()
            self._thread = threading.Thread(target=self._run, name="shopapp-realtime-hub", daemon=True)
            self._thread.start()
            if self._deadlines is None or not self._deadlines.is_alive() or self._deadlines_pid != pid:
                self._deadlines = threading.Thread(target=self._watch_deadlines, name="shopapp-realtime-deadlines",
                                                   daemon=True)
                self._deadlines_pid = pid
                self._deadlines.start()

    def wait_ready(self, timeout: float) -> bool:
        """True once subscribed (events published from now on reach registered sockets)."""
        return self._ready.wait(timeout)

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the subscriber (tests, shutdown)."""
        self._stopped.set()
        for thread in (self._thread, self._deadlines):
            if thread is not None and thread.is_alive() and thread is not threading.current_thread():
                thread.join(timeout)

    def shutdown(self, code: int = codes.GOING_AWAY, wait: float = 0.0) -> None:
        """Close every socket with `code` (1001 on server shutdown); refuse new ones; wait for them."""
        self.closing_code = code
        for sock in self.sockets():
            sock.close_soon(code, "server shutting down")
        deadline = time.monotonic() + wait
        while self.sockets() and time.monotonic() < deadline:
            time.sleep(0.05)

    def _run(self) -> None:
        delay = BACKOFF_INITIAL_SECONDS
        subscribed_before, server_run_id = False, None
        while not self._stopped.is_set():
            client = subscriber_client(self.redis_settings)
            pubsub = client.pubsub()
            try:
                self._subscribe(pubsub)
                # Another server (a promoted replica, a restarted Redis) may hand out again seqs that pages
                # already hold, from before its copy of the counter: those pages need a snapshot.
                run_id = _server_run_id(client)
                self._ready.set()
                delay = BACKOFF_INITIAL_SECONDS
                if subscribed_before:
                    self.reconnects += 1
                    other_server = run_id is None or run_id != server_run_id
                    log.warning("realtime: Redis subscription restored%s; resyncing %d sockets",
                                " on another server (checking each page's last event)" if other_server else "",
                                len(self.sockets()))
                    for sock in self.sockets():
                        sock.request_resync(other_server=other_server)
                subscribed_before, server_run_id = True, run_id
                while not self._stopped.is_set():
                    message = pubsub.get_message(timeout=POLL_SECONDS)
                    if message is not None:
                        self._dispatch(message)
            except (redis.RedisError, OSError) as exc:
                self._ready.clear()
                log.warning("realtime: Redis subscription lost (%s); retrying in %.1fs", type(exc).__name__, delay)
                self._stopped.wait(delay)
                delay = next_backoff(delay)
            except Exception:  # a bug: keep the process's sockets served, but say so loudly
                self._ready.clear()
                log.exception("realtime: subscriber failed; restarting in %.1fs", delay)
                self._stopped.wait(delay)
                delay = next_backoff(delay)
            finally:
                pubsub.close()
                client.close()
        self._ready.clear()

    def _watch_deadlines(self) -> None:
        # One timer for the whole process instead of one per socket: token expiry and heartbeat pings.
        while not self._stopped.wait(DEADLINE_CHECK_SECONDS):
            now, monotonic_now = time.time(), time.monotonic()
            for sock in self.sockets():
                sock.tick(now, monotonic_now)

    def _subscribe(self, pubsub) -> None:
        pubsub.psubscribe(redis_keys.all_events_pattern())
        pubsub.subscribe(redis_keys.shop_control_channel())
        confirmed = 0
        deadline = time.monotonic() + 10
        while confirmed < 2:
            if time.monotonic() > deadline:
                raise redis.TimeoutError("no subscription confirmation from Redis")
            message = pubsub.get_message(timeout=1.0)
            if message is not None and message["type"] in ("psubscribe", "subscribe"):
                confirmed += 1

    def _dispatch(self, message: dict) -> None:
        kind = message["type"]
        if kind == "pmessage":
            channel = message["channel"]
            shop = channel[len(_CHANNEL_HEAD):-len(_CHANNEL_TAIL)].decode()
            sockets = self._sockets.get(shop)
            if not sockets:
                return
            text = message["data"].decode()
            try:
                event = Event(int(json.loads(text)["seq"]), text)
            except (ValueError, KeyError, TypeError):
                log.error("realtime: ignoring a malformed event on %s", channel.decode(errors="replace"))
                return
            for sock in sockets:
                sock.deliver(event)
        elif kind == "message":
            self._control(message["data"])

    def _control(self, data: bytes) -> None:
        try:
            command = json.loads(data)
            kind, shop = command["type"], command.get("shop")
        except (ValueError, KeyError, TypeError):
            log.error("realtime: ignoring a malformed control message")
            return
        if kind == "shop_uninstalled" and isinstance(shop, str):
            log.info("realtime: closing the sockets of an uninstalled shop", extra={"shop": shop})
            self.close_shop(shop, codes.SHOP_UNINSTALLED, "shop uninstalled")
        else:
            log.error("realtime: ignoring an unknown control message type %r", kind)


def _server_run_id(client) -> str | None:
    """The Redis server's run id (a new one per server process), or None when INFO is not allowed (an ACL
    user without @dangerous): then every reconnect is treated as another server's."""
    try:
        return client.info("server").get("run_id")
    except redis.ResponseError:
        return None


def next_backoff(delay: float) -> float:
    """The wait before the next reconnect attempt: doubles, capped at BACKOFF_MAX_SECONDS."""
    return min(delay * 2, BACKOFF_MAX_SECONDS)


def shutdown_all(code: int = codes.GOING_AWAY, wait: float = 0.0) -> None:
    """Close every socket of every hub in this process with `code` (gunicorn's shutdown hooks call this)."""
    hubs = list(_HUBS)
    for hub in hubs:
        hub.shutdown(code, wait=0)
    deadline = time.monotonic() + wait
    while any(hub.sockets() for hub in hubs) and time.monotonic() < deadline:
        time.sleep(0.05)
