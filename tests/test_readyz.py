"""/readyz answers 503 naming the part that does not answer, so a load balancer stops sending traffic."""
from __future__ import annotations

from shopapp import create_app
from shopapp.config import Config
from shopapp.embedded_redis import free_port
from shopapp.testing.plugin import dispose_app


def test_readyz_answers_503_when_the_database_is_unreachable(app_env, redis):
    # Nothing listens on this port: the connection is refused, as when PostgreSQL is down.
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/test"
    application = create_app(Config.from_env(dict(app_env, DATABASE_URL=url)).with_overrides(TESTING=True))
    try:
        response = application.test_client().get("/readyz")
    finally:
        dispose_app(application)
    assert response.status_code == 503
    assert response.json["status"] == "unavailable"
    assert response.json["checks"]["database"].startswith("error: ")
    assert response.json["checks"]["redis"] == "ok"


def test_readyz_does_not_reveal_the_database_address_or_credentials(app_env, redis):
    url = f"postgresql://shopapp:hunter2-password@127.0.0.1:{free_port()}/test"
    application = create_app(Config.from_env(dict(app_env, DATABASE_URL=url)).with_overrides(TESTING=True))
    try:
        body = application.test_client().get("/readyz").get_data(as_text=True)
    finally:
        dispose_app(application)
    assert "hunter2" not in body and "127.0.0.1" not in body
