# wmhmap: one command each for a fresh machine (`make demo`, `make test`).
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed
# Test and demo processes must never wait for a W&B login or network.
export WANDB_MODE ?= offline
export WANDB_SILENT ?= true

.PHONY: install demo test bench lint clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet torch==2.13.0
	$(PIP) install --quiet -e .[dev]
	touch $(STAMP)

demo: install
	$(VENV)/bin/wmhmap-demo

test: install
	$(PY) -m pytest

bench: install
	$(PY) benchmarks/run_all.py

lint: install
	$(VENV)/bin/ruff check src tests benchmarks

clean:
	rm -rf outputs multirun .pytest_cache
