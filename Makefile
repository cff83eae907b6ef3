# Two commands on a fresh machine: `make run` and `make test`.
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 8000
WORKERS ?= 2

.PHONY: install run test test-postgres lint format clean chaos chaos-failover

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The webhook worker runs beside gunicorn and stops with it (Ctrl-C, or gunicorn exiting).
# Development default: webhook receivers on this machine or the local network are allowed.
run: export GATEWAY_WEBHOOK_ALLOW_PRIVATE = true
run: $(STAMP)
	$(BIN)/gateway init-db
	$(BIN)/gateway demo
	$(BIN)/gateway webhooks run & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker' EXIT INT TERM; \
	$(BIN)/gunicorn -c docker/gunicorn.conf.py --workers $(WORKERS) --bind $(HOST):$(PORT)

test: $(STAMP)
	@command -v chromium >/dev/null || (test "$$(id -u)" = 0 && apt-get update -qq && apt-get install -y -qq chromium >/dev/null) || true
	$(BIN)/pytest -q

# Kill gunicorn workers and crash a private PostgreSQL (initdb in a temporary folder) under 16
# retrying clients, then prove the books (bench/chaos/). CI runs it with CHAOS_SECONDS=120.
CHAOS_SECONDS ?= 150
chaos: $(STAMP)
	CHAOS_SECONDS=$(CHAOS_SECONDS) $(BIN)/python -m bench.chaos.run

# The same clients and proof while database machines are lost: a primary and a synchronous
# standby, the primary SIGKILLed and its folder deleted, the standby promoted, a new standby built;
# two gunicorn hosts behind HAProxy, one killed now and then; network faults through a proxy
# (bench/chaos/failover.py). Installs haproxy from Debian when missing and run as root. CI runs
# CHAOS_FAILOVERS=3.
CHAOS_FAILOVERS ?= 30
chaos-failover: $(STAMP)
	CHAOS_FAILOVERS=$(CHAOS_FAILOVERS) $(BIN)/python -m bench.chaos.failover

# Payments per second against pgbench (the database's limit) and bare Flask (the framework's),
# growth, worker memory and QR throughput, on the local PostgreSQL's `bench` database (bench/).
# BENCH_SECONDS=5 BENCH_PAYMENTS=5000 for a quick run; results in bench/results/latest.json.
.PHONY: bench
bench: $(STAMP)
	$(BIN)/python -m bench.run

lint: $(STAMP)
	$(BIN)/ruff check gateway tests bench
	$(BIN)/ruff format --check gateway tests bench

format: $(STAMP)
	$(BIN)/ruff format gateway tests
	$(BIN)/ruff check --fix gateway tests

clean:
	rm -rf $(VENV) instance .pytest_cache

# A 10.000-member XLSX import through the API: dry run and commit, each timed, on SQLite and on
# the local PostgreSQL (`bench_import` database), and one sheet of PIN slips at the production
# scrypt cost (bench/import_members.py). Goal: each under a minute.
.PHONY: bench-import
bench-import: $(STAMP)
	$(BIN)/python -m bench.import_members
