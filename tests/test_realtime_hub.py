"""The per-process subscriber's reconnect policy (its behaviour against real Redis is in test_ws_redis.py)."""
from shopapp.realtime.hub import BACKOFF_INITIAL_SECONDS, BACKOFF_MAX_SECONDS, next_backoff


def test_reconnect_back_off_doubles_and_caps():
    delays = [BACKOFF_INITIAL_SECONDS]
    for _ in range(10):
        delays.append(next_backoff(delays[-1]))
    assert delays[:4] == [BACKOFF_INITIAL_SECONDS * 2 ** i for i in range(4)]
    assert max(delays) == delays[-1] == BACKOFF_MAX_SECONDS
