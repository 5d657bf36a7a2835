#!/usr/bin/env bash
# `make demo`: fill the site offline from the project's own fake origin, then serve it.
# The fake origin keeps running beside the site so mirror switching and the scheduled
# updates have an origin to talk to.
set -euo pipefail
host=${1:-127.0.0.1}
port=${2:-8000}
origin_port=${DEMO_ORIGIN_PORT:-8001}
size=${DEMO_SIZE:-300}
py=${PY:-.venv/bin/python}  # the Makefile passes its venv's
var=${OTAKUSITE_VAR_DIR:-var}
mkdir -p "$var"

$py -m tests.fake_origin --port "$origin_port" --size "$size" >"$var/fake-origin.log" 2>&1 &
origin_pid=$!
# On Ctrl-C or SIGTERM stop the origin and end here (a trap that does not exit would let
# the script go on to the next command, e.g. start the site without its origin).
stop_origin() { kill "$origin_pid" 2>/dev/null || true; wait "$origin_pid" 2>/dev/null || true; }
trap 'stop_origin' EXIT
trap 'stop_origin; exit 130' INT
trap 'stop_origin; exit 143' TERM
base="http://127.0.0.1:$origin_port"
for _ in $(seq 1 100); do
  if $py -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=1)" "$base/" 2>/dev/null; then
    break
  fi
  kill -0 "$origin_pid" 2>/dev/null || { cat "$var/fake-origin.log"; exit 1; }
  sleep 0.2
done

# The fake origin's embeds are served by the fake origin itself (localhost:PORT): the only
# embed host of the demo, allowed by policy like the real ones are in production.
export EMBED_HOSTS_ALLOWED="${EMBED_HOSTS_ALLOWED:-localhost:$origin_port}"
export OTAKUDESU_BASE_URL="$base" SCRAPER_RATE_LIMIT=0 AUTO_FIRST_CRAWL=0
echo "demo: crawling the fake origin at $base ($size anime)..."
# Exit status 2 is a finished crawl with some pages missing (retried by later updates):
# the demo still serves what it has.
status=0
$py manage.py scrape full --max-age 1h || status=$?
[ "$status" -eq 0 ] || [ "$status" -eq 2 ] || exit "$status"
# Posters copied to our domain (the worker does this after each crawl in production).
$py manage.py fetch_posters
scripts/run-dev.sh "$host" "$port"
