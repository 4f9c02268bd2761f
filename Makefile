# dsync — the only two set-up commands are `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PROMTOOL_STAMP := $(VENV)/.promtool-stamp
export XDG_RUNTIME_DIR ?= /tmp

.DEFAULT_GOAL := help
.PHONY: help run test test-unit test-fast bench lint clean dlq

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml constraints.txt
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev,test]'
	touch $(STAMP)

# The console's browser tests need Debian's Chromium; install it when missing, fail loudly
# when that is impossible (never skipped).
CHROMIUM := /usr/lib/chromium/chromium
$(CHROMIUM):
	@command -v apt-get >/dev/null || { echo "make test: Chromium missing at $@ and no apt-get; install the 'chromium' package" >&2; exit 1; }
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
	@test -x $@ || { echo "make test: Chromium still missing at $@ after apt-get" >&2; exit 1; }

# promtool (Debian package `prometheus`) checks deploy/prometheus/ in the tests; best effort.
$(PROMTOOL_STAMP): $(STAMP)
	@command -v promtool >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq --no-install-recommends prometheus; } >/dev/null 2>&1 \
		|| echo "promtool could not be installed: the alert-rule check is skipped"
	touch $(PROMTOOL_STAMP)

run: $(STAMP) ## start the whole stack in the foreground (embedded PostgreSQL + broker unless configured)
	$(BIN)/python -m dsync_services.stack

test: $(STAMP) $(CHROMIUM) $(PROMTOOL_STAMP) ## create .venv, install (and Chromium, promtool), run the whole test suite (what CI runs)
	$(BIN)/python -m pytest -q

test-unit: $(STAMP) ## only the pure unit tests (seconds)
	$(BIN)/python -m pytest -q tests/unit

bench: $(STAMP) ## start a stack, print throughput/latency/CPU figures (ARGS="--quick", "--full", "--repeat 3")
	$(BIN)/python bench/run.py $(ARGS)

lint: $(STAMP) ## ruff + mypy --strict over libs, services and bench (what CI runs too)
	$(BIN)/ruff check libs services tests bench
	@# mypy resolves the import names through links: dsync -> libs/dsync, dsync_services -> services
	@mkdir -p $(VENV)/typecheck && ln -sfn ../../libs/dsync $(VENV)/typecheck/dsync \
	  && ln -sfn ../../services $(VENV)/typecheck/dsync_services
	$(BIN)/mypy -p dsync -p dsync_services
	$(BIN)/mypy bench

clean: ## remove the venv and local state
	rm -rf $(VENV) .dsync

dlq: $(STAMP) ## list dead-lettered commands (make dlq ARGS="replay --offset 3")
	$(BIN)/python -m dsync_services.directory.dlq_tool $(or $(ARGS),list)
