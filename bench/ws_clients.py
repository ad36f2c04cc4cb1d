"""bench/fanout.py's socket clients, one process of them: many /ws/jobs sockets on asyncio and wsproto.

    python -m bench.ws_clients SPEC.json     # {"host", "port", "sockets": [[shop, token], ...], "concurrency"}

Opens every socket (at most `concurrency` handshakes at once, with retries), prints `READY <synced>`, then
answers `STATUS` on stdin with `STATUS <messages received>` and `STOP` with one JSON object: "received" by
shop, "sockets", "open" (sockets still open when STOP came), "duplicates", "gaps", "resyncs",
"failed_connects", "latencies" (seconds from the publish time a message carries to its arrival),
"last_receive" (Unix seconds) and a sample of "slow" deliveries (over 20 ms). Each socket checks its stream
(every seq once, in order) and, closed with 1013 (fell behind), resyncs with `since` like the page does.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from pathlib import Path


class Stream(asyncio.Protocol):
    """One /ws/jobs socket: checks seq order, records latency, resyncs with since after a 1013."""

    def __init__(self, client: ClientProcess, shop: str, token: str):
        self.client, self.shop, self.token = client, shop, token
        self.ws = self.transport = self.last = self.close_code = self.synced = None
        self.received = self.duplicates = self.gaps = self.resyncs = 0
        self.open = False
        self._parts: list[str] = []

    def connection_made(self, transport) -> None:
        from wsproto import ConnectionType, WSConnection
        from wsproto.events import Request

        self.transport, self.ws, self.close_code = transport, WSConnection(ConnectionType.CLIENT), None
        since = f"&since={self.last}" if self.last is not None else ""
        transport.write(self.ws.send(Request(host=self.client.host, target=f"/ws/jobs?id_token={self.token}{since}")))

    def data_received(self, data: bytes) -> None:
        from wsproto.events import CloseConnection, Ping, RejectConnection, TextMessage

        self.ws.receive_data(data)
        for event in self.ws.events():
            if isinstance(event, TextMessage):
                self._parts.append(event.data)
                if event.message_finished:
                    text, self._parts = "".join(self._parts), []
                    self.on_message(json.loads(text))
            elif isinstance(event, Ping):
                self.transport.write(self.ws.send(event.response()))
            elif isinstance(event, CloseConnection):
                self.close_code = event.code
                with contextlib.suppress(Exception):
                    self.transport.write(self.ws.send(event.response()))
                self.transport.close()
            elif isinstance(event, RejectConnection):
                self.close_code = event.status_code
                self.transport.close()

    def _synced(self) -> None:
        self.open = True
        if self.synced is not None and not self.synced.done():
            self.synced.set_result(True)

    def on_message(self, message: dict) -> None:
        now = time.time()
        if message["type"] == "snapshot":
            self.last = message["seq"]
            self._synced()
            return
        if message["type"] != "job":
            return
        seq = message["seq"]
        if self.last is not None and seq <= self.last:
            self.duplicates += 1
            return
        if self.last and seq != self.last + 1:
            self.gaps += 1
        self._synced()  # a replay with since starts with job events
        self.last = seq
        self.received += 1
        sent = float(message["job"]["message"])
        self.client.latencies.append(now - sent)
        self.client.last_receive = max(self.client.last_receive, now)
        if now - sent > 0.02 and len(self.client.slow) < 200:
            self.client.slow.append((round(sent, 3), round((now - sent) * 1000, 1)))

    def connection_lost(self, exc) -> None:
        self.open = False
        if self.synced is not None and not self.synced.done():
            self.synced.set_exception(ConnectionError(f"closed with {self.close_code}"))
        if self.close_code == 1013 and not self.client.stopping:
            self.resyncs += 1  # fell behind: reconnect with since, like the page
            asyncio.get_running_loop().create_task(self.client.connect(self))


class ClientProcess:
    """Holds a share of the sockets; answers STATUS and STOP on stdin."""

    def __init__(self, host: str, port: int, sockets: list, concurrency: int):
        self.host, self.port, self.concurrency = host, port, concurrency
        self.streams = [Stream(self, shop, token) for shop, token in sockets]
        self.latencies: list[float] = []
        self.slow: list[tuple[float, float]] = []
        self.last_receive = 0.0
        self.stopping = False
        self.failed_connects = 0

    async def connect(self, stream: Stream, attempts: int = 20) -> None:
        loop = asyncio.get_running_loop()
        for attempt in range(attempts):
            stream.synced = loop.create_future()
            try:
                await loop.create_connection(lambda: stream, self.host, self.port)
                await asyncio.wait_for(stream.synced, 60)
                return
            except (TimeoutError, OSError, ConnectionError):
                await asyncio.sleep(min(0.05 * 2 ** attempt, 2.0))
        self.failed_connects += 1

    async def run(self) -> None:
        gate = asyncio.Semaphore(self.concurrency)

        async def connect_one(stream):
            async with gate:
                await self.connect(stream)

        await asyncio.gather(*(connect_one(s) for s in self.streams))
        print(f"READY {sum(s.open for s in self.streams)}", flush=True)
        reader = asyncio.StreamReader()
        await asyncio.get_running_loop().connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        while True:
            line = (await reader.readline()).decode().strip()
            if line == "STATUS" or not line:
                print(f"STATUS {sum(s.received for s in self.streams)}", flush=True)
                if not line:
                    return
            elif line == "STOP":
                result = self.result()
                self.stopping = True
                for stream in self.streams:
                    if stream.transport is not None:
                        stream.transport.close()
                print(json.dumps(result), flush=True)
                return

    def result(self) -> dict:
        received: dict[str, int] = {}
        for s in self.streams:
            received[s.shop] = received.get(s.shop, 0) + s.received
        return {"received": received, "sockets": len(self.streams), "open": sum(s.open for s in self.streams),
                "duplicates": sum(s.duplicates for s in self.streams), "gaps": sum(s.gaps for s in self.streams),
                "resyncs": sum(s.resyncs for s in self.streams), "failed_connects": self.failed_connects,
                "latencies": self.latencies, "last_receive": self.last_receive, "slow": self.slow}


def main(spec_path: str) -> int:
    spec = json.loads(Path(spec_path).read_text())
    client = ClientProcess(spec["host"], spec["port"], spec["sockets"], spec["concurrency"])
    asyncio.run(client.run())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
