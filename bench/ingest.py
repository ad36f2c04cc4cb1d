"""Webhook ingestion: the app's POST /webhooks against a bare Flask endpoint (the floor), same gunicorn settings.

    python -m bench.ingest [-n 20000] [-c 16,32,64,128] [--rate 200] [--rate-seconds 5] [--rounds 3]
                           [--web-workers 2] [--clients 2] [--database-url URL] [--quick]

Starts the bench's Redis, a fresh database (SQLite, or --database-url/DATABASE_URL) and two gunicorns on
loopback with gunicorn.conf.py (gevent, WEB_CONCURRENCY=--web-workers): the app (wsgi:app) and
bench/bare_app.py, a Flask endpoint that only answers 200. No RQ worker runs: this is verify, commit,
enqueue and answer. Each round sends, to bare then to the app, N signed orders/create deliveries (the
feature's 4 KB sample, unique webhook ids) at each concurrency C from --clients load processes
(bench/load.py), then --rate deliveries/s for --rate-seconds. An endpoint's throughput in a round is its
best accepted/s over the concurrencies; the report takes each endpoint's median round (rounds alternate so
that load from elsewhere hits both alike), the medians at 16 connections, the median round's p99 at the
fixed rate, and the web processes' CPU per accepted webhook in the median round's best run.
Targets (issue 16): app >= 75% of bare at the best concurrency and >= 60% at 16 connections; p99 at
200/s <= 10 ms; web CPU per webhook <= 1.3x the bare request's; every acknowledged webhook committed.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make `bench` and `shopapp` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common

FULL = dict(count=20000, concurrency="16,32,64,128", rate=200.0, rate_seconds=5.0, rounds=3, clients=2, web_workers=2)
QUICK = dict(count=400, concurrency="16", rate=200.0, rate_seconds=1.0, rounds=1, clients=1, web_workers=1)


def phase(port: int, body: Path, count: int, concurrency: int, clients: int, rate: float, prefix: str,
          master_pid: int | None = None) -> dict:
    """One run of the load processes against `port`: accepted/s, latency percentiles, web CPU per webhook."""
    cpu_before = common.web_usage(master_pid)[0] if master_pid else 0.0
    shares = [count // clients + (1 if i < count % clients else 0) for i in range(clients)]
    lanes = max(1, concurrency // clients)
    procs = []
    for i, n in enumerate(shares):
        args = [sys.executable, "-m", "bench.load", "--port", str(port), "--count", str(n), "--body", str(body),
                "--concurrency", str(min(lanes, max(1, n))), "--prefix", f"{prefix}-{i}"]
        if rate:
            args += ["--rate", str(rate / clients)]
        procs.append(subprocess.Popen(args, cwd=common.ROOT, stdout=subprocess.PIPE, text=True))
    results = [json.loads(proc.communicate(timeout=common.PHASE_TIMEOUT_SECONDS + 30)[0]) for proc in procs]
    latencies_ms = [x * 1000 for r in results for x in r["latencies"]]
    statuses: dict[str, int] = {}
    for r in results:
        for code, n in r["statuses"].items():
            statuses[code] = statuses.get(code, 0) + n
    elapsed = max(r["elapsed"] for r in results)
    accepted = statuses.get("200", 0)
    cpu = common.web_usage(master_pid)[0] - cpu_before if master_pid else 0.0
    return {"accepted": accepted, "refused": sum(statuses.values()) - accepted + sum(r["errors"] for r in results),
            "per_second": accepted / elapsed if elapsed else 0.0, "cpu_us": cpu / accepted * 1e6 if accepted else 0.0,
            "p50_ms": common.percentile(latencies_ms, 50), "p99_ms": common.percentile(latencies_ms, 99)}


def best_throughput(args, port: int, master_pid: int, prefix: str) -> dict:
    """One run per concurrency; the best run, with every run's accepted/s by concurrency.

    The bare endpoint is CPU-bound from a few connections on, while the app answers a request when its
    batch is committed, so at low concurrency it waits on latency (Little's law), not on the CPU.
    """
    runs = {c: phase(port, args.body, args.count, c, args.clients, 0.0, f"{prefix}-c{c}", master_pid)
            for c in args.concurrencies}
    best = max(runs, key=lambda c: runs[c]["per_second"])
    return dict(runs[best], concurrency=best, by_concurrency={c: run["per_second"] for c, run in runs.items()},
                accepted_all=sum(run["accepted"] for run in runs.values()),
                refused_all=sum(run["refused"] for run in runs.values()))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", "--count", type=int, help="webhooks per throughput run")
    parser.add_argument("-c", "--concurrency", help="connections of the throughput runs, comma-separated")
    parser.add_argument("--rate", type=float, help="webhooks/s of the latency run (0: skip)")
    parser.add_argument("--rate-seconds", type=float, help="length of each latency run")
    parser.add_argument("--rounds", type=int, help="alternating bare/app rounds (the median is reported)")
    parser.add_argument("--clients", type=int, help="load-generator processes")
    parser.add_argument("--web-workers", type=int, help="gunicorn workers (WEB_CONCURRENCY)")
    args = common.parse(parser, FULL, QUICK, argv)
    args.concurrencies = [int(c) for c in str(args.concurrency).split(",") if c.strip()]

    with common.BenchEnv(args.database_url) as bench:
        from shopapp.app import load_registry
        from shopapp.jobs import registry

        load_registry(bench.config())
        args.body = registry.sample_path("orders/create")
        ports, masters, warm = {}, {}, {}
        servers = {name: bench.web(name, wait=False, workers=args.web_workers, app=spec)
                   for name, spec in (("bare", "bench.bare_app:app"), ("app", "wsgi:app"))}
        for name, server in servers.items():
            ports[name], masters[name] = server.ready().port, server.pid
            warm[name] = phase(server.port, args.body, 200, min(8, args.concurrencies[0]), 1, 0.0, f"warm-{name}")
        print(f"ingest: {args.rounds} round(s) of {args.count:,} webhooks at C={args.concurrency}, "
              f"{args.rate:g}/s for {args.rate_seconds:g} s; {args.clients} load process(es), gunicorn gevent "
              f"x{args.web_workers}, {bench.database}, {os.cpu_count()} CPUs", flush=True)
        rounds: dict[str, list] = {"bare": [], "app": []}
        for r in range(args.rounds):
            for name in ("bare", "app"):
                throughput = best_throughput(args, ports[name], masters[name], f"tp{r}-{name}")
                latency = None
                if args.rate:
                    latency = phase(ports[name], args.body, max(1, int(args.rate * args.rate_seconds)),
                                    args.concurrencies[0], args.clients, args.rate, f"rate{r}-{name}")
                rounds[name].append((throughput, latency))
                print(f"  round {r + 1} {name}: {throughput['per_second']:,.0f}/s at C={throughput['concurrency']}"
                      + (f", p99 {latency['p99_ms']:.2f} ms at {args.rate:g}/s" if latency else ""), flush=True)
        sent = warm["app"]["accepted"] + sum(tp["accepted_all"] + (lat["accepted"] if lat else 0)
                                             for tp, lat in rounds["app"])
        report(args, bench.database, rounds, committed_jobs(bench.database_url), sent)
    return 0


def committed_jobs(url: str) -> int:
    """Jobs in the database: one per accepted delivery."""
    from sqlalchemy import func, select

    from shopapp.db import Database
    from shopapp.models import Job

    db = Database(url)
    try:
        with db.session() as session:
            return session.scalar(select(func.count()).select_from(Job))
    finally:
        db.dispose()


def report(args, database: str, rounds: dict, committed: int, acknowledged: int) -> None:
    """Each endpoint's figures (INFO: they fill the README's table), then the app's against the bare floor."""
    out = common.Report("ingest", database, args)
    best = {name: sorted((tp for tp, _ in results), key=lambda tp: tp["per_second"])[len(results) // 2]
            for name, results in rounds.items()}  # the median round's best run
    at16 = {name: statistics.median(tp["by_concurrency"][16] for tp, _ in results) if 16 in args.concurrencies
            else math.nan for name, results in rounds.items()}
    p99 = {name: sorted(lat["p99_ms"] for _, lat in results)[len(results) // 2] if args.rate else math.nan
           for name, results in rounds.items()}
    for name in ("app", "bare"):
        floor = " (the floor)" if name == "bare" else ""
        out.figure(f"ingest.{name}_per_second", f"{name} throughput, best concurrency{floor}", best[name]["per_second"],
                   "/s", detail=f"at C={best[name]['concurrency']}; rounds: "
                                + ", ".join(f"{tp['per_second']:,.0f}" for tp, _ in rounds[name]),
                   counts={"webhooks": best[name]["accepted"]})
        if 16 in args.concurrencies:
            out.figure(f"ingest.{name}_per_second_c16", f"{name} throughput at 16 connections{floor}", at16[name], "/s")
        if args.rate:
            out.figure(f"ingest.{name}_p99_at_rate", f"{name} p99 acknowledgement at {args.rate:g}/s{floor}",
                       p99[name], "ms", counts={"webhooks": sum(lat["accepted"] for _, lat in rounds[name])},
                       detail="rounds: " + ", ".join(f"{lat['p99_ms']:.2f}" for _, lat in rounds[name]))
        out.figure(f"ingest.{name}_cpu_us", f"{name} web CPU per webhook{floor}", best[name]["cpu_us"], "us")
    app, bare = best["app"], best["bare"]
    out.figure("ingest.ratio_best", "app/bare throughput, best concurrency", app["per_second"] / bare["per_second"],
               "ratio", (">=", 0.75), floor=f"bare {bare['per_second']:,.0f}/s at C={bare['concurrency']}",
               detail=f"app {app['per_second']:,.0f}/s at C={app['concurrency']}")
    if 16 in args.concurrencies:
        out.figure("ingest.ratio_c16", "app/bare throughput at 16 connections", at16["app"] / at16["bare"], "ratio",
                   (">=", 0.60), floor=f"bare {at16['bare']:,.0f}/s", detail=f"app {at16['app']:,.0f}/s")
    if args.rate:
        out.figure("ingest.p99_at_rate", f"app p99 acknowledgement at {args.rate:g}/s", p99["app"], "ms",
                   ("<=", 10.0), floor=f"bare p99 {p99['bare']:.2f} ms")
    out.figure("ingest.cpu_ratio", "web CPU per webhook, app/bare", app["cpu_us"] / bare["cpu_us"], "x",
               ("<=", 1.3), floor=f"bare {bare['cpu_us']:,.0f} us", detail=f"app {app['cpu_us']:,.0f} us")
    refused = sum(tp["refused_all"] + (lat["refused"] if lat else 0)
                  for results in rounds.values() for tp, lat in results)
    out.figure("ingest.refused", "answers other than 200, and failed connections", refused, "count", ("<=", 0))
    out.figure("ingest.not_committed", "acknowledged webhooks not committed", acknowledged - committed, "count",
               ("<=", 0), detail=f"{committed:,} committed of {acknowledged:,} acknowledged",
               counts={"committed": committed, "acknowledged": acknowledged})
    out.finish()


if __name__ == "__main__":
    sys.exit(main())
