# shopapp: `make run` sets up and runs everything; `make test` sets up and runs the whole suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint setup browsers servers clean bench

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

setup: $(STAMP)

run: $(STAMP)
	$(PY) -m shopapp serve

# Headless Chromium for the browser tests, from Debian's packages where the machine allows (root + apt).
browsers:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get install -y -qq chromium >/dev/null 2>&1 || \
	     (apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq chromium >/dev/null 2>&1)) || \
	    echo "make: could not install chromium; browser tests will be skipped"; \
	  else echo "make: chromium not found and cannot be installed here; browser tests will be skipped"; fi; }

# Debian's pgbouncer (tests/test_pgbouncer.py) and nftables (tests/test_network.py cuts links with it), where
# the machine allows (root + apt); the tests that need them say why they skip otherwise.
servers:
	@missing=""; PATH="$$PATH:/usr/sbin:/sbin"; \
	for pair in pgbouncer:pgbouncer nft:nftables ip:iproute2; do \
	  command -v $${pair%%:*} >/dev/null 2>&1 || missing="$$missing $${pair#*:}"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get install -y -qq $$missing >/dev/null 2>&1 || \
	     (apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq $$missing >/dev/null 2>&1)) || \
	    echo "make: could not install$$missing; the tests that need them will be skipped"; \
	  else echo "make:$$missing not found and cannot be installed here; the tests that need them will be skipped"; fi; fi

test: $(STAMP) browsers servers
	$(PY) -m pytest $(PYTEST_ARGS)

# ruff (pyproject.toml: E, F, W, I, B, UP, SIM at 120 columns), then the layers as import-linter contracts.
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

# Every benchmark figure beside its floor and target, then the figures as JSON lines (README, Performance).
# `make bench` on SQLite; `make bench DATABASE_URL=postgresql://postgres@127.0.0.1:5432/shopapp_bench` on a
# PostgreSQL database whose name contains "bench" (its tables are dropped); `make bench BENCH_QUICK=1` for
# a smoke run.
bench: $(STAMP)
	DATABASE_URL='$(DATABASE_URL)' BENCH_QUICK='$(BENCH_QUICK)' $(PY) -m bench.run

clean:
	rm -rf $(VENV) instance/*.sqlite3* test-artifacts
