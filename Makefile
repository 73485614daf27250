# Tsudoi: `make run` sets everything up and serves on http://127.0.0.1:5000; `make test` runs the suite
# on SQLite and, when it answers, on PostgreSQL.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
FLASK := FLASK_APP=wsgi.py $(VENV)/bin/flask
PG_SERVER_URL ?= postgresql://postgres@127.0.0.1:5432/postgres
PYTEST_ARGS ?=
BENCH_ARGS ?=
PORT ?= 5000
BROWSER_DIR := tests/browser
TRANSLATIONS := app/translations

.PHONY: install run test test-quick test-sqlite test-postgres test-browser browser-deps screenshots lint i18n i18n-compile migrate demo bench tokens clean

$(VENV)/.installed: pyproject.toml
	@test -d $(VENV) || $(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null || { \
		echo "Tsudoi needs Python 3.11; '$(PYTHON)' is not. Install it or run: make run PYTHON=/path/to/python3.11" >&2; \
		exit 1; }
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed i18n-compile

i18n-compile: $(VENV)/.installed
	@$(VENV)/bin/pybabel compile --use-fuzzy -d $(TRANSLATIONS) -D messages --statistics 2>&1 | tail -n 2 || true
	@$(VENV)/bin/pybabel compile --use-fuzzy -d $(TRANSLATIONS) -D easy --statistics 2>&1 | tail -n 1 || true

## Extract messages, update every catalog, compile.
i18n: $(VENV)/.installed
	$(VENV)/bin/pybabel extract -F babel.cfg -k _l -k lazy_gettext --no-location --sort-output --ignore-dirs='.* __pycache__ node_modules instance' -o $(TRANSLATIONS)/messages.pot .
	$(VENV)/bin/pybabel update -i $(TRANSLATIONS)/messages.pot -d $(TRANSLATIONS) -D messages -l en --no-fuzzy-matching
	$(VENV)/bin/pybabel update -i $(TRANSLATIONS)/messages.pot -d $(TRANSLATIONS) -D easy -l ja --no-fuzzy-matching
	$(MAKE) i18n-compile

migrate: install
	$(FLASK) db upgrade heads

demo: migrate
	$(FLASK) demo load

run: demo
	$(FLASK) run --host 127.0.0.1 --port $(PORT)

## The two database halves run at once, one per core (each is one Python process; the machine CI runs on has two),
## each with its own Redis database; -Otarget prints each half's output as one block when it ends. Then the browser.
test: install lint
	@echo "== tests on SQLite and on PostgreSQL, at once: each prints its report when it is done =="
	$(MAKE) --no-print-directory -j2 -Otarget test-sqlite test-postgres
	$(MAKE) --no-print-directory test-browser

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .

## The edit loop, under 3 minutes: the pure and the fast app tests on SQLite. Leaves out what carries the markers
## race, matrix (both set in tests/conftest.py), slow and browser; `make test` runs everything.
test-quick: $(VENV)/.installed
	$(PY) -m pytest -q -m 'not browser and not slow and not race and not matrix' $(PYTEST_ARGS)

test-sqlite: install
	@echo "== tests on SQLite =="
	TEST_REDIS_URL=redis://127.0.0.1:6379/15 $(PY) -m pytest $(PYTEST_ARGS)

test-postgres: install
	@if $(PY) -c "import psycopg; psycopg.connect('$(PG_SERVER_URL)', connect_timeout=3).close()" 2>/dev/null; then \
		echo "== tests on PostgreSQL =="; \
		TEST_DATABASE_URL='$(PG_SERVER_URL)' TEST_REDIS_URL=redis://127.0.0.1:6379/14 $(PY) -m pytest $(PYTEST_ARGS); \
	elif [ "$$CI" = "true" ]; then \
		echo "PostgreSQL does not answer at $(PG_SERVER_URL) and CI=true: failing." >&2; exit 1; \
	else \
		echo "!! PostgreSQL does not answer at $(PG_SERVER_URL): the PostgreSQL half of the tests is SKIPPED."; \
		echo "!! Start PostgreSQL (or set PG_SERVER_URL) to run it."; \
	fi

## Debian's chromium, its Japanese UI (chromium-l10n) and Japanese fonts (apt, only when missing; sudo when not root) and the pinned axe-core (npm ci).
browser-deps: $(BROWSER_DIR)/node_modules/.installed
	@if ! command -v chromium >/dev/null || ! fc-list 2>/dev/null | grep -qi "Noto Sans CJK" \
			|| ! ls /usr/lib/chromium/locales/ja.pak >/dev/null 2>&1; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		echo "installing chromium, chromium-l10n (Japanese date inputs) and fonts-noto-cjk with apt"; \
		$$SUDO apt-get update -q && $$SUDO apt-get install -y --no-install-recommends chromium chromium-l10n fonts-noto-cjk; \
	fi

$(BROWSER_DIR)/node_modules/.installed: $(BROWSER_DIR)/package.json $(BROWSER_DIR)/package-lock.json
	@if ! command -v npm >/dev/null; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -q && $$SUDO apt-get install -y --no-install-recommends nodejs npm; \
	fi
	cd $(BROWSER_DIR) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

## Journeys, accessibility (axe-core) and the 375 px layout in headless chromium against a live gunicorn (SQLite).
test-browser: install browser-deps
	@echo "== browser tests (chromium, SQLite) =="
	$(PY) -m pytest -m browser $(BROWSER_DIR) $(PYTEST_ARGS)

## Screenshots of the main pages (1280 px and 375 px wide) into docs/screenshots/.
screenshots: install browser-deps
	TSUDOI_SCREENSHOTS=1 $(PY) -m pytest -m browser $(BROWSER_DIR)/test_screenshots.py -q

## The Digital Agency design tokens: npm ci in design/ (the pinned @digital-go-jp/design-tokens), then
## design/build_tokens.py rewrites static/vendor/design-tokens/ (tokens.css, LICENSE, VERSION). The output is
## committed: run this only to move to another version (edit design/package.json) or to change the build.
tokens:
	@command -v npm >/dev/null || { echo "make tokens needs npm (Debian: apt-get install nodejs npm)" >&2; exit 1; }
	cd design && npm ci --no-audit --no-fund --loglevel=error
	$(PYTHON) design/build_tokens.py

bench: install
	$(PY) bench/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
