#!/usr/bin/env bash
# `make run`: the django-q2 worker in the background, the site in the foreground.
set -euo pipefail
host=${1:-127.0.0.1}
port=${2:-8000}
py=.venv/bin/python
var=${OTAKUSITE_VAR_DIR:-var}
mkdir -p "$var"
if $py manage.py help setup_schedules >/dev/null 2>&1; then
  $py manage.py setup_schedules
fi
$py manage.py qcluster >>"$var/worker.log" 2>&1 &
worker=$!
trap 'kill "$worker" 2>/dev/null || true' EXIT INT TERM
if [ "${AUTO_FIRST_CRAWL:-0}" = "1" ] && $py manage.py help first_crawl >/dev/null 2>&1; then
  # Queues the first full crawl only when the catalogue is empty; the worker runs it.
  $py manage.py first_crawl
fi
echo "otakusite: http://$host:$port/  (admin: http://$host:$port/admin/, worker log: $var/worker.log)"
$py manage.py runserver "$host:$port" --noreload
