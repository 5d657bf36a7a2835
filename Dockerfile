# syntax=docker/dockerfile:1
# otakusite images. Targets:
#   web     (default) gunicorn + the site; static files collected at build time
#   worker  the same plus Debian's Chromium for the Cloudflare challenge solver (qcluster)
# Build: `docker build --target web -t otakusite-web .` (podman: add --format docker to keep
# the HEALTHCHECK; README.md, "Deployment"). Everything comes from Debian (Python 3.13,
# Chromium, MariaDB client) on debian:trixie-slim, so the image CI builds and tests
# (tests/test_containers.py) is the one operators build.
#
# Behind a TLS-inspecting proxy, give the builder that proxy's CA bundle as a build secret
# (used by pip and uv in one step, never stored in a layer):
#   podman build --secret id=build_ca,src=/etc/ssl/certs/ca-certificates.crt ...

ARG BASE_IMAGE=debian:trixie-slim
# The Makefile's UV_VERSION: both install from uv.lock with the same uv.
ARG UV_VERSION=0.13.9

# ---------------------------------------------------------------------------- builder
# Compilers and MariaDB client headers live only here: mysqlclient is built into a
# virtualenv that the runtime stages copy, without the toolchain.
FROM ${BASE_IMAGE} AS builder
ARG UV_VERSION
ENV DEBIAN_FRONTEND=noninteractive \
    PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    UV_NO_CACHE=1 UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/bin/python3 UV_PROJECT_ENVIRONMENT=/opt/venv
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates python3 python3-venv python3-dev \
      gcc libc6-dev pkg-config libmariadb-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# The locked dependencies (hashes checked) with the mysql extra and without dev tools; the
# project itself is not installed: the runtime runs it from /app. Only the lock and
# pyproject.toml are copied, so this layer is cached across code changes. uv itself is
# installed from PyPI into a throwaway venv and stays in this stage.
COPY pyproject.toml uv.lock ./
RUN --mount=type=secret,id=build_ca,target=/run/secrets/build_ca \
    if [ -s /run/secrets/build_ca ]; then \
      export SSL_CERT_FILE=/run/secrets/build_ca PIP_CERT=/run/secrets/build_ca; \
    fi \
 && python3 -m venv /opt/uv \
 && /opt/uv/bin/pip install --quiet "uv==${UV_VERSION}" \
 && /opt/uv/bin/uv sync --locked --no-install-project --extra mysql

# ---------------------------------------------------------------------------- runtime
# What both images run on, without the code: the code comes last (stage `code`), so a code
# change rebuilds neither this nor the worker's Chromium layer.
FROM ${BASE_IMAGE} AS runtime
ENV DEBIAN_FRONTEND=noninteractive \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH \
    STATIC_ROOT=/app/staticfiles \
    STATIC_PUBLISH_DIR=/srv/static \
    OTAKUSITE_VAR_DIR=/app/var \
    SCRAPER_COOKIE_PATH=/app/var/cookies.json
# python3: the interpreter the builder's venv was made with (same path, same version);
# libmariadb3: the runtime half of mysqlclient; mariadb-client: mariadb-dump and mariadb
# for the backup and restore commands; ca-certificates: Debian's public CAs (never the
# build secret); tini: signals and zombies for PID 1.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates python3 libmariadb3 mariadb-client tini \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --home-dir /home/app --create-home \
      --shell /usr/sbin/nologin app
COPY --from=builder /opt/venv /opt/venv
WORKDIR /app
EXPOSE 8000
ENTRYPOINT ["/usr/bin/tini", "--", "/app/deploy/entrypoint.sh"]

# ---------------------------------------------------------------------------- code
# The code belongs to root: the app user can read and run it, never change it. It writes
# only to /app/var (cookies, state; a volume), the published static files and /backups.
FROM runtime AS code
COPY . .
# collectstatic needs settings that load: a throwaway key, used for nothing else.
RUN SECRET_KEY=build-only-collectstatic DEBUG=0 ALLOWED_HOSTS=localhost \
    python manage.py collectstatic --noinput >/dev/null \
 && mkdir -p /app/var

# ---------------------------------------------------------------------------- worker
FROM runtime AS worker
# Debian's Chromium (never `playwright install`): the solver drives it via CHROMIUM_PATH.
# CJK fonts so pages with Japanese titles render like in a real browser.
RUN apt-get update \
 && apt-get install -y --no-install-recommends chromium fonts-noto-cjk \
 && rm -rf /var/lib/apt/lists/*
ENV CHROMIUM_PATH=/usr/bin/chromium
COPY --from=code /app /app
# /app/var/media exists owned by app so a new media volume mounted there is writable.
RUN mkdir -p /srv/static /backups /app/var/media \
 && chown app:app /app/var /app/var/media /srv/static /backups
USER app
# The cluster's heartbeat in the broker (django-q2 status, 3 s expiry): a hung or dead
# qcluster turns the container unhealthy (if it exits, PID 1 exits and Compose restarts it).
HEALTHCHECK --interval=30s --timeout=20s --start-period=120s --retries=3 \
    CMD ["python", "/app/manage.py", "worker_health"]
CMD ["worker"]

# ---------------------------------------------------------------------------- web
FROM runtime AS web
COPY --from=code /app /app
# /app/var/media exists owned by app so a new media volume mounted there is writable.
RUN mkdir -p /srv/static /backups /app/var/media \
 && chown app:app /app/var /app/var/media /srv/static /backups
USER app
# Liveness (/healthz/live), not readiness: see deploy/healthcheck.py.
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["python", "/app/deploy/healthcheck.py"]
CMD ["web"]
