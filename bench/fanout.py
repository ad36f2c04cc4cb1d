"""Live job status fan-out benchmark: job events published by a worker-side process reach /ws/jobs sockets.

    .venv/bin/python bench/fanout.py [--scenario steady,burst,throughput,idle] [--web-workers 2]
                                     [--worker-class gevent|gthread] [--gunicorn-args "..."]

Starts its own Redis, a fresh SQLite database and, per scenario, a fresh gunicorn on loopback with
gunicorn.conf.py (wsgi:app). Sockets are opened by --client-processes asyncio clients (wsproto, the
websocket library simple-websocket already ships); updates are published by a separate process through
`EventPublisher.publish`, exactly as the RQ workers publish, carrying their publish time. Each socket
checks its stream (every seq once, in order) and, if closed with 1013 (fell behind), resyncs with `since`
like the page does. Prints, per scenario: connections held, delivered messages/s, p50/p99 latency from
publish to receive, lost (expected minus received, after resyncs), duplicates, resyncs, and the web
processes' memory per connection (RSS delta / sockets, psutil). A floor is printed first: raw Redis
pub/sub throughput to one subscriber on the same machine.

Scenarios (targets on a 2-core machine, all with 0 lost):
  steady      1,000 sockets (100 shops x 10) at 100 updates/s for 10 s        p99 <= 20 ms
  burst       200 sockets of one shop, 500 updates at full publish speed
  throughput  1,000 sockets (100 shops x 10), 5,000 updates at full speed      >= 10,000 delivered/s
  idle        10,000 idle sockets (1,000 shops x 10) held past a ping round    <= 40 KB per connection
Every process it starts is stopped at the end; each phase has a deadline. FANOUT_DEBUG=1 also prints the
deliveries slower than 20 ms (publish time, latency) and the tail of each gunicorn log.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

API_KEY = "bench-api-key"
SECRET = "bench-secret-0123456789abcdef0123"
ENCRYPTION_KEY = "I67nKn24mXqgTL6zPTuTWcxpUVKsEqUmccIotcgNo4Q="
PHASE_TIMEOUT_SECONDS = 180

SCENARIOS = {
    "steady": dict(shops=100, per_shop=10, updates=1000, rate=100.0, hold=0.0),
    "burst": dict(shops=1, per_shop=200, updates=500, rate=0.0, hold=0.0),
    "throughput": dict(shops=100, per_shop=10, updates=5000, rate=0.0, hold=0.0),
    "idle": dict(shops=1000, per_shop=10, updates=1000, rate=0.0, hold=30.0),
}


def shop_name(i: int) -> str:
    return f"bench-{i:04d}.myshopify.com"


def session_token(shop: str) -> str:
    import jwt

    now = int(time.time())
    return jwt.encode({"iss": f"https://{shop}/admin", "dest": f"https://{shop}", "aud": API_KEY, "sub": "1",
                       "exp": now + 3600, "nbf": now - 5, "iat": now - 5, "jti": shop, "sid": shop},
                      SECRET, algorithm="HS256")


# --- websocket clients (own processes, asyncio + wsproto) ---------------------------------------------

class Stream(asyncio.Protocol):
    """One /ws/jobs socket: checks seq order, records latency, resyncs with since after a 1013."""

    def __init__(self, client: ClientProcess, shop: str, token: str):
        from wsproto import ConnectionType, WSConnection

        self.client, self.shop, self.token = client, shop, token
        self._new_connection = lambda: WSConnection(ConnectionType.CLIENT)
        self.ws = None
        self.last = None
        self.received = self.duplicates = self.gaps = self.resyncs = 0
        self.close_code = None
        self.synced = None
        self._parts: list[str] = []

    def target(self) -> str:
        since = f"&since={self.last}" if self.last is not None else ""
        return f"/ws/jobs?id_token={self.token}{since}"

    def connection_made(self, transport) -> None:
        from wsproto.events import Request

        self.transport = transport
        self.ws = self._new_connection()
        self.close_code = None
        transport.write(self.ws.send(Request(host=self.client.host, target=self.target())))

    def data_received(self, data: bytes) -> None:
        from wsproto.events import CloseConnection, Ping, RejectConnection, TextMessage

        self.ws.receive_data(data)
        for event in self.ws.events():
            if isinstance(event, TextMessage):
                self._parts.append(event.data)
                if event.message_finished:
                    text = "".join(self._parts)
                    self._parts = []
                    self.on_message(text)
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

    def on_message(self, text: str) -> None:
        now = time.time()
        message = json.loads(text)
        if message["type"] == "snapshot":
            self.last = message["seq"]
            if self.synced is not None and not self.synced.done():
                self.synced.set_result(True)
            return
        if message["type"] != "job":
            return
        seq = message["seq"]
        if self.last is not None and seq <= self.last:
            self.duplicates += 1
            return
        if self.last and seq != self.last + 1:
            self.gaps += 1
        if self.synced is not None and not self.synced.done():
            self.synced.set_result(True)  # a replay with since starts with job events
        self.last = seq
        self.received += 1
        sent = float(message["job"]["message"])
        self.client.latencies.append(now - sent)
        self.client.last_receive = max(self.client.last_receive, now)
        if now - sent > 0.02:
            self.client.slow.append((round(sent, 3), round((now - sent) * 1000, 1)))

    def connection_lost(self, exc) -> None:
        if self.synced is not None and not self.synced.done():
            self.synced.set_exception(ConnectionError(f"closed with {self.close_code}"))
        if self.close_code == 1013 and not self.client.stopping:
            self.resyncs += 1  # fell behind: reconnect with since, like the page
            asyncio.get_running_loop().create_task(self.client.open(self))


class ClientProcess:
    """Holds a share of the sockets; answers STATUS and STOP on stdin."""

    def __init__(self, host: str, port: int, sockets: list[tuple[str, str]], concurrency: int):
        self.host, self.port = host, port
        self.streams = [Stream(self, shop, token) for shop, token in sockets]
        self.concurrency = concurrency
        self.latencies: list[float] = []
        self.slow: list[tuple[float, float]] = []
        self.last_receive = 0.0
        self.stopping = False
        self.failed_connects = 0

    async def open(self, stream: Stream, attempts: int = 20) -> None:
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
        loop = asyncio.get_running_loop()
        gate = asyncio.Semaphore(self.concurrency)

        async def open_one(stream):
            async with gate:
                await self.open(stream)

        await asyncio.gather(*(open_one(s) for s in self.streams))
        print(f"READY {sum(1 for s in self.streams if s.synced and s.synced.done() and not s.synced.exception())}",
              flush=True)
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        while True:
            line = (await reader.readline()).decode().strip()
            if line == "STATUS" or not line:
                print(f"STATUS {sum(s.received for s in self.streams)}", flush=True)
                if not line:
                    return
            elif line == "STOP":
                self.stopping = True
                for stream in self.streams:
                    if getattr(stream, "transport", None) is not None:
                        stream.transport.close()
                print(json.dumps(self.result()), flush=True)
                return

    def result(self) -> dict:
        return {
            "received": {s.shop: 0 for s in self.streams} | _sum_by_shop(self.streams),
            "sockets": len(self.streams),
            "open": sum(1 for s in self.streams if s.close_code is None),
            "duplicates": sum(s.duplicates for s in self.streams),
            "gaps": sum(s.gaps for s in self.streams),
            "resyncs": sum(s.resyncs for s in self.streams),
            "failed_connects": self.failed_connects,
            "latencies": self.latencies,
            "last_receive": self.last_receive,
            "slow": self.slow[:200],
        }


def _sum_by_shop(streams) -> dict:
    totals: dict[str, int] = {}
    for s in streams:
        totals[s.shop] = totals.get(s.shop, 0) + s.received
    return totals


def client_main(argv: list[str]) -> int:
    spec = json.loads(Path(argv[0]).read_text())
    client = ClientProcess(spec["host"], spec["port"], [tuple(s) for s in spec["sockets"]], spec["concurrency"])
    asyncio.run(client.run())
    return 0


# --- worker-side publisher (its own process) ------------------------------------------------------------

def publisher_main(argv: list[str]) -> int:
    import redis

    from shopapp.events.publisher import EventPublisher

    redis_url, shops, updates, rate = argv[0], int(argv[1]), int(argv[2]), float(argv[3])
    client = redis.Redis.from_url(redis_url)
    publisher = EventPublisher(client, log_size=1000)
    per_shop: dict[str, int] = {}
    started_at = time.time()
    start = time.perf_counter()
    for i in range(updates):
        if rate:
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        shop = shop_name(i % shops)
        job = {"id": i + 1, "kind": "webhook", "topic": "orders/create", "webhook_id": f"wh-{i}", "state": "running",
               "progress": 50, "message": f"{time.time():.6f}", "attempts": 1, "error": None,
               "created_at": "2026-11-25T08:00:00Z", "updated_at": "2026-11-25T08:00:01Z"}
        if publisher.publish(shop, job, 1):
            per_shop[shop] = per_shop.get(shop, 0) + 1
    print(json.dumps({"per_shop": per_shop, "seconds": time.perf_counter() - start, "started_at": started_at}),
          flush=True)
    client.close()
    return 0


# --- the floor: raw Redis pub/sub to one subscriber -----------------------------------------------------

def floor_subscriber_main(argv: list[str]) -> int:
    import redis

    client = redis.Redis.from_url(argv[0])
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe("bench:floor")
    pubsub.get_message(timeout=5)
    print("READY", flush=True)
    count, expected, first = 0, int(argv[1]), None
    while count < expected:
        message = pubsub.get_message(timeout=10)
        if message is None:
            break
        first = first or time.perf_counter()
        count += 1
    print(json.dumps({"count": count, "seconds": time.perf_counter() - (first or time.perf_counter())}), flush=True)
    pubsub.close()
    client.close()
    return 0


def run_floor(redis_url: str, count: int = 200_000) -> str:
    import redis

    sub = subprocess.Popen([sys.executable, __file__, "_floor_sub", redis_url, str(count)], stdout=subprocess.PIPE,
                           text=True)
    try:
        assert sub.stdout.readline().strip() == "READY"
        client = redis.Redis.from_url(redis_url)
        payload = "x" * 300
        pipe = client.pipeline(transaction=False)
        for i in range(count):
            pipe.publish("bench:floor", payload)
            if i % 1000 == 999:
                pipe.execute()
        pipe.execute()
        client.close()
        result = json.loads(sub.stdout.readline())
    finally:
        _stop(sub)
    rate = result["count"] / max(result["seconds"], 1e-9)
    return f"floor: raw Redis pub/sub, {result['count']:,} messages of 300 B to one subscriber: {rate:,.0f} msgs/s"


# --- orchestration ---------------------------------------------------------------------------------------

def _stop(proc: subprocess.Popen, timeout: float = 15) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    for stream in (proc.stdout, proc.stdin):
        if stream:
            stream.close()


def _web_rss(master_pid: int) -> int:
    import psutil

    return sum(child.memory_info().rss for child in psutil.Process(master_pid).children())


def _read_line(proc: subprocess.Popen, deadline: float) -> str:
    import select

    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 1.0)
        if ready:
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError("a client process exited")
            return line.strip()
    raise TimeoutError("a client process did not answer in time")


def _warm_up(server, workers: int) -> None:
    """A few sockets per web process first, so that the RSS baseline already holds the one-time costs (the
    subscriber, connection pools, lazily imported code) and the delta is what each connection costs."""
    import websocket

    token = session_token(shop_name(9999))
    for _ in range(4 * workers):
        ws = websocket.create_connection(f"{server.ws_url}/ws/jobs?id_token={token}", timeout=30)
        ws.recv()
        ws.close()
    time.sleep(0.5)


def run_scenario(name: str, params: dict, env: dict, args, workdir: Path) -> str:
    from tests.support.processes import WebServer

    scenario_env = dict(env, GUNICORN_WORKER_CLASS=args.worker_class)
    server = WebServer(scenario_env, workdir / f"gunicorn-{name}.log", workers=args.web_workers,
                       extra_args=args.gunicorn_args.split() if args.gunicorn_args else None)
    server.start()
    clients: list[subprocess.Popen] = []
    try:
        shops = [shop_name(i) for i in range(params["shops"])]
        tokens = {shop: session_token(shop) for shop in shops}
        sockets = [(shop, tokens[shop]) for shop in shops for _ in range(params["per_shop"])]
        share = [sockets[i::args.client_processes] for i in range(args.client_processes)]
        _warm_up(server, args.web_workers)
        rss_before = _web_rss(server.pid)
        for i, part in enumerate(share):
            spec = workdir / f"client-{name}-{i}.json"
            spec.write_text(json.dumps({"host": "127.0.0.1", "port": server.port, "sockets": part,
                                        "concurrency": args.connect_concurrency}))
            clients.append(subprocess.Popen([sys.executable, __file__, "_client", str(spec)], stdin=subprocess.PIPE,
                                            stdout=subprocess.PIPE, text=True))
        deadline = time.monotonic() + PHASE_TIMEOUT_SECONDS
        held = 0
        for proc in clients:
            line = _read_line(proc, deadline)
            assert line.startswith("READY"), line
            held += int(line.split()[1])
        if params["hold"]:
            time.sleep(params["hold"])  # idle, past a ping round (WS_PING_SECONDS, default 25 s)
        rss_after = _web_rss(server.pid)
        publisher = subprocess.run([sys.executable, __file__, "_publisher", env["REDIS_URL"], str(params["shops"]),
                                    str(params["updates"]), str(params["rate"])], capture_output=True, text=True,
                                   timeout=PHASE_TIMEOUT_SECONDS, check=True)
        published = json.loads(publisher.stdout)
        publish_started = published["started_at"]
        expected = sum(published["per_shop"].get(shop, 0) for shop, _ in sockets)
        deadline = time.monotonic() + 60
        received = 0
        while time.monotonic() < deadline:
            received = 0
            for proc in clients:
                proc.stdin.write("STATUS\n")
                proc.stdin.flush()
                received += int(_read_line(proc, deadline).split()[1])
            if received >= expected:
                break
            time.sleep(0.05)
        results = []
        for proc in clients:
            proc.stdin.write("STOP\n")
            proc.stdin.flush()
            results.append(json.loads(_read_line(proc, time.monotonic() + 60)))
    finally:
        for proc in clients:
            _stop(proc)
        server.stop()
        if os.environ.get("FANOUT_DEBUG"):
            print(server.output()[-3000:])
    latencies = sorted(x for r in results for x in r["latencies"])
    delivered = len(latencies)
    lost = sum(max(0, published["per_shop"].get(shop, 0) * params["per_shop"]
                   - sum(r["received"].get(shop, 0) for r in results)) for shop in shops)
    p = (lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000) if latencies else (lambda q: 0.0)
    seconds = max(max(r["last_receive"] for r in results) - publish_started, 1e-9)
    if os.environ.get("FANOUT_DEBUG"):
        slow = sorted(x for r in results for x in r["slow"])
        last = max(r["last_receive"] for r in results)
        print(f"publish started at {publish_started:.3f}, last receive at {last:.3f}")
        print("slow (publish time - start, ms):", [(round(t - publish_started, 3), ms) for t, ms in slow][:100])
    rate = f"{params['rate']:.0f}/s" if params["rate"] else "full speed"
    per_conn = (rss_after - rss_before) / max(held, 1) / 1024
    return (f"{name:<10} {held:>6,} sockets held ({params['shops']} shops x {params['per_shop']}), "
            f"{params['updates']:,} updates at {rate} ({published['seconds']:.2f} s to publish): "
            f"delivered {delivered:,}/{expected:,} = {delivered / seconds:,.0f} msgs/s, "
            f"p50 {p(0.50):.1f} ms, p99 {p(0.99):.1f} ms, max {p(1.0):.1f} ms, lost {lost}, "
            f"dup {sum(r['duplicates'] for r in results)}, gaps {sum(r['gaps'] for r in results)}, "
            f"resyncs {sum(r['resyncs'] for r in results)}, failed connects "
            f"{sum(r['failed_connects'] for r in results)}; web RSS {rss_before / 2**20:.0f} -> "
            f"{rss_after / 2**20:.0f} MiB = {per_conn:.1f} KB/connection")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", default="steady,burst,throughput,idle")
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--worker-class", default="gevent", choices=["gevent", "gthread"])
    parser.add_argument("--gunicorn-args", default="", help='extra gunicorn arguments, e.g. "--threads 1200"')
    parser.add_argument("--client-processes", type=int, default=2)
    parser.add_argument("--connect-concurrency", type=int, default=100)
    parser.add_argument("--no-floor", action="store_true")
    args = parser.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # children (gunicorn, clients) inherit it
    from shopapp.db import migrate
    from shopapp.embedded_redis import EmbeddedRedis, find_binary

    with tempfile.TemporaryDirectory(prefix="shopapp-fanout-") as tmp:
        workdir = Path(tmp)
        redis_server = EmbeddedRedis(workdir / "redis", binary=find_binary(prefer_system=True), persist=False).start()
        try:
            database_url = f"sqlite:///{workdir / 'bench.sqlite3'}"
            migrate.upgrade(database_url)
            env = {k: v for k, v in os.environ.items() if not k.startswith(("SHOPIFY_", "SHOPAPP_", "REDIS_"))}
            env.update({"SHOPIFY_API_KEY": API_KEY, "SHOPIFY_API_SECRET": SECRET,
                        "SHOPAPP_ENCRYPTION_KEY": ENCRYPTION_KEY, "SHOPAPP_INSTANCE_DIR": str(workdir / "instance"),
                        "DATABASE_URL": database_url, "REDIS_URL": redis_server.url, "LOG_LEVEL": "WARNING"})
            print(f"fanout: {os.cpu_count()} CPUs, gunicorn {args.worker_class} x {args.web_workers} "
                  f"{args.gunicorn_args}, {args.client_processes} client processes, RLIMIT_NOFILE {hard}", flush=True)
            if not args.no_floor:
                print(run_floor(redis_server.url), flush=True)
            for name in args.scenario.split(","):
                redis_server_client_flush(redis_server.url)
                print(run_scenario(name, SCENARIOS[name], env, args, workdir), flush=True)
        finally:
            redis_server.stop()
    return 0


def redis_server_client_flush(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    client.flushall()
    client.close()


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_client":
        sys.exit(client_main(sys.argv[2:]))
    if len(sys.argv) > 1 and sys.argv[1] == "_publisher":
        sys.exit(publisher_main(sys.argv[2:]))
    if len(sys.argv) > 1 and sys.argv[1] == "_floor_sub":
        sys.exit(floor_subscriber_main(sys.argv[2:]))
    sys.exit(main())
