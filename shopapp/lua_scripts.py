"""Lua scripts run by EVALSHA, alone or several in one pipeline: the seam past redis-py's `Script`.

Measured reason (README "Performance"): redis-py's `Script` in a pipeline asks `SCRIPT EXISTS` before
every `execute()`, a round trip of its own, so a pipeline of scripts costs two round trips instead of one.
Ingestion sends its new jobs and their `queued` events in one pipeline per batch, and the worker sends a
job's last event with RQ's bookkeeping; with `Script` each would pay that extra trip. Here a script is
sent by its SHA1 only, and a command refused with NOSCRIPT (a restarted or flushed Redis forgot it: the
refused command did not run) is run again after `SCRIPT LOAD`, in the order the pipeline had it. The
results are those of redis-py's `Script` (tests/test_lua_scripts.py).
"""
from __future__ import annotations

import hashlib
from typing import Any

import redis
from redis.exceptions import NoScriptError

__all__ = ["LuaScript", "execute"]


class LuaScript:
    """One Lua script, by SHA1. `client(...)` runs it at once; `queue(pipe, ...)` adds it to a pipeline whose
    `execute(pipe)` (below) loads it when Redis answers NOSCRIPT."""

    def __init__(self, source: str):
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()  # Redis names a script by its SHA1 (EVALSHA)

    def __call__(self, client: redis.Redis, keys: list, args: list) -> Any:
        """Run the script now; raises redis.RedisError."""
        try:
            return client.evalsha(self.sha, len(keys), *keys, *args)
        except NoScriptError:
            client.script_load(self.source)
            return client.evalsha(self.sha, len(keys), *keys, *args)

    def queue(self, pipe: redis.client.Pipeline, keys: list, args: list) -> None:
        """Add a run of the script to `pipe`; run the pipeline with `execute(pipe)`."""
        pipe.evalsha(self.sha, len(keys), *keys, *args)
        pipe._lua_scripts = getattr(pipe, "_lua_scripts", {})
        pipe._lua_scripts[len(pipe.command_stack) - 1] = self


def execute(pipe: redis.client.Pipeline) -> list:
    """`pipe.execute()` in one round trip; commands refused with NOSCRIPT are run again, in order, once
    their script is loaded. Returns the results in order; raises redis.RedisError (a command's own error
    too, as `pipe.execute()` does)."""
    scripts: dict[int, LuaScript] = getattr(pipe, "_lua_scripts", {})
    stack = list(pipe.command_stack)
    results = pipe.execute(raise_on_error=False)
    pipe._lua_scripts = {}
    missing = [i for i, result in enumerate(results) if isinstance(result, NoScriptError) and i in scripts]
    if missing:
        client = redis.Redis(connection_pool=pipe.connection_pool)
        for source in {scripts[i].source for i in missing}:
            client.script_load(source)
        for i in missing:
            args, options = stack[i]
            results[i] = client.execute_command(*args, **options)
    for result in results:
        if isinstance(result, Exception):
            raise result
    return results
