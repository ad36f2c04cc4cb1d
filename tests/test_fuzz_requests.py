"""A few thousand malformed requests to /webhooks, /api/jobs and /ws/jobs on a real gunicorn: no 5xx, no
error-level line in the server's log (tests/support/fuzz_requests.py says what is generated)."""
from __future__ import annotations

import collections
import os
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.support.fuzz_requests import Generator, exchange

pytestmark = [pytest.mark.slow, pytest.mark.nodb]  # HTTP framing: nothing is recorded

COUNT = 3000
SEED = int(os.environ.get("FUZZ_SEED", "20261126"))


def test_malformed_requests_get_4xx_and_leave_no_error_in_the_log(web_server, config, session_token):
    server = web_server(workers=2, env={"WEBHOOK_BODY_TIMEOUT_SECONDS": "5", "LOG_FORMAT": "json"})
    requests = Generator(SEED, config.SHOPIFY_API_SECRET, session_token()).requests(COUNT)
    with ThreadPoolExecutor(max_workers=32) as pool:
        answers = list(pool.map(lambda request: exchange(server.port, request), requests))
    faults = collections.Counter(
        (request.kind, status) for request, statuses in zip(requests, answers, strict=True) for status in statuses
        if status >= 500 and not (status == 501 and request.unsupported_coding))
    assert not faults, f"5xx answers (seed {SEED}): {dict(faults)}"
    assert sum(map(len, answers)) >= COUNT * 0.9  # nearly every request got an answer, not a dropped connection
    assert server.error_lines() == []
