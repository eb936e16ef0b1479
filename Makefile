# Quick start: `make run` (set-up + daemon with a simulated card), `make test` (set-up + all tests).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup system venv test run clean bench openapi openapi-release lock

setup: system venv

system:
	./scripts/install-system-deps.sh

# constraints.txt pins every package to the versions CI last passed with (`make lock` refreshes
# it from the newest releases the bounds in pyproject.toml allow).
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

# Two pytest workers: the tests on the machine's pcscd run on one of them in order (they share
# its readers), the others beside them (tests/conftest.py). PYTEST_WORKERS=0 runs in one process.
PYTEST_WORKERS ?= 2

test: setup
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

run: setup
	./scripts/run-demo.sh

bench: setup
	$(BIN)/python -m bench --quick

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis

# The API contract: docs/openapi.json is generated from the app (a test holds them equal). Needs
# only the virtual environment (no system set-up): the landing check runs it on every merge.
openapi:
	$(BIN)/python -c 'from cardservice.api.openapi import main; main()' > docs/openapi.json.tmp
	mv docs/openapi.json.tmp docs/openapi.json

# A release of API v1 freezes the current contract as the baseline of the breaking-change test.
openapi-release: openapi
	cp docs/openapi.json docs/api/v1.released.json

# New versions within pyproject.toml's bounds, written to constraints.txt (then run `make test`).
lock:
	rm -rf .venv-lock
	$(PY) -m venv .venv-lock
	.venv-lock/bin/pip install --quiet --upgrade pip
	.venv-lock/bin/pip install --quiet -e '.[test]'
	head -2 constraints.txt > constraints.txt.new
	.venv-lock/bin/pip freeze --exclude-editable >> constraints.txt.new
	mv constraints.txt.new constraints.txt
	rm -rf .venv-lock
