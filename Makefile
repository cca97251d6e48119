# Two commands do everything: `make run` (the gateway on :3000) and `make test` (the whole suite).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PLUGINS := $(wildcard plugins/*/pyproject.toml)
PLUGIN_DIRS := $(patsubst %/pyproject.toml,%,$(PLUGINS))
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
PORT ?= 3000

.PHONY: run test install install-test frontend lint bench bench-compare clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP): $(PY) pyproject.toml $(PLUGINS)
	$(PY) -m pip install --quiet -e . $(addprefix -e ,$(PLUGIN_DIRS))
	touch $@

$(TEST_STAMP): $(STAMP) examples/ollama-native/pyproject.toml
	$(PY) -m pip install --quiet -e '.[test]' -e examples/ollama-native
	touch $@

install: $(STAMP)

install-test: $(TEST_STAMP)

oneapi/static/index.html: $(shell find frontend/src frontend/index.html frontend/package.json -type f 2>/dev/null)
	@if [ -f frontend/package.json ]; then scripts/build-frontend.sh; fi

frontend: oneapi/static/index.html

run: install frontend
	$(VENV)/bin/oneapi --port $(PORT) --log-dir ./logs

test: install-test frontend
	scripts/test.sh

lint: install-test
	$(VENV)/bin/ruff check oneapi plugins tests bench

bench: install
	scripts/bench-deps.sh
	$(PY) -m bench.run

bench-compare: install
	scripts/bench-deps.sh
	$(PY) -m bench.run --compare-litellm

clean:
	rm -rf $(VENV) oneapi/static frontend/node_modules
