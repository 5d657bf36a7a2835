#!/bin/sh
# The official redis image's entrypoint as far as docker-compose.yml relies on it:
# redis-server runs as the redis user with protected mode off (the official build's
# default), keeping its files in /data; any other command runs as is.
set -eu
if [ "${1#-}" != "$1" ]; then
  set -- redis-server "$@"
fi
[ "$1" = redis-server ] || exec "$@"
shift
chown redis:redis /data
exec setpriv --reuid=redis --regid=redis --init-groups \
  redis-server --protected-mode no --dir /data "$@"
