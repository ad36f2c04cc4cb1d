"""Delivers webhooks the way Shopify does: the same webhook id again after any non-2xx or timeout.

Shopify waits up to 5 s for an answer and retries a failed delivery (same `X-Shopify-Webhook-Id`, same
body and HMAC) up to 8 times over 4 hours. Tests compress that time: the delay starts at `retry_base`
seconds and doubles up to `retry_cap`, until `give_up_after` seconds have passed. Each attempt goes to the
next of `urls` in turn, as a load balancer in front of several web processes would send it.
"""
from __future__ import annotations

import collections
import itertools
import threading
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import requests

from shopapp.testing import SignedWebhook


@dataclass
class Delivery:
    """What happened to one webhook: the answer (status code or error name) of each attempt."""

    webhook_id: str
    outcomes: list = field(default_factory=list)

    @property
    def accepted(self) -> bool:
        return bool(self.outcomes) and isinstance(self.outcomes[-1], int) and 200 <= self.outcomes[-1] < 300


@dataclass
class SendReport:
    deliveries: dict[str, Delivery]

    @property
    def accepted(self) -> int:
        return sum(d.accepted for d in self.deliveries.values())

    @property
    def retried(self) -> int:
        """Webhooks that needed more than one attempt."""
        return sum(len(d.outcomes) > 1 for d in self.deliveries.values())

    @property
    def outcomes(self) -> collections.Counter:
        return collections.Counter(o for d in self.deliveries.values() for o in d.outcomes)

    def failed(self) -> list[Delivery]:
        return [d for d in self.deliveries.values() if not d.accepted]


class ShopifySender:
    """Sends signed webhooks with Shopify's retry behaviour, from `concurrency` threads."""

    def __init__(self, urls: list[str], concurrency: int = 8, timeout: float = 5.0, retry_base: float = 0.1,
                 retry_cap: float = 1.0, give_up_after: float = 30.0):
        self.urls = list(urls)
        self.concurrency, self.timeout = concurrency, timeout
        self.retry_base, self.retry_cap, self.give_up_after = retry_base, retry_cap, give_up_after
        self._next_url = itertools.cycle(self.urls)
        self._lock = threading.Lock()
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self.sent = 0  # attempts made so far (a test can act after some progress)

    def send_all(self, webhooks: Iterable[SignedWebhook], rate: float | None = None) -> SendReport:
        """Deliver every webhook (at most `rate` first attempts per second) and wait for all outcomes."""
        deliveries: dict[str, Delivery] = {}
        try:
            with ThreadPoolExecutor(self.concurrency) as pool:
                futures = []
                started = time.monotonic()
                for index, webhook in enumerate(webhooks):
                    if rate:
                        delay = started + index / rate - time.monotonic()
                        if delay > 0:
                            time.sleep(delay)
                    delivery = deliveries[webhook.webhook_id] = Delivery(webhook.webhook_id)
                    futures.append(pool.submit(self._deliver, webhook, delivery))
                for future in futures:
                    future.result()
        finally:
            for session in self._sessions:
                session.close()
            self._sessions.clear()
        return SendReport(deliveries)

    def _deliver(self, webhook: SignedWebhook, delivery: Delivery) -> None:
        deadline = time.monotonic() + self.give_up_after
        delay = self.retry_base
        while True:
            with self._lock:
                url = next(self._next_url)
                self.sent += 1
            try:
                status = self._session().post(url, data=webhook.body, headers=webhook.headers,
                                              timeout=self.timeout).status_code
                delivery.outcomes.append(status)
                if 200 <= status < 300:
                    return
            except requests.RequestException as exc:
                delivery.outcomes.append(type(exc).__name__)
                self._drop_session()  # its pooled connection died with the server: start afresh
            if time.monotonic() + delay > deadline:
                return
            time.sleep(delay)
            delay = min(self.retry_cap, delay * 2)

    def _drop_session(self) -> None:
        session = getattr(self._local, "session", None)
        if session is not None:
            self._local.session = None
            with self._lock:
                self._sessions.remove(session)
            session.close()

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
            with self._lock:
                self._sessions.append(session)
        return session
