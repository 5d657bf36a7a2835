# Two commands set everything up: `make run` and `make test` (README.md).
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
# mysqlclient needs the MariaDB/MySQL client headers; install it only where they exist so a
# bare machine with just Python can still run the site on SQLite.
EXTRAS := dev$(shell pkg-config --exists mariadb 2>/dev/null || pkg-config --exists mysqlclient 2>/dev/null && echo ,mysql)
# Every install comes from uv.lock (`make lock` updates it), through uv: the venv's own pip
# fetches this uv once, so a bare machine still needs nothing but Python. The Dockerfile
# installs the same uv version.
UV_VERSION := 0.13.9
UV := $(VENV)/.uv-$(UV_VERSION)/bin/uv
comma := ,

.PHONY: run test lint format demo bench venv lock migrate worker clean images

$(UV):
	@test -x $(PY) || "$$(scripts/find-python.sh)" -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --target $(VENV)/.uv-$(UV_VERSION) uv==$(UV_VERSION)

# --locked: the lock must match pyproject.toml (else run `make lock`); uv then installs
# exactly the locked versions, hashes checked, and removes whatever the lock lacks.
$(VENV)/.installed-$(EXTRAS): pyproject.toml uv.lock | $(UV)
	UV_PROJECT_ENVIRONMENT=$(VENV) $(UV) sync --locked --quiet $(patsubst %,--extra %,$(subst $(comma), ,$(EXTRAS)))
	@rm -f $(VENV)/.installed-*
	@touch $@

venv: $(VENV)/.installed-$(EXTRAS)

# Newest versions pyproject.toml allows, for every platform and Python >= 3.12; commit uv.lock.
lock: | $(UV)
	$(UV) lock --upgrade

migrate: venv
	DEBUG=$${DEBUG:-1} $(PY) manage.py migrate --noinput

# The site on SQLite + in-process cache + django-q2's ORM broker, with a worker beside it.
# On an empty database the worker starts the first crawl of OTAKUDESU_BASE_URL.
run: migrate
	DEBUG=$${DEBUG:-1} AUTO_FIRST_CRAWL=$${AUTO_FIRST_CRAWL:-1} PY=$(PY) scripts/run-dev.sh $(HOST) $(PORT)

# Fills the site offline from the project's own fake origin, then serves it.
demo: migrate
	DEBUG=$${DEBUG:-1} PY=$(PY) scripts/demo.sh $(HOST) $(PORT)

# The npm tools of the accessibility tests and bench_lighthouse (dev only), from
# package-lock.json, again only when the lock is newer than the last install (npm ci
# deletes and refetches everything). Without npm those tests and the bench skip and say so.
node_modules/.installed: package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
	  npm ci --no-audit --no-fund --loglevel=error && touch $@; \
	else echo "npm not found: the axe-core tests and bench_lighthouse will skip"; fi

test: venv node_modules/.installed
	$(PY) -m pytest $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy

format: venv
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: venv node_modules/.installed
	@for f in bench/bench_*.py; do echo "== $$f"; DEBUG=1 $(PY) $$f || exit 1; done

# The production images (README.md, "Deployment"): otakusite-web and otakusite-worker tagged
# OTAKUSITE_TAG, with podman where it is installed (--format docker keeps the HEALTHCHECK),
# else docker. Behind a TLS-inspecting proxy pass its CA bundle, used only during the build:
# make images BUILD_CA=/etc/ssl/certs/ca-certificates.crt
OTAKUSITE_TAG ?= latest
BUILD_CA ?=
IMAGE_BUILD = $(if $(shell command -v podman),podman build --format docker,docker build) \
	$(if $(BUILD_CA),--secret id=build_ca$(comma)src=$(BUILD_CA))
images:
	$(IMAGE_BUILD) --target web -t otakusite-web:$(OTAKUSITE_TAG) .
	$(IMAGE_BUILD) --target worker -t otakusite-worker:$(OTAKUSITE_TAG) .

clean:
	rm -rf $(VENV) var staticfiles .pytest_cache .ruff_cache .mypy_cache
