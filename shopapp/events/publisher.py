"""Publishing job events: a per-shop sequence, a bounded replay log, and pub/sub, in one atomic step.

Called only after the job row is committed (publish after commit). One Lua script, so that the sequence
number, the log entry and the broadcast can never disagree and concurrent publishers keep seq order:
- `seq` grows by exactly 1 per event of a shop; a page that sees a jump knows it missed something;
- the log (a sorted set scored by seq, trimmed to EVENT_LOG_SIZE) serves reconnects with `since`;
- publishing is idempotent per (job, version): a sweeper republishing a change that did reach Redis is a
  no-op, and an older version never overwrites a newer one.
A shop's counter is seeded once, atomically, by whichever comes first: its first event, or the first
read of its seq (a snapshot, GET /api/jobs). The seed is Redis' clock in milliseconds, so after Redis lost
its data the counter restarts above any seq handed out before (unless a shop averaged over 1,000 events a
second since its seed) and a page holding an old seq sees a gap and resyncs instead of skipping events;
and a fresh shop's first event is its snapshot's seq + 1, so a page resyncs only with cause.
"""
from __future__ import annotations

import json

import redis

from shopapp import redis_keys
from shopapp.lua_scripts import LuaScript, execute

# A version hash lives this long after its last write (seconds): far longer than any republish of a job
# (the sweeper's, minutes), and its jobs' ids are old by then, so no later event needs it.
VERSIONS_TTL_SECONDS = 2 * 24 * 3600

# Seeds KEYS[1] (a shop's seq counter) from Redis' clock when it does not exist: the one seeding rule.
_SEED = """
if redis.call('EXISTS', KEYS[1]) == 0 then
  local now = redis.call('TIME')
  redis.call('SET', KEYS[1], tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000))
end
"""
_PUBLISH = """
local last = redis.call('HGET', KEYS[3], ARGV[1])
if last and tonumber(last) >= tonumber(ARGV[2]) then return 0 end
""" + _SEED + """
local seq = redis.call('INCR', KEYS[1])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[2])
redis.call('EXPIRE', KEYS[3], ARGV[5])
local msg = '{"type":"job","seq":' .. seq .. ',"job":' .. ARGV[3] .. '}'
redis.call('ZADD', KEYS[2], seq, msg)
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -(tonumber(ARGV[4]) + 1))
redis.call('PUBLISH', KEYS[4], msg)
return seq
"""
_CURRENT = _SEED + """
return tonumber(redis.call('GET', KEYS[1]))
"""


class EventPublisher:
    """Publishes job events for any shop through one registered Lua script."""

    def __init__(self, client: redis.Redis, log_size: int = 1000):
        self.client = client
        self.log_size = log_size
        self._script = LuaScript(_PUBLISH)
        self._current = LuaScript(_CURRENT)

    def publish(self, shop: str, job: dict, version: int) -> int:
        """Publish `job` (the contract's job dict) at `version`; returns its seq, or 0 if already published."""
        return int(self._script(self.client, *self._arguments(shop, job, version)))

    def publish_many(self, events: list[tuple[str, dict, int]]) -> list[int]:
        """`publish` for many (shop, job, version) in one round trip (a pipeline); the seqs, in order.

        Each event is still its own atomic script run, so seq order and idempotence are as for `publish`.
        """
        if not events:
            return []
        with self.client.pipeline(transaction=False) as pipe:
            for shop, job, version in events:
                self.queue(pipe, shop, job, version)
            return [int(seq) for seq in execute(pipe)]

    def queue(self, pipe: redis.client.Pipeline, shop: str, job: dict, version: int) -> None:
        """Add `publish(shop, job, version)` to `pipe`, whose `lua_scripts.execute(pipe)` runs it (its result:
        the seq, or 0), with whatever else the caller's round trip carries."""
        self._script.queue(pipe, *self._arguments(shop, job, version))

    def _arguments(self, shop: str, job: dict, version: int) -> tuple[list, list]:
        keys_ = [redis_keys.shop_event_seq(shop), redis_keys.shop_event_log(shop),
                 redis_keys.shop_job_versions(shop, job["id"]), redis_keys.shop_events_channel(shop)]
        payload = json.dumps(job, separators=(",", ":"))
        return keys_, [job["id"], version, payload, self.log_size, VERSIONS_TTL_SECONDS]

    def current_seq(self, shop: str) -> int:
        """The shop's latest seq, its counter seeded first if it has none. Read it before a snapshot's rows,
        never after. Raises redis.RedisError."""
        return int(self._current(self.client, [redis_keys.shop_event_seq(shop)], []))

    def events_since(self, shop: str, since: int) -> list[str] | None:
        """Every event after `since`, as JSON text in seq order; None when the log cannot serve it."""
        current = self.current_seq(shop)
        if since > current:
            return None  # the counter was re-seeded or the client is confused: take a snapshot
        if since == current:
            return []
        entries = self.client.zrangebyscore(redis_keys.shop_event_log(shop), since + 1, "+inf", withscores=True)
        if not entries or int(entries[0][1]) != since + 1:
            return None  # older than the log holds
        return [e[0].decode() if isinstance(e[0], bytes) else e[0] for e in entries]
