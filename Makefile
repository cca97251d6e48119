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

# Every install takes the tested versions from constraints.txt (pyproject.toml has ranges), and
# builds the editable packages with the venv's own setuptools (no isolated build env per package).
PIP_INSTALL := $(PY) -m pip install --quiet --no-build-isolation -c constraints.txt

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip "setuptools>=77"

$(STAMP): $(PY) pyproject.toml $(PLUGINS) constraints.txt
	$(PIP_INSTALL) -e . $(addprefix -e ,$(PLUGIN_DIRS))
	touch $@

# A superset of the plain install, in one pip run (one resolve): it stands for both.
$(TEST_STAMP): $(PY) pyproject.toml $(PLUGINS) constraints.txt examples/ollama-native/pyproject.toml
	$(PIP_INSTALL) -e '.[test]' $(addprefix -e ,$(PLUGIN_DIRS)) -e examples/ollama-native
	touch $(STAMP) $@

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
	$(VENV)/bin/ruff check oneapi plugins tests bench examples

bench: install
	scripts/bench-deps.sh
	$(PY) -m bench.run

bench-compare: install
	scripts/bench-deps.sh
	$(PY) -m bench.run --compare-litellm

clean:
	rm -rf $(VENV) oneapi/static frontend/node_modules
