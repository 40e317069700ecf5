# The README's two commands: `make run` and `make test`. Each builds .venv as needed.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint unit bench clean format

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/maildrift effective postfix --root demo --host-facts demo/host-facts.yaml
	$(VENV)/bin/maildrift effective dovecot --root demo

lint: $(STAMP)
	$(VENV)/bin/ruff check daemon tests bench
	$(VENV)/bin/ruff format --check daemon tests bench

format: $(STAMP)
	$(VENV)/bin/ruff format daemon tests bench
	$(VENV)/bin/ruff check --fix daemon tests bench

test: lint
	$(PY) -m pytest -q $(PYTEST_ARGS)

# The pure tests only (no real services), for the per-Python runs in .ci/run.
unit: $(STAMP)
	$(PY) -m pytest -q -m "not services" $(PYTEST_ARGS)

bench: $(STAMP)
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info daemon/*.egg-info
