"""The benchmarks' own feature (FEATURES=<bundled>,bench.trivial_jobs): a job kind that does nothing.

`bench_trivial` measures what the engine itself costs a job (claim, state machine, finish, publish after
commit, heartbeat, time limit), with no work of its own; `bench/workers.py` runs thousands of them.
"""
from __future__ import annotations

from shopapp import JobContext, job_kind


@job_kind("bench_trivial")
def trivial(ctx: JobContext) -> str:
    """Returns at once; the message says which attempt ran."""
    return f"attempt {ctx.attempt}"
