# dsync — the only two set-up commands are `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
export XDG_RUNTIME_DIR ?= /tmp

.DEFAULT_GOAL := help
.PHONY: help run test test-unit test-fast bench lint clean dlq

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml constraints.txt
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[test]'
	touch $(STAMP)

run: $(STAMP) ## start the whole stack in the foreground (embedded PostgreSQL + broker unless configured)
	$(BIN)/python -m dsync_services.stack

test: $(STAMP) ## create .venv, install, run the whole test suite (what CI runs)
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
