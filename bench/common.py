"""What every benchmark shares: one percentile, one signer, one process helper, the bench's credentials, its
own Redis and database, a page's socket, and the report (each figure beside its floor and target).

Percentiles (`percentile`): `statistics.quantiles(data, n=100, method="inclusive")`, i.e. linear
interpolation between the two nearest ranks over n - 1 intervals (numpy's default, Excel's
PERCENTILE.INC). Every p50 and p99 the benchmarks print is computed this way; p99 of 1,000 samples lies
between the 10th and the 11th largest.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parent.parent

# The bench's credentials: fixed, for loopback servers that only the bench talks to.
API_KEY = "bench-api-key"
API_SECRET = "bench-api-secret-0123456789abcdef"
ENCRYPTION_KEY = "I67nKn24mXqgTL6zPTuTWcxpUVKsEqUmccIotcgNo4Q="  # a Fernet key (32 url-safe base64 bytes)
SHOP = "bench-shop.myshopify.com"
BENCH_FEATURE = "bench.trivial_jobs"  # the bench's own job kind, loaded through FEATURES
TRIVIAL_KIND = "bench_trivial"
PHASE_TIMEOUT_SECONDS = 300  # no phase of a benchmark waits longer than this


# --- statistics -------------------------------------------------------------------------------------------

def percentile(values, pct: int) -> float:
    """The `pct`-th percentile (an integer from 1 to 99) of `values`, by the module's method; nan when empty."""
    if not 1 <= pct <= 99 or pct != int(pct):
        raise ValueError(f"percentile {pct!r}: an integer from 1 to 99")
    data = list(values)
    if len(data) < 2:
        return float(data[0]) if data else math.nan
    return statistics.quantiles(data, n=100, method="inclusive")[int(pct) - 1]


def describe(values_ms: list[float]) -> str:
    """`p50 … ms, p99 … ms, max … ms, n=…` of latencies in milliseconds."""
    if not values_ms:
        return "no samples"
    return (f"p50 {percentile(values_ms, 50):.2f} ms, p99 {percentile(values_ms, 99):.2f} ms, "
            f"max {max(values_ms):.2f} ms, n={len(values_ms)}")


# --- what Shopify sends: the app's own signer and minter -------------------------------------------------

def webhook_headers(topic: str, body: bytes, shop: str = SHOP, webhook_id: Optional[str] = None) -> dict[str, str]:
    """The headers of a delivery of `body`, signed with the bench's secret by the app's one signer."""
    from shopapp.config import DEFAULT_API_VERSION
    from shopapp.shopify.webhook_signing import webhook_headers as signed_headers

    return signed_headers(topic, body, API_SECRET, shop, webhook_id=webhook_id, event_id=webhook_id,
                          api_version=DEFAULT_API_VERSION)


def session_token(shop: str = SHOP, expires_in: float = 3600) -> str:
    """An App Bridge session token for `shop` under the bench's credentials (the app's one minter)."""
    from shopapp.shopify.session_token import mint_session_token

    return mint_session_token(API_KEY, API_SECRET, shop, expires_in=expires_in)[0]


# --- processes --------------------------------------------------------------------------------------------

class Service:
    """A child process in its own process group (`pid` once started), its output appended to `log`."""

    def __init__(self, args: list[str], env: dict, log: Path):
        self.args, self.env, self.log = args, env, log
        self.proc: Optional[subprocess.Popen] = None
        self.pid = 0

    def start(self) -> Service:
        with open(self.log, "ab") as out:  # the child holds its own copy of the descriptor
            self.proc = subprocess.Popen(self.args, env=self.env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        self.pid = self.proc.pid
        return self

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM (gunicorn's master and the worker supervisor stop their children), then SIGKILL the group."""
        if self.running():
            self.proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout)
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)  # whatever the group still holds
            self.proc.wait()

    def tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


class WebServer(Service):
    """gunicorn with the repository's gunicorn.conf.py on a free loopback port (`app`: wsgi:app or another);
    `url` and `ws_url` address it."""

    def __init__(self, env: dict, log: Path, workers: int = 1, app: str = "wsgi:app", extra: tuple = ()):
        from shopapp.embedded_redis import free_port

        self.port = free_port()
        self.url, self.ws_url = f"http://127.0.0.1:{self.port}", f"ws://127.0.0.1:{self.port}"
        env = dict(env, PORT=str(self.port), BIND_HOST="127.0.0.1", WEB_CONCURRENCY=str(workers))
        super().__init__([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", *extra, app], env, log)

    def ready(self, timeout: float = 60.0) -> WebServer:
        """Wait until GET /healthz answers 200; raises with the log's tail if it does not."""
        from shopapp.testing import wait_until

        wait_until(self._healthy, timeout, f"gunicorn answering /healthz ({self.log})", explain=self.tail)
        return self

    def _healthy(self) -> bool:
        if not self.running():
            raise RuntimeError(f"gunicorn exited; {self.log}:\n{self.tail()}")
        with contextlib.suppress(OSError), urllib.request.urlopen(self.url + "/healthz", timeout=1) as answer:
            return answer.status == 200
        return False


def web_usage(master_pid: int) -> tuple[float, int]:
    """(CPU seconds used so far, resident bytes now) of a gunicorn master's worker processes (psutil)."""
    import psutil

    cpu, rss = 0.0, 0
    for child in psutil.Process(master_pid).children():
        with contextlib.suppress(psutil.NoSuchProcess):
            times = child.cpu_times()
            cpu += times.user + times.system
            rss += child.memory_info().rss
    return cpu, rss


# --- the bench's own Redis and database -------------------------------------------------------------------

def fresh_database(url: str, env: dict) -> str:
    """Drop the app's tables (and alembic's) in `url`, migrate to head, return the normalized URL.

    Only a database whose name contains "bench" (a PostgreSQL database, or a SQLite file) is wiped: a
    DATABASE_URL left in a shell for the app itself must never lose its tables to a benchmark. Raises
    SystemExit saying so otherwise.
    """
    from urllib.parse import urlparse

    from sqlalchemy import text

    from shopapp.app import load_registry
    from shopapp.config import Config
    from shopapp.db import Database, migrate
    from shopapp.models import Base

    url = Config.database_url_from_env({"DATABASE_URL": url})
    name = Path(urlparse(url).path).name
    if "bench" not in name:
        raise SystemExit(f"bench: the database {name!r} would be wiped; use one whose name contains 'bench', "
                         "e.g. `createdb -h 127.0.0.1 -U postgres shopapp_bench`")
    load_registry(Config.from_env(env, web=False))  # every feature's models are in the metadata
    database = Database(url)
    Base.metadata.drop_all(database.engine)
    with database.engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    database.dispose()
    migrate.upgrade(url)
    return url


class BenchEnv:
    """A work directory, a private redis-server and a fresh database; `env` is what the app's processes get.

    `with BenchEnv(database_url) as bench:` … `bench.web(…)`, `bench.worker(…)` start processes that are
    stopped (last first) on leaving, with the Redis server; the work directory is removed. SIGTERM ends the
    run the same way. `database_url` "" means a new SQLite file in the work directory.
    """

    def __init__(self, database_url: str = ""):
        self.requested_url = database_url
        self.services: list[Service] = []

    def __enter__(self) -> BenchEnv:
        from shopapp.embedded_redis import EmbeddedRedis, find_binary

        signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
        self.work = Path(tempfile.mkdtemp(prefix="shopapp-bench-"))
        self.redis = EmbeddedRedis(self.work / "redis", binary=find_binary(prefer_system=True), persist=False)
        self.redis.start()
        from shopapp.config import bundled_features

        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("SHOPIFY_", "SHOPAPP_", "REDIS_", "DATABASE_", "FEATURES"))}
        self.env.update(SHOPIFY_API_KEY=API_KEY, SHOPIFY_API_SECRET=API_SECRET, SHOPAPP_ENCRYPTION_KEY=ENCRYPTION_KEY,
                        SHOPAPP_INSTANCE_DIR=str(self.work / "instance"), REDIS_URL=self.redis.url,
                        LOG_LEVEL="WARNING", PYTHONUNBUFFERED="1",
                        FEATURES=",".join((*bundled_features(), BENCH_FEATURE)))
        try:
            sqlite = f"sqlite:///{self.work / 'bench.sqlite3'}"
            self.database_url = fresh_database(self.requested_url or sqlite, self.env)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        self.env["DATABASE_URL"] = self.database_url
        return self

    @property
    def database(self) -> str:
        """"sqlite" or "postgresql"."""
        return self.database_url.split(":")[0].split("+")[0]

    def config(self):
        """The app's settings from `env` (as a web process reads them)."""
        from shopapp.config import Config

        return Config.from_env(self.env)

    def web(self, name: str, settings: Optional[dict] = None, wait: bool = True, **kwargs) -> WebServer:
        """Start a gunicorn (WebServer's arguments; `settings` added to `env`), logging to `<name>.log`, and
        wait until it is ready unless `wait` is False (then call its `ready()`)."""
        server = self._started(WebServer(dict(self.env, **(settings or {})), self.work / f"{name}.log", **kwargs))
        return server.ready() if wait else server

    def worker(self, processes: int) -> Service:
        """Start `python -m shopapp worker --processes N`."""
        args = [sys.executable, "-m", "shopapp", "worker", "--processes", str(processes)]
        return self._started(Service(args, self.env, self.work / "worker.log"))

    def _started(self, service: Service) -> Service:
        self.services.append(service)
        return service.start()

    def __exit__(self, *exc) -> None:
        for service in reversed(self.services):
            service.stop()
        self.redis.stop()
        shutil.rmtree(self.work, ignore_errors=True)


# --- a page's socket --------------------------------------------------------------------------------------

class Page:
    """An open /ws/jobs socket of `shop` that timestamps (perf_counter) every job event, on a reader thread."""

    def __init__(self, ws_url: str, shop: str):
        import websocket

        self.ws = websocket.create_connection(f"{ws_url}/ws/jobs?id_token={session_token(shop)}", timeout=30)
        first = json.loads(self.ws.recv())
        if first.get("type") != "snapshot":
            raise RuntimeError(f"the socket's first message is not a snapshot: {first}")
        self.ws.settimeout(None)
        self.arrivals: list[tuple[float, dict]] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        import websocket

        with contextlib.suppress(Exception):  # the socket closes at the end of the run
            while True:
                opcode, data = self.ws.recv_data()
                if opcode == websocket.ABNF.OPCODE_CLOSE:
                    return
                if opcode == websocket.ABNF.OPCODE_TEXT:
                    self.arrivals.append((time.perf_counter(), json.loads(data)))

    def first(self, state: str) -> dict:
        """{webhook id, or job id for a merchant's job: arrival time} of the first event in `state`."""
        out: dict = {}
        for at, message in list(self.arrivals):
            job = message.get("job") or {}
            if message.get("type") == "job" and job.get("state") == state:
                out.setdefault(job.get("webhook_id") or job["id"], at)
        return out

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.ws.close(timeout=1)


# --- arguments and the report -----------------------------------------------------------------------------

def parse(parser: argparse.ArgumentParser, full: dict, quick: dict, argv=None) -> argparse.Namespace:
    """Add the shared options, parse, and fill each size left unset from `quick` or `full` (--quick/BENCH_QUICK)."""
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""),
                        help="PostgreSQL (or SQLite) database whose name contains 'bench'; its tables are dropped "
                             "and migrated (default: DATABASE_URL, else a new SQLite file)")
    parser.add_argument("--quick", action="store_true", default=os.environ.get("BENCH_QUICK", "") not in ("", "0"),
                        help="tiny sizes: a smoke run (default: BENCH_QUICK=1)")
    parser.add_argument("--summary", default=os.environ.get("BENCH_SUMMARY", ""),
                        help="also append the figures as JSON lines to this file (default: BENCH_SUMMARY)")
    parser.epilog = "sizes: " + ", ".join(f"--{k.replace('_', '-')} {v} (quick {quick[k]})" for k, v in full.items())
    args = parser.parse_args(argv)
    for name, value in (quick if args.quick else full).items():
        if getattr(args, name, None) is None:
            setattr(args, name, value)
    return args


UNITS = {"ratio": lambda v: f"{v:.0%}", "x": lambda v: f"{v:.2f}x", "ms": lambda v: f"{v:.2f} ms",
         "/s": lambda v: f"{v:,.0f}/s", "us": lambda v: f"{v:,.0f} us", "KB": lambda v: f"{v:.1f} KB",
         "count": lambda v: f"{v:,.0f}", "MiB": lambda v: f"{v:.1f} MiB"}


class Report:
    """Prints each figure beside its floor and target with PASS or MISS, then all of them as JSON lines.

    A JSON line: {"bench", "figure", "label", "database", "value", "unit", "target", "result", "floor",
    "detail", "counts", "quick"}; "target" is like ">= 0.75" (value and target in `unit`), "result" PASS,
    MISS or INFO (no target), "counts" how many things the figure is made of (e.g. {"webhooks": 1000}).
    """

    def __init__(self, bench: str, database: str, args: argparse.Namespace):
        self.bench, self.database, self.args = bench, database, args
        self.figures: list[dict] = []

    def figure(self, figure: str, label: str, value: float, unit: str, target: Optional[tuple[str, float]] = None,
               floor: str = "", detail: str = "", counts: Optional[dict] = None) -> None:
        """Print and keep one figure: `target` is (">=" or "<=", bound), in the figure's `unit` (see UNITS)."""
        if target is None:
            result = "INFO"
        else:
            op, bound = target
            result = "PASS" if (value >= bound if op == ">=" else value <= bound) else "MISS"
        show = UNITS[unit]
        wanted = f"target {target[0]} {show(target[1])}" if target else ""
        print(f"  {label:<46} {show(value):>12}   {wanted:<18} {result:<5} {'floor: ' + floor if floor else ''}"
              f"{'  (' + detail + ')' if detail else ''}", flush=True)
        self.figures.append({"bench": self.bench, "figure": figure, "label": label, "database": self.database,
                             "value": round(value, 6), "unit": unit,
                             "target": f"{target[0]} {target[1]:g}" if target else None, "result": result,
                             "floor": floor, "detail": detail, "counts": counts or {}, "quick": bool(self.args.quick)})

    def finish(self) -> None:
        """Append the figures as JSON lines to --summary (`make bench` prints them all at its end), or print them."""
        lines = [json.dumps(f) + "\n" for f in self.figures]
        if self.args.summary:
            with open(self.args.summary, "a") as out:
                out.writelines(lines)
        else:
            print(f"{self.bench} figures (JSON lines):", "".join(lines), sep="\n", end="", flush=True)
