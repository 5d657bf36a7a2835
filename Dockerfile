# syntax=docker/dockerfile:1
# otakusite images. Targets:
#   web     (default) gunicorn + the site; static files collected at build time
#   worker  the same plus Debian's Chromium for the Cloudflare challenge solver (qcluster)
# Build: docker build -t otakusite .   /   docker build --target worker -t otakusite-worker .

ARG PYTHON_IMAGE=python:3.12-slim-bookworm
# The Makefile's UV_VERSION: both install from uv.lock with the same uv.
ARG UV_VERSION=0.13.9

# ---------------------------------------------------------------------------- builder
# Compilers and MariaDB client headers live only here: mysqlclient is built into a
# virtualenv that the runtime stages copy, without the toolchain.
FROM ${PYTHON_IMAGE} AS builder
ARG UV_VERSION
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    UV_NO_CACHE=1 UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/venv
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential pkg-config default-libmysqlclient-dev \
 && rm -rf /var/lib/apt/lists/*
# uv stays in the builder; the runtime stages copy only /opt/venv.
RUN pip install "uv==${UV_VERSION}" && python -m venv /opt/venv
WORKDIR /src
# The locked dependencies (hashes checked) with the mysql extra and without dev tools; the
# project itself is not installed: the runtime runs it from /app. Only the lock and
# pyproject.toml are copied, so this layer is cached across code changes.
COPY pyproject.toml uv.lock ./
RUN uv sync --locked --no-install-project --extra mysql

# ---------------------------------------------------------------------------- base
FROM ${PYTHON_IMAGE} AS base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH \
    STATIC_ROOT=/app/staticfiles \
    OTAKUSITE_VAR_DIR=/app/var \
    SCRAPER_COOKIE_PATH=/app/var/cookies.json
# libmariadb3: the runtime half of mysqlclient; tini: signals and zombies for PID 1.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libmariadb3 tini \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --home-dir /app --shell /usr/sbin/nologin app
COPY --from=builder /opt/venv /opt/venv
WORKDIR /app
COPY --chown=app:app . .
# collectstatic needs settings that load: a throwaway key, used for nothing else.
RUN SECRET_KEY=build-only-collectstatic DEBUG=0 ALLOWED_HOSTS=localhost \
    python manage.py collectstatic --noinput \
 && mkdir -p /app/var /srv/static \
 && chown -R app:app /app/var /app/staticfiles /srv/static
EXPOSE 8000
ENTRYPOINT ["/usr/bin/tini", "--", "/app/deploy/entrypoint.sh"]

# ---------------------------------------------------------------------------- worker
FROM base AS worker
# Debian's Chromium (never `playwright install`): the solver drives it via CHROMIUM_PATH.
# CJK fonts so pages with Japanese titles render like in a real browser.
RUN apt-get update \
 && apt-get install -y --no-install-recommends chromium fonts-noto-cjk \
 && rm -rf /var/lib/apt/lists/*
ENV CHROMIUM_PATH=/usr/bin/chromium
USER app
# The cluster's heartbeat in the broker (django-q2 status, 3 s expiry): a hung or dead
# qcluster turns the container unhealthy (if it exits, PID 1 exits and Compose restarts it).
HEALTHCHECK --interval=30s --timeout=20s --start-period=120s --retries=3 \
    CMD ["python", "/app/manage.py", "worker_health"]
CMD ["worker"]

# ---------------------------------------------------------------------------- web
FROM base AS web
USER app
# Liveness (/healthz/live), not readiness: see deploy/healthcheck.py.
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["python", "/app/deploy/healthcheck.py"]
CMD ["web"]
