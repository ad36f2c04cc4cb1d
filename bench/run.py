"""`make bench`: every benchmark, one after the other, then every figure with its target and PASS/MISS.

    python -m bench.run [--only ingest,workers,e2e,fanout,large_bodies,sizing,prepared] [--database-url URL]
        [--quick]

Runs each bench (`python -m bench.<name>`) with the same database (SQLite by default; --database-url or
DATABASE_URL: a PostgreSQL database whose name contains "bench", wiped by each bench) and BENCH_QUICK, each
bounded by a deadline (SIGTERM, then SIGKILL: a bench stops what it started on SIGTERM). Ends with the
table of figures and the same figures as JSON lines (one object a figure: see bench/common.py's Report).
Exits 1 when a bench failed or ran out of time; a MISS is a result, not a failure.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, UNITS

# Deadlines in seconds (full run, quick run): a bench still running then is stopped and counted as failed.
BENCHES = {"ingest": (900, 180), "workers": (600, 120), "e2e": (600, 120), "fanout": (900, 180),
           "large_bodies": (300, 120), "sizing": (300, 120), "prepared": (300, 120)}


def run_bench(name: str, env: dict, deadline: float) -> str:
    """Run one bench with its output on ours; "ok", "failed (exit N)" or "stopped after N s"."""
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", f"bench.{name}"], cwd=ROOT, env=env)
    try:
        code = proc.wait(deadline)
    except subprocess.TimeoutExpired:
        proc.terminate()
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        return f"stopped after {time.monotonic() - started:.0f} s"
    return "ok" if code == 0 else f"failed (exit {code})"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", default=",".join(BENCHES), help="benches to run, comma-separated")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument("--quick", action="store_true", default=os.environ.get("BENCH_QUICK", "") not in ("", "0"))
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = set(names) - set(BENCHES)
    if unknown:
        parser.error(f"unknown bench(es): {', '.join(sorted(unknown))} (choose from {', '.join(BENCHES)})")
    with tempfile.NamedTemporaryFile("r", prefix="shopapp-bench-", suffix=".jsonl") as summary:
        env = dict(os.environ, BENCH_SUMMARY=summary.name, DATABASE_URL=args.database_url,
                   BENCH_QUICK="1" if args.quick else "0")
        started, outcomes = time.monotonic(), {}
        for name in names:
            print(f"\n== bench/{name}.py", flush=True)
            outcomes[name] = run_bench(name, env, BENCHES[name][1 if args.quick else 0])
        figures = [json.loads(line) for line in summary.read().splitlines() if line.strip()]
    print(f"\n== summary: {figures[0]['database'] if figures else '-'}, {'quick' if args.quick else 'full'} run, "
          f"{time.monotonic() - started:.0f} s, {os.cpu_count()} CPUs")
    for name, outcome in outcomes.items():
        print(f"  bench/{name}.py: {outcome}")
    for f in figures:
        show = UNITS[f["unit"]]
        op, _, bound = (f["target"] or "").partition(" ")
        target = f"target {op} {show(float(bound))}" if bound else ""
        print(f"  {f['result']:<5} {f['figure']:<30} {show(f['value']):>12}   {target:<20} {f['floor']}")
    print("figures (JSON lines):", *(json.dumps(f) for f in figures), sep="\n")
    return 0 if all(outcome == "ok" for outcome in outcomes.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
