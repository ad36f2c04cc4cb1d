"""/healthz says the process is up; /readyz says whether the database and Redis answer."""


def test_healthz_answers_200(client):
    assert client.get("/healthz").status_code == 200


def test_readyz_answers_200_when_database_and_redis_answer(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json["checks"] == {"database": "ok", "redis": "ok"}


def test_readyz_answers_503_when_redis_is_down(app_env, db, private_redis):
    from shopapp import create_app
    from shopapp.config import Config
    from shopapp.testing.plugin import dispose_app

    config = Config.from_env(dict(app_env, REDIS_URL=private_redis.url)).with_overrides(TESTING=True)
    app = create_app(config)
    private_redis.stop()
    try:
        response = app.test_client().get("/readyz")
    finally:
        dispose_app(app)
    assert response.status_code == 503
    assert response.json["checks"]["redis"].startswith("error")
