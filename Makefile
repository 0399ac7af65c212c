# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEV_ENV := EPRESCRIPTION_ENV=development
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test lint lock format translations clean

LOCK := requirements.lock
DEV_LOCK := requirements-dev.lock
# Exactly what the locks name, every file checked against its hash; then the project itself
# (no dependency of its own, built with the locked setuptools).
INSTALL := $(BIN)/python -m pip install --quiet --require-hashes --no-deps -r
INSTALL_PROJECT := $(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
UV_COMPILE := $(BIN)/uv pip compile --quiet --universal --python-version 3.11 --generate-hashes \
	pyproject.toml tools/build-requirements.in

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "eprescription needs Python 3.11 or newer (set PYTHON=python3.11)")'
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(LOCK) pyproject.toml | $(BIN)/python
	$(INSTALL) $(LOCK)
	$(INSTALL_PROJECT)
	touch $@

$(VENV)/.installed-dev: $(DEV_LOCK) pyproject.toml | $(BIN)/python
	$(INSTALL) $(DEV_LOCK)
	$(INSTALL_PROJECT)
	touch $@ $(VENV)/.installed

## lock: resolve pyproject.toml's ranges again into the two locks (kept pins stay unless a
## range excludes them; `make lock UPGRADE=--upgrade` moves every pin to the newest allowed)
lock: $(VENV)/.installed-dev
	$(UV_COMPILE) --extra dev $(UPGRADE) -o $(DEV_LOCK)
	$(UV_COMPILE) --constraint $(DEV_LOCK) -o $(LOCK)

## run: a fresh machine → the service on SQLite with demo data, at http://$(HOST):$(PORT)
run: $(VENV)/.installed
	$(DEV_ENV) $(BIN)/flask --app eprescription db upgrade
	$(DEV_ENV) $(BIN)/flask --app eprescription demo seed
	@echo "Serving on http://$(HOST):$(PORT)  (Ctrl-C to stop); sealing the audit log every 5 s"
	$(DEV_ENV) $(BIN)/flask --app eprescription audit seal --every 5 --quiet & \
	$(DEV_ENV) $(BIN)/flask --app eprescription events deliver --every 2 --quiet & \
	$(DEV_ENV) $(BIN)/flask --app eprescription run --host $(HOST) --port $(PORT)

## test: lint, then the whole suite (unit, integration on SQLite and PostgreSQL, browser)
test: $(VENV)/.installed-dev lint
	$(BIN)/python -m pytest

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-logo
	$(BIN)/mypy

format: $(VENV)/.installed-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## translations: collect the page texts into the catalogue, update the French file, compile both
translations: $(VENV)/.installed-dev
	$(BIN)/pybabel --quiet extract --mapping babel.cfg --keywords _l --keywords lazy_gettext \
		--no-location --sort-output --omit-header \
		--output-file eprescription/translations/messages.pot .
	$(BIN)/pybabel update --no-fuzzy-matching --ignore-obsolete \
		--input-file eprescription/translations/messages.pot \
		--output-dir eprescription/translations --locale fr
	$(BIN)/pybabel compile --directory eprescription/translations --locale fr

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache .import_linter_cache .mypy_cache
