#!/bin/sh
# The official mariadb image's entrypoint as far as docker-compose.yml relies on it: an
# empty data directory gets the database, its user and the root password from MARIADB_*
# (plus the time zone tables and the health-check user), then mariadbd runs as mysql.
# Replication as the official one does it: MARIADB_REPLICATION_USER/PASSWORD without
# MARIADB_MASTER_HOST create the replication account (a primary); with MARIADB_MASTER_HOST
# the first start points the server at that primary (CHANGE MASTER TO ... with GTIDs from
# the start of its binary log) and starts the replica threads. Like the official one, the
# system users and time zones stay out of the binary log (a replica has its own), while the
# database, its user and the replication account are logged, so a replica gets them.
set -eu
datadir=/var/lib/mysql
if [ $# -eq 0 ] || [ "${1#-}" != "$1" ]; then
  set -- mariadbd "$@"
fi
[ "$1" = mariadbd ] || exec "$@"

sql_string() { printf "'%s'" "$(printf %s "$1" | sed "s/'/''/g; s/\\\\/\\\\\\\\/g")"; }

initialise() {
  : "${MARIADB_ROOT_PASSWORD:?stand-in: set MARIADB_ROOT_PASSWORD}"
  mariadb-install-db --user=mysql --datadir="$datadir" --skip-test-db \
    --auth-root-authentication-method=socket >/dev/null
  "$@" --user=mysql --skip-networking --socket=/run/mysqld/init.sock &
  pid=$!
  until mariadb -S /run/mysqld/init.sock -uroot -e 'SELECT 1' >/dev/null 2>&1; do
    kill -0 "$pid" 2>/dev/null || { echo "stand-in: mariadbd died during init" >&2; exit 1; }
    sleep 0.2
  done
  mariadb-tzinfo-to-sql --skip-write-binlog /usr/share/zoneinfo 2>/dev/null \
    | mariadb -S /run/mysqld/init.sock -uroot mysql
  check_password=$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')
  root=$(sql_string "$MARIADB_ROOT_PASSWORD")
  {
    echo "SET @@SESSION.SQL_LOG_BIN=0;"
    echo "ALTER USER root@localhost IDENTIFIED VIA unix_socket OR mysql_native_password USING PASSWORD($root);"
    echo "CREATE USER root@'%' IDENTIFIED BY $root; GRANT ALL ON *.* TO root@'%' WITH GRANT OPTION;"
    for host in localhost 127.0.0.1 ::1; do
      echo "CREATE USER healthcheck@'$host' IDENTIFIED BY '$check_password';"
      echo "GRANT ${MARIADB_HEALTHCHECK_GRANTS:-USAGE} ON *.* TO healthcheck@'$host';"
    done
    echo "SET @@SESSION.SQL_LOG_BIN=1;"
    if [ -n "${MARIADB_DATABASE:-}" ]; then
      echo "CREATE DATABASE IF NOT EXISTS \`$MARIADB_DATABASE\`;"
    fi
    if [ -n "${MARIADB_USER:-}" ]; then
      echo "CREATE USER '$MARIADB_USER'@'%' IDENTIFIED BY $(sql_string "${MARIADB_PASSWORD:-}");"
      [ -z "${MARIADB_DATABASE:-}" ] || echo "GRANT ALL ON \`$MARIADB_DATABASE\`.* TO '$MARIADB_USER'@'%';"
    fi
    if [ -n "${MARIADB_REPLICATION_USER:-}" ] && [ -z "${MARIADB_MASTER_HOST:-}" ]; then
      echo "CREATE USER '$MARIADB_REPLICATION_USER'@'%' IDENTIFIED BY $(sql_string "${MARIADB_REPLICATION_PASSWORD:?stand-in: set MARIADB_REPLICATION_PASSWORD}");"
      echo "GRANT REPLICATION REPLICA ON *.* TO '$MARIADB_REPLICATION_USER'@'%';"
    fi
    echo "FLUSH PRIVILEGES;"
    if [ -n "${MARIADB_MASTER_HOST:-}" ]; then
      : "${MARIADB_REPLICATION_USER:?stand-in: a replica needs MARIADB_REPLICATION_USER}"
      echo "CHANGE MASTER TO MASTER_HOST=$(sql_string "$MARIADB_MASTER_HOST"),"
      echo "  MASTER_PORT=${MARIADB_MASTER_PORT:-3306},"
      echo "  MASTER_USER=$(sql_string "$MARIADB_REPLICATION_USER"),"
      echo "  MASTER_PASSWORD=$(sql_string "${MARIADB_REPLICATION_PASSWORD:-}"),"
      echo "  MASTER_CONNECT_RETRY=10, MASTER_USE_GTID=slave_pos;"
      echo "START REPLICA;"
    fi
  } | mariadb -S /run/mysqld/init.sock -uroot
  printf '[mariadb-client]\nport=3306\nsocket=/run/mysqld/mysqld.sock\nuser=healthcheck\npassword=%s\n' \
    "$check_password" >"$datadir/.my-healthcheck.cnf"
  chown mysql:mysql "$datadir/.my-healthcheck.cnf"
  chmod 600 "$datadir/.my-healthcheck.cnf"
  mariadb-admin -S /run/mysqld/init.sock -uroot shutdown
  wait "$pid"
  echo "stand-in: database initialised"
}

mkdir -p /run/mysqld
chown mysql:mysql /run/mysqld "$datadir"
[ -d "$datadir/mysql" ] || initialise "$@"
exec "$@" --user=mysql
