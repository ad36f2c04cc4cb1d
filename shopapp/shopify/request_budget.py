"""A per-shop Admin API request budget shared by every worker and web process (GCRA in Redis).

Each shop may start SHOPIFY_API_BUDGET_PER_SECOND requests a second, whichever process sends them: one
Lua script keeps the shop's "theoretical arrival time" under `redis_keys.shop_api_budget(shop)` and, using
Redis' clock (so the processes' clocks do not matter), either admits a request or says how long to wait.
`burst` requests may start back to back before the spacing applies.
"""
from __future__ import annotations

import time
from collections.abc import Callable

import redis as redis_lib

from shopapp import redis_keys

_ADMIT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local wait = tat - tolerance - now
if wait > 0 then return math.ceil(wait) end
tat = tat + interval
redis.call('SET', KEYS[1], string.format('%.3f', tat), 'PX', math.ceil(tat - now) + 1000)
return 0
"""


class RequestBudget:
    """Admits Admin API requests for a shop at `rate_per_second`, shared through Redis."""

    def __init__(self, client: redis_lib.Redis, rate_per_second: float, burst: int = 1,
                 sleep: Callable[[float], None] = time.sleep):
        self.client = client
        self.rate = rate_per_second
        self.burst = max(1, burst)
        self.sleep = sleep
        self._script = client.register_script(_ADMIT)

    def try_acquire(self, shop: str) -> float:
        """Take a slot if one is free: returns 0.0, or the seconds to wait before asking again."""
        if self.rate <= 0:
            return 0.0  # 0 disables the budget
        interval_ms = 1000.0 / self.rate
        waited = self._script(keys=[redis_keys.shop_api_budget(shop)],
                              args=[f"{interval_ms:.3f}", f"{interval_ms * (self.burst - 1):.3f}"])
        return int(waited) / 1000.0

    def acquire(self, shop: str, deadline: float | None = None) -> None:
        """Block until `shop` may send one more request (or raise TimeoutError after `deadline`)."""
        while True:
            wait = self.try_acquire(shop)
            if wait <= 0:
                return
            if deadline is not None and time.monotonic() + wait > deadline:
                raise TimeoutError(f"Admin API budget of {shop} exhausted")
            self.sleep(wait)
