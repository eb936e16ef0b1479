# Quick start: `make run` (set-up + daemon with a simulated card), `make test` (set-up + all tests).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup system venv test run clean bench openapi openapi-release

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

# The API contract: docs/openapi.json is generated from the app (a test holds them equal). Needs
# only the virtual environment (no system set-up): the landing check runs it on every merge.
openapi:
	$(BIN)/python -c 'from cardservice.api.openapi import main; main()' > docs/openapi.json.tmp
	mv docs/openapi.json.tmp docs/openapi.json

# A release of API v1 freezes the current contract as the baseline of the breaking-change test.
openapi-release: openapi
	cp docs/openapi.json docs/api/v1.released.json
