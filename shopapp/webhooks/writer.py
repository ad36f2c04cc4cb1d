"""Group commit for webhook ingestion under gevent: one writer per process batches concurrent deliveries.

Under gunicorn's gevent worker every request is a greenlet. Instead of one transaction and one Redis
round trip per delivery, each request hands its verified delivery to the process's writer greenlet and
waits; the writer takes every delivery waiting at that moment (up to MAX_BATCH), records them with ONE
transaction and ONE Redis pipeline (`record_deliveries`), and answers each request. While a batch is being
written the next one gathers, so batches grow with the load and a lone delivery is written at once (no
added wait). Without gevent (tests, threaded servers) each request
records its own delivery directly.
"""
from __future__ import annotations

import logging
from typing import Optional

from flask import Flask

from shopapp.green import under_gevent
from shopapp.webhooks.ingest import NotDurableError, Recorded, record_deliveries, record_webhook
from shopapp.webhooks.verify import Verification

log = logging.getLogger(__name__)

MAX_BATCH = 200
# A request gives up waiting for the writer after this long and answers 503 (Shopify allows 5 s).
WAIT_SECONDS = 4.0

class IngestWriter:
    """The per-process writer greenlet and its queue of waiting deliveries."""

    def __init__(self, app: Flask):
        import gevent.queue

        self.app = app
        self.queue: gevent.queue.Queue = gevent.queue.Queue()
        self.greenlet = None

    def submit(self, delivery: Verification, request_id: Optional[str] = None) -> Recorded:
        """Hand `delivery` (and its request's id) to the writer and wait for its outcome (NotDurableError when
        not committed)."""
        import gevent
        from gevent.event import AsyncResult

        if self.greenlet is None or self.greenlet.dead:
            self.greenlet = gevent.spawn(self._run)
        outcome = AsyncResult()
        self.queue.put((delivery, request_id, outcome))
        try:
            return outcome.get(timeout=WAIT_SECONDS)
        except gevent.Timeout:
            raise NotDurableError("the ingest writer did not answer in time") from None

    def _run(self) -> None:
        import gevent

        while True:
            batch = [self.queue.get()]
            gevent.sleep(0)  # let requests that are ready to submit do so first
            while len(batch) < MAX_BATCH and not self.queue.empty():
                batch.append(self.queue.get_nowait())
            self._write(batch)

    def _write(self, batch) -> None:
        try:
            results = record_deliveries(self.app, [delivery for delivery, _, _ in batch],
                                        [request_id for _, request_id, _ in batch])
        except NotDurableError as exc:
            for _, _, outcome in batch:
                outcome.set_exception(exc)
            return
        except Exception as exc:  # never leave a request waiting; it answers 503 and Shopify retries
            log.exception("ingest writer failed")
            for _, _, outcome in batch:
                outcome.set_exception(NotDurableError(type(exc).__name__))
            return
        for (_, _, outcome), result in zip(batch, results, strict=False):
            outcome.set(result)


def record(app: Flask, delivery: Verification, request_id: Optional[str] = None) -> Recorded:
    """Record one verified delivery (and the id of the request that brought it): through the process's writer
    under gevent, directly otherwise."""
    if not under_gevent():
        return record_webhook(app, delivery, request_id)
    writer: Optional[IngestWriter] = app.extensions.get("shopapp.ingest_writer")
    if writer is None:
        writer = app.extensions["shopapp.ingest_writer"] = IngestWriter(app)
    return writer.submit(delivery, request_id)
