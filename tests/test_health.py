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

    config = Config.from_env(dict(app_env, REDIS_URL=private_redis.url)).with_overrides(TESTING=True)
    client = create_app(config).test_client()
    private_redis.stop()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json["checks"]["redis"].startswith("error")
