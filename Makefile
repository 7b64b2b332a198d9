# AutoML Lite — `make run` (local mode: web + worker) and `make test` (every test).
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip

.PHONY: run setup test lint format bench bench-autogluon clean checkov

$(VENV)/.installed-dev: requirements.txt requirements-web.txt requirements-dev.txt training_image/requirements.txt training_image/requirements-model.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -r requirements-dev.txt
	@touch $@

# checkov has its own virtualenv: its pins (boto3, packaging) conflict with the app's.
CHECKOV_VENV := .venv-checkov
$(CHECKOV_VENV)/.installed: deploy/requirements-checkov.txt
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet -r deploy/requirements-checkov.txt
	@touch $@

checkov: $(CHECKOV_VENV)/.installed

# AutoGluon (the benchmark's third side) has its own virtualenv too: its pins are not the product's.
AUTOGLUON_VENV := bench/.venv-autogluon
$(AUTOGLUON_VENV)/.installed: bench/requirements-autogluon.txt
	@test -x $(AUTOGLUON_VENV)/bin/python || $(PYTHON) -m venv $(AUTOGLUON_VENV)
	$(AUTOGLUON_VENV)/bin/pip install --quiet --upgrade pip
	$(AUTOGLUON_VENV)/bin/pip install --quiet -r bench/requirements-autogluon.txt
	@touch $@

## Install AutoGluon for bench/quality.py (several minutes; bench/README.md).
bench-autogluon: $(AUTOGLUON_VENV)/.installed

setup: $(VENV)/.installed-dev
	$(PY) manage.py migrate --noinput --verbosity 0
	$(PY) manage.py create_tables

## Start web + worker in local mode on http://127.0.0.1:8000 (Ctrl-C stops both).
run: setup
	$(PY) manage.py runlocal

## Run every test (browser tests use Debian's chromium when installed).
test: $(VENV)/.installed-dev $(CHECKOV_VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m pytest -n 2 --dist loadgroup -q

lint:
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

format:
	$(VENV)/bin/ruff check --fix . && $(VENV)/bin/ruff format .

# The quality bench runs AutoGluon too when bench/.venv-autogluon exists (make bench-autogluon).
bench: $(VENV)/.installed-dev
	$(PY) bench/analysis.py
	$(PY) bench/quality.py
	$(PY) bench/budget_load.py

clean:
	rm -rf var staticfiles .pytest_cache
