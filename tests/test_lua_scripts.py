"""The Lua script seam (shopapp/lua_scripts.py) gives what redis-py's Script gives, without SCRIPT EXISTS."""
from __future__ import annotations

import pytest
import redis as redis_lib

from shopapp.lua_scripts import LuaScript, execute

SOURCE = "redis.call('RPUSH', KEYS[1], ARGV[1]) return redis.call('LLEN', KEYS[1])"


def _stock(redis, key, values):
    script = redis.register_script(SOURCE)
    with redis.pipeline(transaction=False) as pipe:
        for value in values:
            script(keys=[key], args=[value], client=pipe)
        return pipe.execute(), redis.lrange(key, 0, -1)


def _ours(redis, key, values, transaction=False):
    script = LuaScript(SOURCE)
    with redis.pipeline(transaction=transaction) as pipe:
        for value in values:
            script.queue(pipe, [key], [value])
        pipe.get("unrelated")
        return execute(pipe)[:-1], redis.lrange(key, 0, -1)


def test_a_pipeline_of_scripts_gives_what_redis_pys_script_gives(redis):
    assert _ours(redis, "ours", ["a", "b", "c"]) == _stock(redis, "stock", ["a", "b", "c"])


@pytest.mark.parametrize("transaction", [False, True], ids=["pipeline", "multi-exec"])
def test_a_script_redis_forgot_is_loaded_and_its_commands_run_once_in_order(redis, transaction):
    redis.script_flush()
    assert _ours(redis, "ours", ["a", "b", "c"], transaction) == ([1, 2, 3], [b"a", b"b", b"c"])


def test_a_pipeline_of_scripts_takes_one_round_trip_when_redis_knows_them(redis):
    script = LuaScript(SOURCE)
    script(redis, ["warm"], ["x"])
    before = redis.info("stats")["total_commands_processed"]
    with redis.pipeline(transaction=False) as pipe:
        script.queue(pipe, ["k"], ["a"])
        script.queue(pipe, ["k"], ["b"])
        execute(pipe)
    # The two EVALSHAs (each running RPUSH and LLEN inside) and the INFO call: no SCRIPT EXISTS.
    assert redis.info("stats")["total_commands_processed"] - before == 2 * 3 + 1


def test_a_direct_call_loads_a_forgotten_script(redis):
    redis.script_flush()
    assert LuaScript(SOURCE)(redis, ["direct"], ["a"]) == 1


def test_a_commands_own_error_is_raised_after_the_pipeline_ran(redis):
    redis.set("not-a-list", "x")
    with redis.pipeline(transaction=False) as pipe:
        LuaScript(SOURCE).queue(pipe, ["not-a-list"], ["a"])
        pipe.set("after", "1")
        with pytest.raises(redis_lib.ResponseError):
            execute(pipe)
    assert redis.get("after") == b"1"
