# wmhmap: one command each for a fresh machine (`make demo`, `make test`).
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed
# Test and demo processes must never wait for a W&B login or network.
export WANDB_MODE ?= offline
export WANDB_SILENT ?= true

.PHONY: install system-deps demo test bench lint clean

install: $(STAMP)

# torch first: the CPU wheel; an open torch requirement would pull a multi-GB CUDA build.
$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet torch==2.13.0
	$(PIP) install --quiet -e .[dev]
	touch $(STAMP)

# Programs some tests drive for real: a PostgreSQL server (parallel Optuna workers) and a headless
# Chromium (the report page). Installed from Debian's packages when missing and we may; otherwise
# those tests skip with the reason.
system-deps:
	@missing=""; \
	command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "note:$$missing not installed (needs root and apt-get); the tests that use them will skip"; \
	  fi; \
	fi

demo: install
	$(VENV)/bin/wmhmap-demo

test: install system-deps
	$(PY) -m pytest

bench: install
	$(PY) benchmarks/run_all.py

lint: install
	$(VENV)/bin/ruff check src tests benchmarks

clean:
	rm -rf outputs multirun .pytest_cache
