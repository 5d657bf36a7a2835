#!/bin/sh
# Entrypoint of the otakusite image.
#   web     migrate, setup_schedules, publish static files, (first crawl), then gunicorn
#   worker  the django-q2 cluster (qcluster) that runs crawls and schedules
#   *       anything else runs as is (e.g. `docker compose run web python manage.py shell`)
set -eu

# The example file's placeholder must never reach production.
case "${SECRET_KEY:-}" in
  change-me*)
    echo "entrypoint: SECRET_KEY is still the placeholder from .env.example; set a random one" >&2
    exit 1
    ;;
esac

wait_for_db() {
  # Compose waits for the db healthcheck already; this also covers a db restarted meanwhile.
  tries=0
  until python manage.py shell -c "from django.db import connection; connection.ensure_connection()" >/dev/null 2>&1; do
    tries=$((tries + 1))
    if [ "$tries" -ge 60 ]; then
      echo "entrypoint: database not reachable after 60 attempts" >&2
      exit 1
    fi
    echo "entrypoint: waiting for the database ($tries)..."
    sleep 2
  done
}

case "${1:-web}" in
  web)
    wait_for_db
    # A migration may rewrite a big table: one statement can take longer than the short
    # DB_READ_TIMEOUT that keeps requests from hanging on a frozen database.
    DB_READ_TIMEOUT=3600 DB_WRITE_TIMEOUT=3600 python manage.py migrate --noinput
    python manage.py setup_schedules
    # Static files were collected at build time; copy them into the volume nginx serves.
    # Old hashed files stay, so pages cached by browsers during a deploy keep working.
    if [ -d "${STATIC_PUBLISH_DIR:-/srv/static}" ]; then
      cp -a "$STATIC_ROOT/." "${STATIC_PUBLISH_DIR:-/srv/static}/"
    fi
    if [ "${AUTO_FIRST_CRAWL:-0}" = "1" ]; then
      python manage.py first_crawl
    fi
    exec gunicorn --config deploy/gunicorn.conf.py otakusite.wsgi
    ;;
  worker)
    wait_for_db
    # The web container migrates; a worker started early waits for it instead of racing.
    tries=0
    until python manage.py migrate --check >/dev/null 2>&1; do
      tries=$((tries + 1))
      if [ "$tries" -ge 90 ]; then
        echo "entrypoint: migrations still not applied; is the web container running?" >&2
        exit 1
      fi
      echo "entrypoint: waiting for migrations ($tries)..."
      sleep 2
    done
    exec python manage.py qcluster
    ;;
  *)
    exec "$@"
    ;;
esac
