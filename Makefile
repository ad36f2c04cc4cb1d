# shopapp: `make run` sets up and runs everything; `make test` sets up and runs the whole suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint setup browsers clean bench

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

test: $(STAMP) browsers
	$(PY) -m pytest $(PYTEST_ARGS)

# ruff (pyproject.toml: E, F, W, I, B, UP, SIM at 120 columns), then the layers as import-linter contracts.
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

bench: $(STAMP)
	$(PY) bench/ingest.py
	$(PY) bench/fanout.py
	$(PY) bench/e2e.py

clean:
	rm -rf $(VENV) instance/*.sqlite3* test-artifacts
