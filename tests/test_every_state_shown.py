"""Every state reaches the page: a delivery shows as `queued` when its 200 is sent, then `running`, then its end."""
from __future__ import annotations

import pytest

from tests.support.ws_client import connect

pytestmark = pytest.mark.slow


def test_a_delivery_appears_queued_before_any_worker_then_running_then_succeeded(web_server, session_token,
                                                                                 signed_webhook, rq_worker):
    import httpx

    server = web_server()
    with connect(server, session_token()) as ws:
        snapshot = ws.recv_json()
        hook = signed_webhook("orders/create")
        answer = httpx.post(server.url + "/webhooks", content=hook.body, headers=hook.headers)
        assert answer.status_code == 200
        queued = ws.recv_json()  # no worker runs yet: the event comes from the ingest step itself
        assert queued["seq"] == snapshot["seq"] + 1
        assert (queued["job"]["state"], queued["job"]["webhook_id"]) == ("queued", hook.webhook_id)
        assert queued["job"]["id"] == answer.json()["job_id"]
        rq_worker()
        events = ws.recv_jobs(2)
    assert [e["job"]["state"] for e in events] == ["running", "succeeded"]
    assert [e["seq"] for e in events] == [queued["seq"] + 1, queued["seq"] + 2]
