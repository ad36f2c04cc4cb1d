"""Live job status fan-out and idle sockets: job events published as the workers do reach /ws/jobs sockets.

    python -m bench.fanout [--scenario steady,burst,throughput,idle] [--web-workers 2] [--no-floor]
                           [--worker-class gevent|gthread] [--gunicorn-args "..."] [--database-url URL] [--quick]

Starts the bench's Redis, a fresh database (SQLite, or --database-url/DATABASE_URL) and, per scenario, a
fresh gunicorn on loopback with gunicorn.conf.py (wsgi:app). Sockets are opened by --client-processes
(bench/ws_clients.py: asyncio and wsproto); updates are published by a separate process through
`EventPublisher.publish`, exactly as the workers publish, each carrying its publish time. Prints, per
scenario: sockets held, delivered messages/s, p50/p99 publish -> receive, lost (expected minus received,
after resyncs), duplicates, resyncs, sockets dropped (asked for but not open at the end) and the web
processes' memory per socket (RSS delta / sockets held, after a few warm-up sockets). The floor, first:
raw Redis pub/sub to one subscriber on the same machine.

Scenarios (2-core machine, all with 0 lost):
  steady      1,000 sockets (100 shops x 10) at 100 updates/s for 10 s       p99 <= 20 ms
  burst       200 sockets of one shop, 500 updates at full publish speed
  throughput  1,000 sockets (100 shops x 10), 5,000 updates at full speed     >= 10,000 delivered/s
  idle        10,000 idle sockets (1,000 shops x 10) held past a ping round   <= 30 KB each, 0 dropped (issue 16)
--quick: the same scenarios with a few hundred sockets and a 1 s idle hold, short of a ping round (a shorter
WS_PING_SECONDS drops sockets whose client a loaded machine starves past it: "no pong"). FANOUT_DEBUG=1
also prints the deliveries slower than 20 ms and the tail of each gunicorn log.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import select
import subprocess
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make `bench` and `shopapp` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common

SCENARIOS = {  # hold: seconds idle before publishing (the app pings every WS_PING_SECONDS, default 25 s)
    "steady": dict(shops=100, per_shop=10, updates=1000, rate=100.0, hold=0.0),
    "burst": dict(shops=1, per_shop=200, updates=500, rate=0.0, hold=0.0),
    "throughput": dict(shops=100, per_shop=10, updates=5000, rate=0.0, hold=0.0),
    "idle": dict(shops=1000, per_shop=10, updates=1000, rate=0.0, hold=30.0),
}
QUICK_SCENARIOS = {
    "steady": dict(shops=10, per_shop=5, updates=100, rate=100.0, hold=0.0),
    "burst": dict(shops=1, per_shop=20, updates=50, rate=0.0, hold=0.0),
    "throughput": dict(shops=10, per_shop=5, updates=200, rate=0.0, hold=0.0),
    "idle": dict(shops=50, per_shop=4, updates=20, rate=0.0, hold=1.0),
}


def shop_name(i: int) -> str:
    return f"bench-{i:04d}.myshopify.com"


def publisher_main(redis_url: str, shops: str, updates: str, rate: str) -> int:
    """Publish `updates` job events round-robin over `shops` shops at `rate`/s (0: full speed); print a JSON
    summary {"per_shop": published by shop, "seconds", "started_at" (Unix seconds)}."""
    import redis

    from shopapp.events.publisher import EventPublisher

    client = redis.Redis.from_url(redis_url)
    publisher = EventPublisher(client, log_size=1000)
    per_shop: dict[str, int] = {}
    started_at, start = time.time(), time.perf_counter()
    for i in range(int(updates)):
        if float(rate):
            time.sleep(max(0.0, start + i / float(rate) - time.perf_counter()))
        shop = shop_name(i % int(shops))
        job = {"id": i + 1, "kind": "webhook", "topic": "orders/create", "webhook_id": f"wh-{i}", "state": "running",
               "progress": 50, "message": f"{time.time():.6f}", "attempts": 1, "error": None,
               "created_at": "2026-11-25T08:00:00Z", "updated_at": "2026-11-25T08:00:01Z"}
        if publisher.publish(shop, job, 1):
            per_shop[shop] = per_shop.get(shop, 0) + 1
    print(json.dumps({"per_shop": per_shop, "seconds": time.perf_counter() - start, "started_at": started_at}))
    client.close()
    return 0


def floor_subscriber_main(redis_url: str, expected: str) -> int:
    """Count messages on channel bench:floor until `expected` arrived or 10 s pass; print {"count", "seconds"}."""
    import redis

    client = redis.Redis.from_url(redis_url)
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe("bench:floor")
    pubsub.get_message(timeout=5)
    print("READY", flush=True)
    count, first = 0, None
    while count < int(expected) and pubsub.get_message(timeout=10) is not None:
        first = first or time.perf_counter()
        count += 1
    print(json.dumps({"count": count, "seconds": time.perf_counter() - (first or time.perf_counter())}), flush=True)
    pubsub.close()
    client.close()
    return 0


def run_floor(redis_url: str, count: int) -> float:
    """Raw Redis pub/sub to one subscriber process: messages/s of `count` 300-byte messages."""
    import redis

    sub = subprocess.Popen([sys.executable, "-m", "bench.fanout", "_floor_sub", redis_url, str(count)],
                           cwd=common.ROOT, stdout=subprocess.PIPE, text=True)
    try:
        if sub.stdout.readline().strip() != "READY":
            raise RuntimeError("the floor's subscriber did not start")
        client = redis.Redis.from_url(redis_url)
        with client.pipeline(transaction=False) as pipe:
            for i in range(count):
                pipe.publish("bench:floor", "x" * 300)
                if i % 1000 == 999:
                    pipe.execute()
            pipe.execute()
        client.close()
        result = json.loads(sub.communicate(timeout=common.PHASE_TIMEOUT_SECONDS)[0])
    finally:
        if sub.poll() is None:
            sub.kill()
            sub.wait()
    return result["count"] / max(result["seconds"], 1e-9)


def _read_line(proc: subprocess.Popen, deadline: float) -> str:
    while time.monotonic() < deadline:
        if select.select([proc.stdout], [], [], 1.0)[0]:
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError("a client process exited")
            return line.strip()
    raise TimeoutError("a client process did not answer in time")


def _ask(clients: list, command: str, deadline: float) -> list[str]:
    """Send `command` to every client process; their one-line answers."""
    for proc in clients:
        proc.stdin.write(command + "\n")
        proc.stdin.flush()
    return [_read_line(proc, deadline) for proc in clients]


def _warm_up(server: common.WebServer, workers: int) -> None:
    """A few sockets per web process first, so that the RSS baseline already holds the one-time costs (the
    subscriber, connection pools, lazily imported code) and the delta is what each socket costs."""
    import websocket

    for _ in range(4 * workers):
        ws = websocket.create_connection(f"{server.ws_url}/ws/jobs?id_token={common.session_token(shop_name(9999))}",
                                         timeout=30)
        ws.recv()
        ws.close()
    time.sleep(0.5)  # let the closed sockets' handlers finish before the baseline is read


def run_scenario(bench: common.BenchEnv, name: str, params: dict, args) -> dict:
    """One scenario on a fresh gunicorn: open the sockets, hold them, publish, count; the raw results."""
    server = bench.web(f"gunicorn-{name}", settings={"GUNICORN_WORKER_CLASS": args.worker_class},
                       workers=args.web_workers, extra=tuple(args.gunicorn_args.split()))
    clients: list[subprocess.Popen] = []
    shops = [shop_name(i) for i in range(params["shops"])]
    tokens = {shop: common.session_token(shop) for shop in shops}
    sockets = [(shop, tokens[shop]) for shop in shops for _ in range(params["per_shop"])]
    try:
        _warm_up(server, args.web_workers)
        rss_before = common.web_usage(server.pid)[1]
        for i in range(args.client_processes):
            spec = bench.work / f"client-{name}-{i}.json"
            share = sockets[i::args.client_processes]
            spec.write_text(json.dumps({"host": "127.0.0.1", "port": server.port, "sockets": share,
                                        "concurrency": args.connect_concurrency}))
            clients.append(subprocess.Popen([sys.executable, "-m", "bench.ws_clients", str(spec)], cwd=common.ROOT,
                                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True))
        deadline = time.monotonic() + common.PHASE_TIMEOUT_SECONDS
        ready = [_read_line(proc, deadline) for proc in clients]  # "READY <sockets synced>"
        held = sum(int(line.split()[1]) for line in ready)
        time.sleep(params["hold"])  # idle, past a ping round
        rss_after = common.web_usage(server.pid)[1]
        published = json.loads(subprocess.run(
            [sys.executable, "-m", "bench.fanout", "_publisher", bench.redis.url, str(params["shops"]),
             str(params["updates"]), str(params["rate"])], cwd=common.ROOT, capture_output=True, text=True,
            timeout=common.PHASE_TIMEOUT_SECONDS, check=True).stdout)
        expected = sum(published["per_shop"].get(shop, 0) for shop, _ in sockets)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if sum(int(line.split()[1]) for line in _ask(clients, "STATUS", deadline)) >= expected:
                break
            time.sleep(0.05)
        results = [json.loads(line) for line in _ask(clients, "STOP", time.monotonic() + 60)]
    finally:
        for proc in clients:
            if proc.poll() is None:
                proc.kill()
            proc.communicate()
        server.stop()
        if os.environ.get("FANOUT_DEBUG"):
            print(server.tail())
    latencies_ms = [x * 1000 for r in results for x in r["latencies"]]
    seconds = max(max(r["last_receive"] for r in results) - published["started_at"], 1e-9)
    if os.environ.get("FANOUT_DEBUG"):
        slow = sorted(x for r in results for x in r["slow"])
        print("slow (publish time - start, ms):", [(round(t - published["started_at"], 3), ms) for t, ms in slow])
    return {"name": name, "params": params, "sockets": len(sockets), "held": held, "expected": expected,
            "open": sum(r["open"] for r in results), "delivered": len(latencies_ms),
            "per_second": len(latencies_ms) / seconds, "publish_seconds": published["seconds"],
            "latencies_ms": latencies_ms, "rss_before": rss_before, "rss_after": rss_after,
            "lost": sum(max(0, published["per_shop"].get(shop, 0) * params["per_shop"]
                            - sum(r["received"].get(shop, 0) for r in results)) for shop in shops),
            **{key: sum(r[key] for r in results) for key in ("duplicates", "gaps", "resyncs", "failed_connects")}}


def report(out: common.Report, s: dict) -> None:
    """One scenario's line, then its figures (the idle one's against issue 16's targets)."""
    name, params, latencies = s["name"], s["params"], s["latencies_ms"]
    kb = (s["rss_after"] - s["rss_before"]) / max(s["held"], 1) / 1024
    rate = f"{params['rate']:.0f}/s" if params["rate"] else "full speed"
    print(f"{name:<10} {s['held']:,} of {s['sockets']:,} sockets held ({params['shops']} shops x {params['per_shop']}),"
          f" {params['updates']:,} updates at {rate} ({s['publish_seconds']:.2f} s to publish): delivered "
          f"{s['delivered']:,}/{s['expected']:,} = {s['per_second']:,.0f} msgs/s, {common.describe(latencies)}, "
          f"lost {s['lost']}, dup {s['duplicates']}, gaps {s['gaps']}, resyncs {s['resyncs']}, failed connects "
          f"{s['failed_connects']}, open at the end {s['open']:,}; web RSS {s['rss_before'] / 2**20:.0f} -> "
          f"{s['rss_after'] / 2**20:.0f} MiB = {kb:.1f} KB/socket", flush=True)
    p99 = common.percentile(latencies, 99)
    counts = {key: s[key] for key in ("sockets", "held", "open", "expected", "delivered", "lost")}
    out.figure(f"fanout.{name}_p99", f"{name}: publish -> socket p99", p99, "ms",
               ("<=", 20.0) if name == "steady" else None, detail=common.describe(latencies), counts=counts)
    out.figure(f"fanout.{name}_per_second", f"{name}: delivered messages/s", s["per_second"], "/s",
               (">=", 10_000.0) if name == "throughput" else None,
               detail=f"{s['delivered']:,} to {s['held']:,} sockets", counts=counts)
    out.figure(f"fanout.{name}_lost", f"{name}: messages lost", s["lost"], "count", ("<=", 0), counts=counts)
    if name == "idle":
        out.figure("fanout.idle_kb_per_socket", f"{s['held']:,} idle sockets: web RSS per socket", kb, "KB",
                   ("<=", 30.0), detail=f"web RSS {s['rss_before'] / 2**20:.0f} -> {s['rss_after'] / 2**20:.0f} MiB",
                   counts=counts)
        out.figure("fanout.idle_dropped", f"{s['sockets']:,} idle sockets: dropped", s["sockets"] - s["open"],
                   "count", ("<=", 0), detail=f"{s['held']:,} held after connecting, {s['open']:,} open at the end, "
                                              f"{s['failed_connects']} failed connects, {s['resyncs']} resyncs",
                   counts=counts)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scenario", default="steady,burst,throughput,idle")
    parser.add_argument("--web-workers", type=int, help="gunicorn workers (WEB_CONCURRENCY)")
    parser.add_argument("--worker-class", default="gevent", choices=["gevent", "gthread"])
    parser.add_argument("--gunicorn-args", default="", help='extra gunicorn arguments, e.g. "--threads 1200"')
    parser.add_argument("--client-processes", type=int, help="socket client processes")
    parser.add_argument("--connect-concurrency", type=int, default=100)
    parser.add_argument("--no-floor", action="store_true")
    parser.add_argument("--floor-messages", type=int)
    args = common.parse(parser, dict(floor_messages=200_000, web_workers=2, client_processes=2),
                        dict(floor_messages=5_000, web_workers=1, client_processes=1), argv)
    import redis

    scenarios = QUICK_SCENARIOS if args.quick else SCENARIOS
    unknown = set(args.scenario.split(",")) - set(scenarios)
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(sorted(unknown))} (choose from {', '.join(scenarios)})")
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # children (gunicorn, clients) inherit it
    with common.BenchEnv(args.database_url) as bench:
        out = common.Report("fanout", bench.database, args)
        print(f"fanout: {os.cpu_count()} CPUs, gunicorn {args.worker_class} x {args.web_workers} {args.gunicorn_args}, "
              f"{args.client_processes} client processes, RLIMIT_NOFILE {hard}, {bench.database}", flush=True)
        if not args.no_floor:
            rate = run_floor(bench.redis.url, args.floor_messages)
            out.figure("fanout.floor_per_second", "raw Redis pub/sub to one subscriber (the floor)", rate, "/s",
                       detail=f"{args.floor_messages:,} messages of 300 B")
        for name in args.scenario.split(","):
            with redis.Redis.from_url(bench.redis.url) as client:
                client.flushall()  # the bench's own Redis: each scenario starts from empty event logs
            report(out, run_scenario(bench, name, scenarios[name], args))
    out.finish()
    return 0


if __name__ == "__main__":
    commands = {"_publisher": publisher_main, "_floor_sub": floor_subscriber_main}
    if len(sys.argv) > 1 and sys.argv[1] in commands:
        sys.exit(commands[sys.argv[1]](*sys.argv[2:]))
    sys.exit(main())
