# Two commands: `make run` (a working system on SQLite) and `make test` (the whole suite).
# DATABASE_URL=postgres://... switches either to PostgreSQL; REDIS_URL switches the q broker.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=
# The settings fail closed (DJANGO_DEBUG off); the development commands turn debug on.
DEV := DJANGO_DEBUG=1

.PHONY: run test install lint bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[test]"
	touch $@

install: $(VENV)/.installed

run: $(VENV)/.installed
	$(DEV) $(PY) manage.py migrate --noinput
	$(DEV) $(PY) manage.py load_demo
	@echo ""
	@echo "KTS Data Exchange: http://$(HOST):$(PORT)/  (admin: http://$(HOST):$(PORT)/admin/)"
	@echo "Demo logins are listed above (password for all: kts-demo-2027). Ctrl-C stops both processes."
	@$(DEV) $(PY) manage.py qcluster & QPID=$$!; \
	trap 'kill $$QPID 2>/dev/null' EXIT INT TERM; \
	$(DEV) $(PY) manage.py runserver --noreload $(HOST):$(PORT)

test: $(VENV)/.installed
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

bench: $(VENV)/.installed
	$(DEV) $(PY) manage.py bench_exchange

clean:
	rm -rf $(VENV) db.sqlite3* staticfiles
