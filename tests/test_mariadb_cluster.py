"""The replication test helper itself (tests/mariadb_cluster.py): a write on the primary
reaches the replica, a paused replica does not see it until resumed, a killed replica comes
back and catches up, and the replica's account cannot write."""

from __future__ import annotations

import subprocess

import pytest

from tests.mariadb_cluster import ReplicatedMariaDB, mariadb_cluster  # noqa: F401

pytestmark = pytest.mark.operation


def _replica_rows(cluster: ReplicatedMariaDB, database: str) -> list[str]:
    return cluster.replica.sql("SELECT name FROM t ORDER BY id", database=database).split()


def test_writes_replicate_and_pausing_holds_them_back(
    mariadb_cluster: ReplicatedMariaDB,  # noqa: F811
) -> None:
    cluster = mariadb_cluster
    cluster.urls("helper_check")
    cluster.primary.sql(
        "CREATE TABLE t (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(20));"
        "INSERT INTO t (name) VALUES ('first')",
        database="helper_check",
    )
    cluster.wait_caught_up()
    assert _replica_rows(cluster, "helper_check") == ["first"]

    with cluster.paused():
        cluster.primary.sql("INSERT INTO t (name) VALUES ('second')", database="helper_check")
        # Received (IO thread) but not applied: the replica still shows the old rows.
        assert _replica_rows(cluster, "helper_check") == ["first"]
        assert cluster.replica_gtid() != cluster.primary_gtid()
    assert _replica_rows(cluster, "helper_check") == ["first", "second"]

    with cluster.replica_down():
        cluster.primary.sql("INSERT INTO t (name) VALUES ('third')", database="helper_check")
    assert _replica_rows(cluster, "helper_check") == ["first", "second", "third"]

    # The replica URL's account only reads (the server is read-only; SELECT-only grant too).
    _, replica_url = cluster.urls("helper_check")
    user_password = replica_url.split("//", 1)[1].split("@", 1)[0]
    user, password = user_password.split(":", 1)
    denied = subprocess.run(
        [
            "mariadb",
            "--protocol=tcp",
            "-h127.0.0.1",
            f"-P{cluster.replica.port}",
            f"-u{user}",
            f"-p{password}",
            "helper_check",
            "-e",
            "INSERT INTO t (name) VALUES ('nope')",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert denied.returncode != 0
    assert "read-only" in denied.stderr or "denied" in denied.stderr
    assert _replica_rows(cluster, "helper_check") == ["first", "second", "third"]
