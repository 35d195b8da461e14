# Two commands: `make run` and `make test`. Both set everything up from a fresh clone.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PORT   ?= 8000

.PHONY: run test lint typecheck browser test-servers bench chaos clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/envoi db upgrade
	$(BIN)/envoi demo --once --port $(PORT)
	$(BIN)/envoi run --port $(PORT)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench migrations
	$(BIN)/ruff format --check src tests bench migrations

typecheck: $(STAMP)
	$(BIN)/mypy

# The web wallet tests drive Debian's Chromium (Playwright never downloads a browser here).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "Installing Debian's chromium for the browser tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "The browser tests need Chromium: sudo apt-get install chromium"; exit 1; \
	  fi; }

# Test servers installed outside the repo (cached in $${ENVOI_TEST_CACHE:-~/.cache/envoi-test}):
# localstripe for the Stripe tests, Synapse for the Matrix tests, a local AT Protocol
# network for the Bluesky tests.
test-servers:
	.ci/install-localstripe
	bash tests/servers/install_synapse.sh
	bash tests/servers/atproto/install.sh

test: lint typecheck browser test-servers
	$(BIN)/pytest -q -n 2 --dist loadfile

# Hundreds of kill -9 on SQLite and PostgreSQL (tests/chaos), the mixed-load proof for
# MIXED_LOAD_SECONDS per database (tests/e2e/test_mixed_load.py), schemathesis over the OpenAPI
# (tests/fuzz), atheris over the command parser: about ten minutes. PostgreSQL as for the
# tests (trust auth on 127.0.0.1 by default).
CHAOS_SECONDS ?= 120
FUZZ_EXAMPLES ?= 15
MIXED_LOAD_SECONDS ?= 40
ATHERIS_SECONDS ?= 60
chaos: $(STAMP)
	ENVOI_TEST_DATABASE_URL=$${ENVOI_TEST_DATABASE_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test} \
	ENVOI_CHAOS=long ENVOI_CHAOS_SECONDS=$(CHAOS_SECONDS) ENVOI_CHAOS_REPORT=$(CURDIR)/chaos-report.jsonl \
	  $(BIN)/pytest -q -s -p no:cacheprovider tests/chaos
	ENVOI_TEST_DATABASE_URL=$${ENVOI_TEST_DATABASE_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test} \
	ENVOI_MIXED_LOAD_S=$(MIXED_LOAD_SECONDS) \
	  $(BIN)/pytest -q -s -p no:cacheprovider -m mixed_load tests/e2e/test_mixed_load.py
	$(BIN)/pip install --quiet -e '.[dev,fuzz]'
	ENVOI_TEST_DATABASE_URL=$${ENVOI_TEST_DATABASE_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test} \
	ENVOI_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) ENVOI_FUZZ_RANDOM=1 ENVOI_CHAOS_REPORT=$(CURDIR)/chaos-report.jsonl \
	  $(BIN)/pytest -q -s -p no:cacheprovider tests/fuzz
	$(BIN)/python -m tests.fuzz.atheris_commands -max_total_time=$(ATHERIS_SECONDS) \
	  -print_final_stats=1 2>atheris.log || { tail -40 atheris.log; exit 1; }
	@grep -E "^Done|stat::number_of_executed_units" atheris.log
	@echo "Figures (one JSON line per run): chaos-report.jsonl; atheris: atheris.log"

BENCH_STAMP := $(VENV)/.bench-installed
$(BENCH_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	touch $(BENCH_STAMP)

# Ratios against baselines measured in the same run (PostgreSQL: each bench's --pg URL).
bench: $(BENCH_STAMP)
	$(BIN)/python bench/ledger.py --json bench/report/ledger.json
	$(BIN)/python bench/e2e.py --json bench/report/e2e.json
	$(BIN)/python bench/ledger_check.py --json bench/report/ledger_check.json
	$(BIN)/python bench/report.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache envoi.db chaos-report.jsonl atheris.log
