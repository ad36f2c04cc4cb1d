"""A TCP proxy that can add latency, for "200 ms on the database link" where `tc netem` is unavailable.

    python -m tests.support.delay_proxy LISTEN_HOST LISTEN_PORT TARGET_HOST TARGET_PORT RTT_MS

Forwards every connection to the target. While latency is on, each chunk of bytes is held for RTT_MS / 2
in each direction (so a round trip takes RTT_MS longer), in order. SIGUSR1 turns latency on, SIGUSR2 off;
it starts off. The test's network runs it in a namespace of its own between the app's hosts and
PostgreSQL, since this machine's kernel has no netem qdisc.
"""
from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time


class DelayProxy:
    def __init__(self, target: tuple[str, int], rtt_ms: float):
        self.target = target
        self.one_way = rtt_ms / 2000.0
        self.delay = 0.0

    async def handle(self, client_reader, client_writer) -> None:
        try:
            server_reader, server_writer = await asyncio.open_connection(*self.target)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(self._pipe(client_reader, server_writer), self._pipe(server_reader, client_writer),
                             return_exceptions=True)

    async def _pipe(self, reader, writer) -> None:
        # Chunks are stamped on arrival and sent at stamp + delay, one after another: order is kept.
        queue: asyncio.Queue = asyncio.Queue()

        async def send() -> None:
            while True:
                due, data = await queue.get()
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                if not data:
                    writer.close()
                    return
                writer.write(data)
                await writer.drain()

        sender = asyncio.create_task(send())
        try:
            while True:
                try:
                    data = await reader.read(65536)
                except OSError:
                    data = b""
                await queue.put((time.monotonic() + self.delay, data))
                if not data:
                    break
            await sender
        finally:
            sender.cancel()
            with contextlib.suppress(Exception):
                writer.close()


async def serve(listen: tuple[str, int], target: tuple[str, int], rtt_ms: float) -> None:
    proxy = DelayProxy(target, rtt_ms)
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGUSR1, lambda: setattr(proxy, "delay", proxy.one_way))
    loop.add_signal_handler(signal.SIGUSR2, lambda: setattr(proxy, "delay", 0.0))
    server = await asyncio.start_server(proxy.handle, *listen)
    async with server:
        await server.serve_forever()


def main(argv: list[str]) -> None:
    listen_host, listen_port, target_host, target_port, rtt_ms = argv
    asyncio.run(serve((listen_host, int(listen_port)), (target_host, int(target_port)), float(rtt_ms)))


if __name__ == "__main__":
    main(sys.argv[1:])
