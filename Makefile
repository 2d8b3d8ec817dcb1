# Agora: `make up` runs the hub with a worker on embedded defaults; `make test` runs every check.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# The CPU build of torch; a GPU host installs its CUDA build instead (README, "GPU workers").
TORCH_SPEC ?= torch==2.13.0
HOST ?= 127.0.0.1
PORT ?= 8000
# pytest processes; the tests that start worker processes share one of them (tests/conftest.py).
TEST_PROCESSES ?= 2
# schemathesis generates its tests per operation at collection, which pytest-xdist cannot schedule
# (they would be dropped): the API fuzzing runs in a process of its own.
FUZZ_TESTS := tests/security/test_api_fuzz.py
export DEBUG ?= 1

.PHONY: install up serve worker migrate demo test lint format schema openapi check-deploy screenshots clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

migrate: install
	$(BIN)/python manage.py migrate --noinput

demo: migrate
	$(BIN)/python manage.py load_demo
	$(BIN)/python manage.py load_demo_policy

up: demo
	HOST=$(HOST) PORT=$(PORT) bin/serve-local

worker: install
	$(BIN)/celery -A hub worker --pool solo --queues default,cpu,gpu --loglevel INFO

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# The committed docs/openapi.yaml (the API fuzz tests read it) must be the one the code generates.
# Integer bounds in the schema follow the database backend's: it is always generated for SQLite (no
# connection is made), so the committed file does not depend on where the checks run.
SCHEMA_ENV := DATABASE_URL=sqlite:///$(CURDIR)/var/schema.sqlite3

schema: install
	mkdir -p var
	$(SCHEMA_ENV) $(BIN)/python manage.py spectacular --file var/openapi.yaml --validate --fail-on-warn
	$(BIN)/python -c "import yaml, openapi_spec_validator as v; v.validate(yaml.safe_load(open('var/openapi.yaml')))"
	@cmp -s var/openapi.yaml docs/openapi.yaml || { echo "docs/openapi.yaml is stale: run make openapi"; exit 1; }

openapi: install
	mkdir -p var
	$(SCHEMA_ENV) $(BIN)/python manage.py spectacular --file docs/openapi.yaml --validate --fail-on-warn

check-deploy: install
	DEBUG=0 SECRET_KEY="$$($(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(50))')" \
		ALLOWED_HOSTS=agora.example.org $(BIN)/python manage.py check --deploy --fail-level WARNING

test: lint schema check-deploy
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/python -m pytest -n $(TEST_PROCESSES) --dist loadgroup --ignore=$(FUZZ_TESTS)
	$(BIN)/python -m pytest $(FUZZ_TESTS)

# The browser test of the dashboard saves a screenshot of each main page for the README.
screenshots: install
	AGORA_SCREENSHOTS_DIR=$(CURDIR)/docs/screenshots $(BIN)/python -m pytest tests/integration/test_browser_flow.py -q

clean:
	rm -rf var staticfiles
