"""A process that waits at a Redis barrier, then asks for a shop's offline token (the refresh race test).

Prints the SHA-256 of the token it got (never the token).
"""
from __future__ import annotations

import hashlib
import os

from redis import Redis

from shopapp import crypto
from shopapp.config import Config
from shopapp.db import Database
from shopapp.redis_client import connect
from shopapp.shopify.offline_tokens import OfflineTokens


def main() -> None:
    config = Config.from_env()
    crypto.configure(config.ENCRYPTION_KEYS)
    database, redis = Database(config.DATABASE_URL), connect(config.REDIS_URL)
    # The barrier waits for the other nine to start, which takes longer than the app client's 5 s read timeout
    # on a busy machine: its own client waits as long as the barrier does.
    barrier = Redis.from_url(config.REDIS_URL, socket_timeout=90)
    try:
        barrier.rpush("test:race:ready", os.getpid())
        barrier.blpop("test:race:go", timeout=60)
        with OfflineTokens(config, database, redis) as tokens:
            token = tokens.access_token(os.environ["RACE_SHOP"])
        print(hashlib.sha256(token.encode()).hexdigest())
    finally:
        barrier.close()
        redis.close()
        database.dispose()


if __name__ == "__main__":
    main()
