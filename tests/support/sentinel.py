"""A Redis primary, its replica and three sentinels, as child processes on free loopback ports.

    cluster = SentinelCluster(tmp_path / "sentinel").start()   # returns once the sentinels see it all
    env = cluster.env()           # REDIS_SENTINELS, REDIS_SENTINEL_MASTER (and an empty REDIS_URL)
    cluster.kill_primary()        # SIGKILL; the sentinels promote the replica (~2 s with these timings)
    cluster.wait_for_new_primary()

The sentinels declare the primary down after 1 s without an answer (production: 30 s by default) and two
of three must agree, so a failover takes a couple of seconds instead of most of a minute.
"""
from __future__ import annotations

import time
from pathlib import Path

import redis

from shopapp.embedded_redis import EmbeddedRedis, find_binary

MASTER_NAME = "shopapp-test"
DOWN_AFTER_MS = 1000


class SentinelCluster:
    """primary + replica + 3 sentinels under `directory`."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        binary = find_binary(prefer_system=True)
        self.primary = EmbeddedRedis(self.directory / "primary", binary=binary, persist=False)
        self.replica = EmbeddedRedis(self.directory / "replica", binary=binary, persist=False,
                                     extra_args=["--replicaof", "127.0.0.1", str(self.primary.port)])
        self.sentinels = []
        for index in range(3):
            folder = self.directory / f"sentinel-{index}"
            folder.mkdir(parents=True, exist_ok=True)
            config = folder / "sentinel.conf"  # Sentinel rewrites its configuration file: its own, writable
            config.write_text(f"sentinel monitor {MASTER_NAME} 127.0.0.1 {self.primary.port} 2\n"
                              f"sentinel down-after-milliseconds {MASTER_NAME} {DOWN_AFTER_MS}\n"
                              f"sentinel failover-timeout {MASTER_NAME} 3000\n"
                              f"sentinel parallel-syncs {MASTER_NAME} 1\n")
            self.sentinels.append(EmbeddedRedis(folder, binary=binary, persist=False, config_file=config,
                                                extra_args=["--sentinel"]))

    def start(self, timeout: float = 60.0) -> SentinelCluster:
        """Start every process; return once the replica is in sync and each sentinel knows the replica and
        the two other sentinels (before that, a failover could not happen)."""
        for server in (self.primary, self.replica, *self.sentinels):
            server.start()
        deadline = time.monotonic() + timeout
        while not self._ready():
            if time.monotonic() > deadline:
                raise RuntimeError(f"the sentinels did not see the primary, the replica and each other within "
                                   f"{timeout}s: {[self._master_state(s) for s in self.sentinels]}")
            time.sleep(0.1)
        return self

    def env(self) -> dict[str, str]:
        """The settings that make the app use this cluster."""
        return {"REDIS_URL": "", "REDIS_SENTINEL_MASTER": MASTER_NAME,
                "REDIS_SENTINELS": ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)}

    def master_address(self) -> tuple[str, int] | None:
        """The master's (host, port) by a majority of the sentinels that answer; None while they disagree."""
        votes: dict[tuple[str, int], int] = {}
        for sentinel in self.sentinels:
            state = self._master_state(sentinel)
            if state:
                address = (state["ip"], int(state["port"]))
                votes[address] = votes.get(address, 0) + 1
        winner = max(votes, key=votes.get, default=None)
        return winner if winner is not None and votes[winner] >= 2 else None

    def kill_primary(self) -> tuple[str, int]:
        """SIGKILL the current primary; its (host, port)."""
        address = ("127.0.0.1", self.primary.port)
        self.primary.kill()
        return address

    def wait_for_new_primary(self, old: tuple[str, int], timeout: float = 60.0) -> tuple[str, int]:
        """Wait until the sentinels name another master; its address."""
        deadline = time.monotonic() + timeout
        while True:
            address = self.master_address()
            if address is not None and address != old:
                return address
            if time.monotonic() > deadline:
                raise AssertionError(f"no failover within {timeout}s (master: {address})")
            time.sleep(0.05)

    def stop(self) -> None:
        for server in (*self.sentinels, self.replica, self.primary):
            server.stop()

    def _ready(self) -> bool:
        with self.replica.client() as replica:
            if replica.info("replication").get("master_link_status") != "up":
                return False
        states = [self._master_state(s) for s in self.sentinels]
        return all(state and int(state["num-slaves"]) >= 1 and int(state["num-other-sentinels"]) >= 2
                   for state in states)

    @staticmethod
    def _master_state(sentinel: EmbeddedRedis) -> dict | None:
        try:
            with sentinel.client() as client:
                return client.sentinel_master(MASTER_NAME)
        except redis.RedisError:
            return None
