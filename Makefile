# Two commands a newcomer needs: `make demo` and `make test`. Everything they need is installed into
# ignored folders (node_modules/, .venv/) and reused while package-lock.json / requirements.txt are unchanged.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# better-sqlite3 compiles its addon when no prebuilt binary can be downloaded (this network has none);
# node-gyp then needs Node's headers, which Debian's nodejs ships under /usr/include/node.
export npm_config_nodedir ?= $(if $(wildcard /usr/include/node/node.h),/usr,)

NODE_STAMP := node_modules/.lakehouse-installed
VENV_STAMP := .venv/.lakehouse-installed
# The compiled CLI and library (npm run build); rebuilt when a source file changes.
DIST_STAMP := dist/.built
SOURCES := $(shell git ls-files core domain iceberg catalog pipeline sql maintenance dashboard stack cli 2>/dev/null) tsconfig.json tsconfig.build.json

.PHONY: help install build demo notebook dashboard up down status test test-unit test-interop test-integration typecheck bench services-up services-down clean

help:
	@echo "make demo       create ./warehouse (SQLite catalog): events -> campaign_events -> campaign_metrics -> HTML report"
	@echo "make notebook   run notebooks/campaign-analysis.ipynb on the catalog (after make demo) and write it as HTML: $(NOTEBOOK_HTML)"
	@echo "make dashboard  Apache Superset dashboards over ./warehouse on http://127.0.0.1:8088 (installs Superset once; stop: bin/lakehouse dashboard down)"
	@echo "make up         the whole system live on 127.0.0.1 (no Docker): Kafka, MinIO, REST catalog, Trino, and supervised producer (20 events/s), ingest, metrics job, Superset; make status / make down (STACK_FLAGS= for lakehouse stack up flags)"
	@echo "make test       install what is needed, start the services, run every test (unit, interop, integration), stop them"
	@echo "make services-up / services-down   MinIO, PostgreSQL, moto (Glue), Iceberg REST server, Kafka, Trino on 127.0.0.1 (no Docker)"
	@echo "make typecheck  TypeScript strict check"
	@echo "make build      compile the CLI and the library to dist/ (make install runs it)"
	@echo "make bench      CLI start-up; write and Kafka ingest throughput, freshness, memory; ingest's event_id de-duplication (check, memory, rebuild); restart to first commit after kill -9 (RESTARTS=, RESTART_RATE=); campaign_metrics full (10 M) and incremental runs; compaction MiB/s and a sort order's effect on readers (COMPACT_EVENTS=, COMPACT_COMMITS=); commit latency and planning over 10,000 commits with and without manifest merging (COMMITS=, UNMAINTAINED_COMMITS=); lakehouse sql against iceberg_scan (SQL_EVENTS=); backfill vs ingest from one file (BACKFILL_EVENTS=); each against DuckDB (EVENTS=, BATCH=, RATE=, RUNS=, METRICS_EVENTS=, INCREMENT=); with Trino up, the dashboard queries through Trino vs DuckDB; ten Superset viewers over 10 M events (DASHBOARD_EVENTS=); the live stack's freshness, produced -> visible in a chart, at 20/s and 20 k/s (STACK_RATES=, STACK_SECONDS=)"
	@echo "make clean      remove ./warehouse and test output (keeps installs)"

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(DIST_STAMP): $(NODE_STAMP) $(SOURCES)
	npm run build --silent

build: $(DIST_STAMP)

$(VENV_STAMP): infra/python/requirements.txt infra/setup-python.sh
	bash infra/setup-python.sh
	@touch $@

# Headless Chromium for the report test. No stamp: the browser lives outside the tree, and
# setup-chromium.sh finds it on PATH in milliseconds; it runs apt (root) only when there is none.
install: $(NODE_STAMP) $(VENV_STAMP) $(DIST_STAMP)
	@bash infra/setup-chromium.sh >/dev/null

demo: $(DIST_STAMP)
	bin/lakehouse demo

# The notebook is committed without outputs (they depend on the local warehouse and would go stale with
# every change); this renders it, executed on the catalog the CLI opens, as HTML any browser shows.
NOTEBOOK_HTML ?= warehouse/demo/campaign-analysis.html
notebook: $(VENV_STAMP)
	@if [ ! -f lakehouse.config.json ] && [ -z "$$LAKEHOUSE_CONFIG" ] && [ ! -f warehouse/catalog.db ]; then \
	  echo "make notebook: there is no ./warehouse/catalog.db and no lakehouse.config.json; run make demo first." >&2; exit 1; fi
	.venv/bin/python notebooks/render.py --html $(NOTEBOOK_HTML)

dashboard: $(DIST_STAMP)
	bin/lakehouse dashboard up

# The live stack (stack/): its own state folder (.cache/stack) and ports (28xxx), beside the test services.
up: $(DIST_STAMP)
	bin/lakehouse stack up $(STACK_FLAGS)

down: $(DIST_STAMP)
	bin/lakehouse stack down

status: $(DIST_STAMP)
	bin/lakehouse stack status

typecheck: $(NODE_STAMP)
	npx tsc -p tsconfig.json

test: install
	npx tsc -p tsconfig.json
	@mkdir -p .cache
	@set +e; npx vitest run --reporter=default --reporter=json --outputFile.json=.cache/vitest-results.json; status=$$?; \
	  node tests/summary.mjs .cache/vitest-results.json; exit $$status

test-unit: $(NODE_STAMP)
	npx vitest run --project unit tests/unit

test-interop: install
	npx vitest run tests/interop

test-integration: install
	npx vitest run --project integration

services-up:
	bash infra/services.sh up

services-down:
	bash infra/services.sh down

# The ingest half needs a Kafka broker on 127.0.0.1: the running one (make services-up), else Kafka alone,
# started here and stopped again afterwards.
bench: install
	node --import tsx bench/cli-startup-bench.ts
	node --import tsx bench/write-bench.ts
	node --import tsx bench/buffer-bench.ts
	node --import tsx bench/dedup-bench.ts
	COMMITS=$${COMMITS:-10000} UNMAINTAINED_COMMITS=$${UNMAINTAINED_COMMITS:-2000} node --import tsx bench/commit-bench.ts
	node --import tsx bench/evolution-bench.ts
	node --import tsx bench/backfill-bench.ts
	@if ! bash infra/services.sh status kafka >/dev/null 2>&1; then \
	  bash infra/services.sh up kafka || exit 1; trap 'bash infra/services.sh down kafka' EXIT; fi; \
	  node --import tsx bench/ingest-bench.ts && node --import tsx bench/restart-bench.ts
	EVENTS=$${METRICS_EVENTS:-10000000} node --import tsx bench/campaign-metrics-bench.ts
	node --import tsx bench/compact-bench.ts
	EVENTS=$${SQL_EVENTS:-200000} node --import tsx bench/sql-bench.ts
	@# Trino takes ~20 s of CPU and ~0.7 GB to start, so this half runs only when it is already up.
	@if bash infra/services.sh status trino >/dev/null 2>&1; then node --import tsx bench/trino-bench.ts; \
	  else echo "trino-bench: skipped (Trino is not running; start it with 'bash infra/services.sh up trino')"; fi
	EVENTS=$${DASHBOARD_EVENTS:-10000000} node --import tsx bench/dashboard-bench.ts
	@# The live stack's processes against the running services: produced -> visible in a chart, at 20/s and 20 k/s.
	@if bash infra/services.sh status minio iceberg-rest kafka >/dev/null 2>&1; then node --import tsx bench/stack-freshness-bench.ts; \
	  else echo "stack-freshness-bench: skipped (start the services: bash infra/services.sh up minio iceberg-rest kafka)"; fi

clean:
	bash infra/services.sh down
	rm -rf warehouse .cache dist
