#!/usr/bin/env bash
# `make run`: the django-q2 worker in the background, the site in the foreground.
# Ctrl-C (or SIGTERM) ends both, the worker's running crawl included, within seconds.
set -euo pipefail
host=${1:-127.0.0.1}
port=${2:-8000}
py=${PY:-.venv/bin/python}  # the Makefile passes its venv's
var=${OTAKUSITE_VAR_DIR:-var}
# Seconds the worker gets to stop cleanly (its crawl stops before its next page and marks
# its run interrupted) before what is left of it is killed.
grace=${RUN_STOP_GRACE:-7}
mkdir -p "$var"
if $py manage.py help setup_schedules >/dev/null 2>&1; then
  $py manage.py setup_schedules
fi

worker="" web=""
stop_all() {
  trap - INT TERM EXIT
  if [ -n "$web" ]; then kill -TERM "$web" 2>/dev/null || true; fi
  if [ -n "$worker" ]; then
    # qcluster (scraper's) turns SIGTERM into a stop request its workers see; django-q2
    # then stops its sentinel and workers. The group still alive after the grace period
    # (a worker stuck in a long request) is killed: nothing may crawl on after make run.
    kill -TERM "$worker" 2>/dev/null || true
    for _ in $(seq 1 $((grace * 10))); do
      kill -0 -- "-$worker" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL -- "-$worker" 2>/dev/null || true
  fi
  wait 2>/dev/null || true
}
trap 'stop_all; exit 130' INT
trap 'stop_all; exit 143' TERM
trap 'stop_all' EXIT

# The worker in a process group of its own (job control for this one command): Ctrl-C
# does not reach its processes directly, stop_all stops the whole group, however deep.
set -m
$py manage.py qcluster >>"$var/worker.log" 2>&1 &
worker=$!
set +m
if [ "${AUTO_FIRST_CRAWL:-0}" = "1" ] && $py manage.py help first_crawl >/dev/null 2>&1; then
  # Queues the first full crawl only when the catalogue is empty; the worker runs it.
  $py manage.py first_crawl
fi
echo "otakusite: http://$host:$port/  (admin: http://$host:$port/admin/, worker log: $var/worker.log)"
echo "API: http://$host:$port/api/v1/  (documentation: http://$host:$port/api/v1/docs/)"
# In the background so that a signal runs the traps at once (bash would wait for a
# foreground command first); `wait` returns when the site stops or a signal comes.
$py manage.py runserver "$host:$port" --noreload &
web=$!
wait "$web"
