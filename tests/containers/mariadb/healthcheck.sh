#!/bin/sh
# The official image's healthcheck.sh for the two tests docker-compose.yml uses:
#   --connect             the server accepts a TCP connection (it is listening)
#   --innodb_initialized  InnoDB has started
#   --replication_io      the replica's IO thread runs (connected to its primary)
#   --replication_sql     the replica's SQL thread runs (applying what it received)
# (the last two need MARIADB_HEALTHCHECK_GRANTS=REPLICA MONITOR, as with the official one)
# with the health-check user the first start wrote into the data directory.
set -eu
query() {
  mariadb --defaults-extra-file=/var/lib/mysql/.my-healthcheck.cnf --protocol=tcp \
    -h127.0.0.1 -N -B -e "$1"
}
for test in "$@"; do
  case "$test" in
    --connect) query 'SELECT 1' >/dev/null ;;
    --innodb_initialized)
      [ "$(query "SELECT 1 FROM information_schema.ENGINES WHERE engine = 'InnoDB' AND support IN ('YES', 'DEFAULT', 'ENABLED')")" = 1 ]
      ;;
    --replication_io | --replication_sql)
      thread=$(echo "${test#--replication_}" | tr a-z A-Z)
      mariadb --defaults-extra-file=/var/lib/mysql/.my-healthcheck.cnf --protocol=tcp \
        -h127.0.0.1 -e 'SHOW REPLICA STATUS\G' | grep -Eq "(Slave|Replica)_${thread}_Running: Yes"
      ;;
    *) echo "healthcheck.sh (stand-in): unsupported test $test" >&2; exit 2 ;;
  esac
done
