"""A private MariaDB primary and replica with real GTID replication, for tests.

Both servers run from Debian's ``mariadbd`` in the test's temporary folder on free ports of
127.0.0.1 (tests/procs.py starts each one); the replica follows the primary with
``CHANGE MASTER TO ... MASTER_USE_GTID=slave_pos`` as a production replica would, so a
test sees real replication lag, a real stopped SQL thread and a real dead replica.

    with replicated_mariadb(tmp_path) as cluster:          # or the fixture below
        primary_url, replica_url = cluster.urls("site")    # database created on the primary
        ...                                                # and seen on the replica
        with cluster.paused():                             # SQL thread stopped: the
            ...                                            # replica falls behind
        cluster.wait_caught_up()                           # replica applied all
        cluster.kill_replica(); cluster.start_replica()    # SIGKILL it; start it again

``mariadb_cluster`` is a session-scoped pytest fixture (import it into a test module):
starting two servers and loading the time zone tables costs tens of seconds on a busy
machine, so tests share one pair and each uses its own database. A test that pauses,
stops or kills the replica must leave it running and caught up (``paused()`` and
``replica_down()`` do). Every wait polls with tests/procs.py's generous deadline; none is
a fixed sleep. Skips with the reason when the MariaDB server is not installed.

The replica URL logs in as ``reader``, a user with only SELECT: a write that a router
wrongly sent to the replica fails loudly instead of silently breaking replication.
"""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.procs import START_DEADLINE, MariaDB, start_mariadb, wait_until

# Replication account (on the primary) and the replica's read-only account; both created
# on the primary, so they reach the replica through replication like everything else.
REPL_USER = "repl"
REPL_PASSWORD = "repl-secret"
READER_USER = "reader"
READER_PASSWORD = "reader-secret"

PRIMARY_ARGS = (
    "--server-id=1",
    "--log-bin=primary-bin",
    "--binlog-format=ROW",
    "--gtid-strict-mode=1",
)
REPLICA_ARGS = (
    "--server-id=2",
    "--relay-log=replica-relay",
    "--log-bin=replica-bin",
    "--log-slave-updates=1",
    "--binlog-format=ROW",
    "--gtid-strict-mode=1",
    # Nobody but replication (and root) writes here.
    "--read-only=1",
)


class ReplicationError(AssertionError):
    """The replica stopped on an error (Last_SQL_Error / Last_IO_Error)."""


@dataclass
class ReplicatedMariaDB:
    primary: MariaDB
    replica: MariaDB

    # ------------------------------------------------------------------ URLs

    def urls(self, database: str = "otakusite") -> tuple[str, str]:
        """(DATABASE_URL, DATABASE_REPLICA_URL) for ``database``: created on the primary
        (root) and waited for on the replica (read-only ``reader``)."""
        primary_url = self.primary.url(database)
        self.wait_caught_up()
        return primary_url, self.replica_url(database)

    def replica_url(self, database: str = "otakusite") -> str:
        return f"mysql://{READER_USER}:{READER_PASSWORD}@127.0.0.1:{self.replica.port}/{database}"

    # ------------------------------------------------------------------ positions

    def primary_gtid(self) -> str:
        """The primary's last written GTID position (``@@gtid_binlog_pos``)."""
        return self.primary.sql("SELECT @@GLOBAL.gtid_binlog_pos").strip()

    def replica_gtid(self) -> str:
        """What the replica has applied (``@@gtid_slave_pos``)."""
        return self.replica.sql("SELECT @@GLOBAL.gtid_slave_pos").strip()

    def status(self) -> dict[str, str]:
        """``SHOW SLAVE STATUS`` of the replica as a dict (empty when not configured)."""
        out = subprocess.run(
            [*_client(self.replica), "-e", "SHOW SLAVE STATUS\\G"],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout
        status: dict[str, str] = {}
        for line in out.splitlines():
            key, sep, value = line.strip().partition(":")
            if sep and not key.startswith("*"):
                status[key.strip()] = value.strip()
        return status

    def wait_caught_up(self, *, deadline: float = START_DEADLINE) -> None:
        """Block until the replica applied everything the primary has written so far
        (MASTER_GTID_WAIT on the replica in short rounds, so a replication error fails at
        once instead of at the deadline)."""
        target = self.primary_gtid()
        if not target:
            return

        end = time.monotonic() + deadline
        while time.monotonic() < end:
            if self.replica.sql(f"SELECT MASTER_GTID_WAIT('{target}', 5)").strip() == "0":
                return
            self._fail_on_error()
        raise AssertionError(
            f"replica did not reach {target} within {deadline:.0f} s "
            f"(at {self.replica_gtid()!r}; status {self.status()})"
        )

    def _fail_on_error(self) -> None:
        status = self.status()
        if status.get("Last_SQL_Error") or status.get("Last_IO_Error"):
            raise ReplicationError(f"replication error: {status}")

    # ------------------------------------------------------------------ lag on demand

    def pause_replication(self) -> None:
        """Stop the replica's SQL thread: it keeps receiving the primary's binlog (IO thread)
        but applies nothing, so it lags behind until ``resume_replication``."""
        self.replica.sql("STOP SLAVE SQL_THREAD")
        wait_until(
            lambda: self.status().get("Slave_SQL_Running") == "No", "replica SQL thread stop"
        )

    def resume_replication(self) -> None:
        self.replica.sql("START SLAVE SQL_THREAD")
        self.wait_running()

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Replication paused inside the block; resumed and caught up after it."""
        self.pause_replication()
        try:
            yield
        finally:
            self.resume_replication()
            self.wait_caught_up()

    def wait_running(self) -> None:
        """Both replication threads running (the IO thread connected to the primary)."""

        end = time.monotonic() + START_DEADLINE
        while time.monotonic() < end:
            if self.replica.process.poll() is not None:
                raise AssertionError(f"replica exited: {self.replica.log_text()[-3000:]}")
            self._fail_on_error()
            status = self.status()
            if status.get("Slave_IO_Running") == "Yes" and status.get("Slave_SQL_Running") == "Yes":
                return
            time.sleep(0.1)  # the polling interval
        raise AssertionError(f"replication not running: {self.status()}")

    def replica_local_sql(self, statement: str) -> str:
        """Run ``statement`` on the replica as root without binlogging it there: a local
        write (say, truncating its general log) would otherwise get a GTID of the replica's
        own server id, and gtid strict mode would stop replication at the primary's next
        event."""
        return self.replica.sql(f"SET SESSION sql_log_bin = 0; {statement}")

    # ------------------------------------------------------------------ replica outages

    def stop_replica(self) -> None:
        """A clean shutdown of the replica server (SIGTERM)."""
        self.replica.stop()

    def kill_replica(self) -> None:
        """SIGKILL the replica server, as the OOM killer or a lost machine would."""
        self.replica.kill()

    def freeze_replica(self) -> None:
        """SIGSTOP: the port still accepts connections but nothing answers (a hung host)."""
        self.replica.freeze()

    def thaw_replica(self) -> None:
        self.replica.thaw()

    def start_replica(self) -> None:
        """Start the replica again (same port, same data) after a stop or kill; it resumes
        replication by itself from its saved GTID position and catches up."""
        self.replica.restart()
        self.wait_running()
        self.wait_caught_up()

    @contextlib.contextmanager
    def replica_down(self, *, kill: bool = True) -> Iterator[None]:
        """The replica killed (or stopped) inside the block; back and caught up after it."""
        if kill:
            self.kill_replica()
        else:
            self.stop_replica()
        try:
            yield
        finally:
            self.start_replica()

    # ------------------------------------------------------------------ end

    def close(self) -> None:
        for server in (self.replica, self.primary):
            with contextlib.suppress(Exception):
                server.stop()


def _client(server: MariaDB) -> list[str]:
    from tests.procs import MARIADB_CLIENT

    return [
        MARIADB_CLIENT or "mariadb",
        "--protocol=tcp",
        "-h127.0.0.1",
        f"-P{server.port}",
        "-uroot",
    ]


def start_replicated_mariadb(tmp_path: Path) -> ReplicatedMariaDB:
    """Start a primary and a replica following it; returns once the replica applied all
    the primary wrote (the accounts and the time zone tables included)."""
    primary = start_mariadb(tmp_path / "primary", extra_args=PRIMARY_ARGS)
    try:
        # Loaded on the primary with the binlog on, the time zone tables (Django's date
        # functions with USE_TZ need them) replicate; the replica loads nothing itself.
        replica = start_mariadb(tmp_path / "replica", extra_args=REPLICA_ARGS, timezones=False)
    except BaseException:
        primary.stop()
        raise
    cluster = ReplicatedMariaDB(primary, replica)
    try:
        primary.sql(
            f"CREATE USER '{REPL_USER}'@'%' IDENTIFIED BY '{REPL_PASSWORD}';"
            f"GRANT REPLICATION SLAVE ON *.* TO '{REPL_USER}'@'%';"
            f"CREATE USER '{READER_USER}'@'%' IDENTIFIED BY '{READER_PASSWORD}';"
            f"GRANT SELECT ON *.* TO '{READER_USER}'@'%';"
        )
        # An empty gtid_slave_pos: the replica reads the primary's binlog from its start,
        # which holds everything since the server was created (install-db writes none).
        replica.sql(
            "SET GLOBAL gtid_slave_pos = '';"
            f"CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT={primary.port}, "
            f"MASTER_USER='{REPL_USER}', MASTER_PASSWORD='{REPL_PASSWORD}', "
            "MASTER_CONNECT_RETRY=1, MASTER_USE_GTID=slave_pos;"
            "START SLAVE;"
        )
        cluster.wait_running()
        cluster.wait_caught_up()
    except BaseException:
        cluster.close()
        raise
    return cluster


@contextlib.contextmanager
def replicated_mariadb(tmp_path: Path) -> Iterator[ReplicatedMariaDB]:
    cluster = start_replicated_mariadb(tmp_path)
    try:
        yield cluster
    finally:
        cluster.close()


@pytest.fixture(scope="session")
def mariadb_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReplicatedMariaDB]:
    """One primary + replica pair for the session (see the module docstring)."""
    with replicated_mariadb(tmp_path_factory.mktemp("mariadb-cluster")) as cluster:
        yield cluster
