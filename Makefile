# Two commands on a fresh machine: `make demo` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: setup demo test test-fast bench clean

setup: $(STAMP)

$(STAMP): constraints.txt requirements-train.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -c constraints.txt -r requirements-train.txt -r requirements-dev.txt
	$(PIP) install -q --no-deps -c constraints.txt gluoncv
	$(PIP) install -q --no-deps -e .
	touch $(STAMP)

demo: setup
	$(PY) -m emulator.demo

test: setup
	$(PY) -m pytest $(PYTEST_ARGS)

test-fast: setup
	$(PY) -m pytest -m "not slow and not docker" $(PYTEST_ARGS)

bench: setup
	$(PY) bench/ic_throughput.py
	$(PY) bench/ic_warm_start.py

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
