"""The benchmarks still run: each one's quick mode completes on SQLite and reports its figures.

Only counts are checked (how many webhooks, jobs, events and sockets a figure is made of, and the
guarantees: nothing acknowledged lost, no socket dropped), never a timing: the figures are read by a
person, from a full run on a quiet machine (`make bench`). The quick runs start together, so the
module takes about as long as the slowest of them; sharing the cores changes no count.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.nodb]

ROOT = Path(__file__).resolve().parent.parent
QUICK_RUNS = {  # name: the command after `python -m`
    "ingest": ["bench.ingest"],
    "workers, through make bench's driver": ["bench.run", "--only", "workers"],
    "e2e": ["bench.e2e"],
    "fanout": ["bench.fanout", "--scenario", "idle"],
    "large_bodies": ["bench.large_bodies"],
    "sizing": ["bench.sizing"],
}


class QuickRun:
    """One bench started with --quick on a new SQLite database (never a DATABASE_URL from outside)."""

    def __init__(self, command: list[str], directory: Path):
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "BENCH_QUICK", "BENCH_SUMMARY")}
        self.summary = directory / "summary.jsonl"
        self.command = command
        self.proc = subprocess.Popen([sys.executable, "-m", *command, "--quick"], cwd=ROOT, text=True,
                                     env=dict(env, BENCH_SUMMARY=str(self.summary)), stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
        self.output: str | None = None

    def finished(self) -> str:
        """Its output, once it exited 0."""
        if self.output is None:
            self.output = self.proc.communicate(timeout=240)[0]
        assert self.proc.returncode == 0, f"{self.command} exited with {self.proc.returncode}:\n{self.output[-6000:]}"
        return self.output

    def figures(self) -> dict[str, dict]:
        """The figures it reported as JSON lines (--summary), by name."""
        self.finished()
        return {f["figure"]: f for f in map(json.loads, self.summary.read_text().splitlines())}

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()  # a bench stops what it started on SIGTERM
        if self.output is None:
            self.output = self.proc.communicate(timeout=60)[0]


@pytest.fixture(scope="module")
def quick_runs(tmp_path_factory):
    runs = {name: QuickRun(command, tmp_path_factory.mktemp("bench")) for name, command in QUICK_RUNS.items()}
    yield runs
    for run in runs.values():
        run.stop()


def test_ingest_bench_reports_every_figure_with_every_acknowledged_webhook_committed(quick_runs):
    figures = quick_runs["ingest"].figures()

    assert {"ingest.ratio_best", "ingest.ratio_c16", "ingest.p99_at_rate", "ingest.cpu_ratio"} <= figures.keys()
    assert figures["ingest.app_per_second"]["counts"] == {"webhooks": 400}
    assert figures["ingest.bare_per_second"]["counts"] == {"webhooks": 400}
    assert figures["ingest.app_p99_at_rate"]["counts"] == {"webhooks": 200}
    committed = figures["ingest.not_committed"]["counts"]
    assert committed["committed"] == committed["acknowledged"]


def test_make_bench_runs_the_workers_bench_and_ends_with_its_figures_as_json_lines(quick_runs):
    output = quick_runs["workers, through make bench's driver"].finished()

    lines = output.split("figures (JSON lines):\n", 1)[1].splitlines()
    figures = {f["figure"]: f for f in map(json.loads, lines)}
    assert figures["workers.jobs_per_second"]["counts"] == {"jobs": 200}
    assert figures["workers.jobs_per_second"]["target"] == ">= 1000"
    assert figures["workers.floor_per_second"]["counts"] == {"jobs": 200, "failed": 0}


def test_e2e_bench_sees_every_webhooks_job_succeed_on_the_open_page(quick_runs):
    figures = quick_runs["e2e"].figures()

    assert figures["e2e.webhook_to_screen_p99"]["counts"] == {"webhooks": 50, "succeeded": 50}
    assert figures["e2e.publish_to_screen_p99"]["counts"] == {"events": 50}
    assert figures["e2e.queued_seen"]["counts"]["webhooks"] == 50


def test_fanout_bench_holds_every_idle_socket_and_loses_nothing(quick_runs):
    figures = quick_runs["fanout"].figures()

    assert figures["fanout.idle_kb_per_socket"]["counts"]["held"] == 200
    assert figures["fanout.idle_dropped"]["value"] == 0
    assert figures["fanout.idle_lost"]["value"] == 0
    assert figures["fanout.idle_per_second"]["counts"]["delivered"] == figures["fanout.idle_lost"]["counts"]["expected"]


def test_large_bodies_bench_sees_every_delivery_accepted_and_each_web_process_measured(quick_runs):
    figures = quick_runs["large_bodies"].figures()

    assert figures["large_bodies.accepted"]["counts"] == {"deliveries": 4, "accepted": 4}
    assert figures["large_bodies.peak_rss"]["counts"] == {"deliveries": 4, "web_processes": 2}


def test_sizing_bench_measures_queued_jobs_open_sockets_and_a_replay_log(quick_runs):
    figures = quick_runs["sizing"].figures()

    assert figures["sizing.redis_kb_per_1000_queued_jobs"]["counts"] == {"jobs": 500}
    assert figures["sizing.redis_kb_per_1000_sockets"]["counts"] == {"sockets": 50, "shops": 5}
    assert figures["sizing.web_kb_per_socket"]["counts"] == {"sockets": 50}
    assert figures["sizing.redis_kb_per_1000_job_versions"]["counts"] == {"jobs": 1100}
    assert figures["sizing.redis_kb_per_full_replay_log"]["value"] > 0
