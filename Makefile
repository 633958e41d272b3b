# portside developer commands. Everything the project needs is installed from here.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
APT_PACKAGES := docker-registry skopeo apache2-utils fish dash
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: help venv system-deps test lint demo bench clean

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
	$(BIN)/pip install -q -e '.[test]'
	touch $@

venv: $(VENV)/.installed

# Debian packages for the test bed: a real registry, skopeo as the cross-check, htpasswd,
# and the shells whose quoting ci-env's output must survive (dash, fish).
system-deps:
	@missing=""; \
	command -v docker-registry >/dev/null || missing="$$missing docker-registry"; \
	command -v skopeo >/dev/null || missing="$$missing skopeo"; \
	command -v htpasswd >/dev/null || missing="$$missing apache2-utils"; \
	command -v fish >/dev/null || missing="$$missing fish"; \
	command -v dash >/dev/null || missing="$$missing dash"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing >/dev/null \
	  || { $(SUDO) apt-get update -q >/dev/null && \
	       $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing >/dev/null; }; \
	fi

test: system-deps venv
	$(BIN)/python -m pytest -q

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

demo: system-deps venv
	tests/bed/demo.sh

bench: system-deps venv
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis .demo
