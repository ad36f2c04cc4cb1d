"""shopapp's test kit: what an app developer's pytest suite needs to test handlers and jobs against real parts.

Enable it in your `conftest.py` (this project's own does):

    pytest_plugins = ["shopapp.testing.plugin"]

Fixtures (`shopapp.testing.plugin`): `redis` (a real redis-server the session starts, emptied per test),
`db` (SQLite, or TEST_DATABASE_URL, emptied per test), `app`, `client`, `signed_webhook(topic, ...)`,
`session_token(shop=...)`, `run_handler(topic, payload, shop=...)` (a handler with a real database
session, no HTTP or queue), `read_job(job_id)`, `rq_worker` (a real burst-mode RQ worker).
Helpers: `sample_payload(topic)`, `wait_until(condition, ...)`, and the constants `SHOP`, `OTHER_SHOP`.
"""
from shopapp.testing.constants import API_KEY, API_SECRET, ENCRYPTION_KEY, OTHER_SHOP, SHOP
from shopapp.testing.waiting import wait_until
from shopapp.testing.webhooks import SignedWebhook, build_session_token, build_webhook, sample_payload

__all__ = ["API_KEY", "API_SECRET", "ENCRYPTION_KEY", "SHOP", "OTHER_SHOP", "wait_until", "SignedWebhook",
           "build_webhook", "build_session_token", "sample_payload"]
