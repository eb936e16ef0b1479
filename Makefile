# Quick start: `make run` (set-up + daemon with a simulated card), `make test` (set-up + all tests).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup system venv test run clean bench

setup: system venv

system:
	./scripts/install-system-deps.sh

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

test: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

run: setup
	./scripts/run-demo.sh

bench: setup
	$(BIN)/python -m bench --quick

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
