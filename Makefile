# Two commands for a fresh machine:  make demo   and   make test
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
DEMO   := demo
DIGEST := $(BIN)/digest --config $(DEMO)/digest.toml

.PHONY: demo test bench install install-test chromium postfix clean

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

## demo: a fresh database in demo/ with the sample articles and subscribers, this week's
## edition built, previewed, approved and sent through the file transport.
demo: install
	rm -rf $(DEMO) && mkdir -p $(DEMO)
	$(DIGEST) init --sample
	$(DIGEST) build
	$(DIGEST) preview
	$(DIGEST) approve
	$(DIGEST) send
	@echo "Outbox: $(DEMO)/outbox/ (one .eml per subscriber); preview: $(DEMO)/preview/"

## test: everything the tests need (Python packages, Debian's chromium), then pytest.
test: install-test chromium
	$(BIN)/python -m pytest

## Debian's chromium for the browser tests. Installed when we are root with apt;
## otherwise the browser tests skip and say why (and fail when CI=true).
chromium:
	@if command -v chromium >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "Installing Debian's chromium for the browser tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else echo "chromium is missing and cannot be installed here (not root, or no apt): browser tests will skip"; fi

## Postfix's smtp-sink and smtp-source, the benchmark's sink and reference.
postfix:
	@if command -v smtp-sink >/dev/null 2>&1 || [ -x /usr/sbin/smtp-sink ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "Installing Debian's postfix for smtp-sink/smtp-source"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postfix >/dev/null; \
	else echo "postfix is missing: run 'sudo apt-get install postfix' for smtp-sink and smtp-source"; exit 1; fi

bench: install-test postfix
	$(BIN)/python benchmarks/bench_send.py

clean:
	rm -rf $(VENV) $(DEMO) preview outbox *.egg-info
