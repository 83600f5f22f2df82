# Two commands on a fresh machine: `make run` (the dashboard on SQLite + the simulator)
# and `make test` (the whole suite). Each installs what it needs into .venv.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8000
SIM_PORT ?= 8765
WORKERS ?= 3

.PHONY: run test bench serve clean browser

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

run: $(VENV)/.runtime
	$(PY) manage.py run_demo --port $(PORT) --simulator-port $(SIM_PORT)

test: $(VENV)/.dev browser
	$(PY) -m pytest $(PYTEST_ARGS)

# The browser tests drive Debian's chromium (a downloaded browser cannot run here).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; \
	  else echo "make test needs Debian's chromium: sudo apt-get install chromium fonts-noto-cjk"; exit 1; fi; }

bench: $(VENV)/.dev
	$(PY) bench/run.py $(BENCH_ARGS)

# Production-style: DEBUG off, hashed static files from whitenoise, gunicorn. Needs
# SECRET_KEY, TOKEN_ENCRYPTION_KEYS and ALLOWED_HOSTS in the environment.
serve: $(VENV)/.runtime
	DEBUG=false $(PY) manage.py migrate --noinput
	DEBUG=false $(PY) manage.py collectstatic --noinput -v0
	DEBUG=false $(PY) -m gunicorn dashboard.wsgi --bind 127.0.0.1:$(PORT) --workers $(WORKERS) --threads 4 --access-logfile -

clean:
	rm -rf $(VENV) .test-db.sqlite3* .pytest_cache
