"""Control messages to every web process (published by workers, handled by each process's subscriber)."""
from __future__ import annotations

import json

import redis

from shopapp import redis_keys


def notify_shop_uninstalled(client: redis.Redis, shop: str) -> None:
    """Ask every web process to close `shop`'s open sockets with 4403."""
    client.publish(redis_keys.shop_control_channel(), json.dumps({"type": "shop_uninstalled", "shop": shop}))
