# GroupCare developer commands. `make run` and `make test` need only Python 3.11+.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# `make run` is for one laptop: DEBUG on unless the caller says otherwise.
RUN_ENV := DJANGO_DEBUG=$${DJANGO_DEBUG:-true} PATH="$(CURDIR)/$(VENV)/bin:$$PATH"
PYTEST_ARGS ?=
# Test processes: one per core (pytest-xdist); `make test PYTEST_WORKERS=0` runs in this one.
PYTEST_WORKERS ?= auto

.PHONY: run test lint fmt migrations check-migrations deploy-check bench clean

$(PY):
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "GroupCare needs Python 3.11 or newer"'
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(PY) requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

run: $(VENV)/.installed
	$(RUN_ENV) $(PY) manage.py migrate --noinput
	$(RUN_ENV) $(PY) manage.py seed_demo
	@echo
	@echo "GroupCare is starting at http://127.0.0.1:8000/  (Ctrl-C stops the web app, worker and beat)"
	@echo
	$(RUN_ENV) $(VENV)/bin/honcho start -f Procfile

test: $(VENV)/.installed-dev
	$(PY) -m pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

fmt: $(VENV)/.installed-dev
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

migrations: $(VENV)/.installed
	DJANGO_DEBUG=true $(PY) manage.py makemigrations

check-migrations: $(VENV)/.installed
	DJANGO_DEBUG=true $(PY) manage.py makemigrations --check --dry-run

deploy-check: $(VENV)/.installed
	DJANGO_DEBUG=false DJANGO_SECRET_KEY=$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(50))') \
	GROUPCARE_FIELD_ENCRYPTION_KEYS=$$($(PY) -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())') \
	DJANGO_ALLOWED_HOSTS=groupcare.example.org $(PY) manage.py check --deploy --fail-level WARNING

bench:
	@for script in benchmarks/*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

clean:
	rm -rf var staticfiles .pytest_cache
