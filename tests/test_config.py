"""Settings: read from the environment in one place; a bad setting is one clear line."""
import subprocess
import sys

import pytest

from shopapp.config import Config, ConfigError, setting_names
from shopapp.testing import ENCRYPTION_KEY
from tests.support.processes import ROOT

pytestmark = pytest.mark.nodb

BASE = {"SHOPIFY_API_KEY": "k", "SHOPIFY_API_SECRET": "s", "SHOPAPP_ENCRYPTION_KEY": ENCRYPTION_KEY}


def test_defaults_use_sqlite_under_instance_and_no_redis_url(tmp_path, monkeypatch):
    config = Config.from_env(dict(BASE))
    assert config.DATABASE_URL.startswith("sqlite:///")
    assert config.REDIS_URL == ""
    assert config.PORT == 8000
    assert config.WEBHOOK_MAX_BYTES == 16 * 1024 * 1024  # a 2,048-variant product passes 1 MB
    assert (config.WEBHOOK_BODY_TIMEOUT_SECONDS, config.WEBHOOK_BUFFER_BYTES) == (10.0, 64 * 1024 * 1024)


def test_webhook_buffer_defaults_to_at_least_one_body_of_the_largest_size():
    config = Config.from_env(dict(BASE, WEBHOOK_MAX_BYTES=str(100 * 1024 * 1024)))
    assert config.WEBHOOK_BUFFER_BYTES == 100 * 1024 * 1024


def test_postgres_url_gets_the_psycopg_driver():
    config = Config.from_env(dict(BASE, DATABASE_URL="postgres://u@h/db"))
    assert config.DATABASE_URL == "postgresql+psycopg://u@h/db"


@pytest.mark.parametrize("name,value,expected", [
    ("DATABASE_URL", "not a url", "DATABASE_URL cannot be parsed"),
    ("DATABASE_URL", "mysql://u@h/db", "use postgresql or sqlite"),
    ("REDIS_URL", "http://localhost", "REDIS_URL"),
    ("PORT", "eighty", "PORT='eighty' is not an integer"),
    ("PORT", "70000", "PORT=70000 is out of range"),
    ("SHOPAPP_DEV", "maybe", "SHOPAPP_DEV"),
    ("SHOPAPP_ENCRYPTION_KEY", "short", "SHOPAPP_ENCRYPTION_KEY"),
    ("SHOPIFY_ADMIN_ORIGIN", "ftp://x", "SHOPIFY_ADMIN_ORIGIN"),
    ("JOB_BACKOFF_SECONDS", "-1", "JOB_BACKOFF_SECONDS"),
    ("WEBHOOK_BODY_TIMEOUT_SECONDS", "0", "WEBHOOK_BODY_TIMEOUT_SECONDS=0 must be a positive number of seconds"),
    ("WEBHOOK_BUFFER_BYTES", "1000", "WEBHOOK_BUFFER_BYTES=1000 is smaller than WEBHOOK_MAX_BYTES=16777216"),
])
def test_malformed_setting_names_the_variable(name, value, expected):
    with pytest.raises(ConfigError, match=expected.replace("(", r"\(")):
        Config.from_env(dict(BASE, **{name: value}))


def test_missing_credentials_fall_back_to_dev_mode_with_generated_credentials(tmp_path, monkeypatch):
    monkeypatch.setattr("shopapp.config.INSTANCE_DIR", tmp_path)
    first = Config.from_env({})
    second = Config.from_env({})
    assert first.DEV_MODE and first.dev_credentials_generated
    assert first.SHOPIFY_API_SECRET == second.SHOPIFY_API_SECRET  # kept, so tokens survive restarts
    assert (tmp_path / "dev-credentials.json").stat().st_mode & 0o077 == 0


def test_production_without_credentials_refuses_to_start():
    with pytest.raises(ConfigError, match="required in production"):
        Config.from_env({"SHOPAPP_PRODUCTION": "1"})


def test_encryption_key_is_required_in_production():
    with pytest.raises(ConfigError, match="SHOPAPP_ENCRYPTION_KEY is required in production"):
        Config.from_env({"SHOPIFY_API_KEY": "k", "SHOPIFY_API_SECRET": "s", "SHOPAPP_PRODUCTION": "1"})


def test_missing_encryption_key_outside_production_is_generated_once_and_kept(tmp_path, monkeypatch):
    monkeypatch.setattr("shopapp.config.INSTANCE_DIR", tmp_path)
    first = Config.from_env({"SHOPIFY_API_KEY": "k", "SHOPIFY_API_SECRET": "s"})
    second = Config.from_env({"SHOPIFY_API_KEY": "k", "SHOPIFY_API_SECRET": "s"})
    assert not first.DEV_MODE and first.encryption_key_generated
    assert first.ENCRYPTION_KEYS == second.ENCRYPTION_KEYS  # kept, so stored tokens stay readable
    assert (tmp_path / "dev-credentials.json").stat().st_mode & 0o077 == 0


def test_shopify_cli_host_becomes_the_app_url():
    config = Config.from_env(dict(BASE, HOST="abc.trycloudflare.com"))
    assert config.APP_URL == "https://abc.trycloudflare.com"


def test_previous_secret_is_accepted_during_rotation():
    config = Config.from_env(dict(BASE, SHOPIFY_API_SECRET_PREVIOUS="old"))
    assert config.api_secrets == ("s", "old")


def test_sentinels_name_redis_without_a_redis_url():
    config = Config.from_env(dict(BASE, REDIS_SENTINELS="10.0.0.5:26379, [fd00::7]:26380",
                                  REDIS_SENTINEL_MASTER="shopapp"))
    assert config.REDIS_SENTINELS == (("10.0.0.5", 26379), ("fd00::7", 26380))
    assert config.REDIS_SENTINEL_MASTER == "shopapp"
    assert config.REDIS_URL == "" and config.redis_configured


@pytest.mark.parametrize("env,expected", [
    ({"REDIS_SENTINELS": "10.0.0.5:26379"}, "REDIS_SENTINELS and REDIS_SENTINEL_MASTER go together"),
    ({"REDIS_SENTINEL_MASTER": "shopapp"}, "REDIS_SENTINELS and REDIS_SENTINEL_MASTER go together"),
    ({"REDIS_SENTINELS": "10.0.0.5", "REDIS_SENTINEL_MASTER": "m"}, "REDIS_SENTINELS holds '10.0.0.5'"),
    ({"REDIS_SENTINELS": "h:0", "REDIS_SENTINEL_MASTER": "m"}, "REDIS_SENTINELS holds 'h:0'"),
    ({"REDIS_SENTINELS": "h:1,", "REDIS_SENTINEL_MASTER": "m"}, "REDIS_SENTINELS holds ''"),
    ({"REDIS_SENTINELS": "h:1", "REDIS_SENTINEL_MASTER": "m", "REDIS_URL": "unix:///tmp/r.sock"}, "unix://"),
])
def test_malformed_sentinel_settings_name_the_variable(env, expected):
    with pytest.raises(ConfigError, match=expected):
        Config.from_env(dict(BASE, **env))


def test_every_setting_is_documented_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    internal = {"TESTING", "ENCRYPTION_KEYS", "APP_URL", "DEV_MODE"}
    missing = [n for n in setting_names() if n not in internal and f"`{n}`" not in readme]
    assert not missing, f"README settings table lacks {missing}"


def test_cli_prints_one_line_for_a_bad_setting(tmp_path):
    env = dict(BASE, DATABASE_URL="::nonsense::", PATH="/usr/bin:/bin", SHOPAPP_INSTANCE_DIR=str(tmp_path))
    result = subprocess.run([sys.executable, "-m", "shopapp", "db", "upgrade"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "DATABASE_URL cannot be parsed" in result.stderr
