"""shopapp's benchmarks: each figure of the README's performance section, run beside its floor in the same run.

    make bench                                                  # every figure, SQLite, about 10-15 minutes
    make bench DATABASE_URL=postgresql://postgres@127.0.0.1:5432/shopapp_bench
    make bench BENCH_QUICK=1                                    # a smoke run: the same code, tiny sizes

`bench/run.py` runs `ingest`, `workers`, `e2e`, `fanout` and `large_bodies` (each also runs alone:
`python -m bench.ingest --help`) and ends with every figure's target, PASS or MISS, and the figures as JSON
lines. The shared helpers (percentiles, the signer, processes, the bench's Redis and database, the report)
are in `bench/common.py`; `bench/trivial_jobs.py` is the bench's own feature (a job kind that does nothing).
"""
