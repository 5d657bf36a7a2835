"""A lock held on the database server itself, for the few steps every node runs at start.

Each web container runs ``migrate`` and ``setup_schedules`` before it serves
(deploy/entrypoint.sh). With several web nodes started together those would race: two
``migrate`` create the same table (one fails), two ``setup_schedules`` on an empty table
both create a schedule, which then fires twice. On MySQL/MariaDB ``GET_LOCK`` makes them
take turns across every node; the server frees the lock when the holder's connection ends,
so a node killed while holding it blocks nobody. SQLite needs none: one file, one machine,
and its IMMEDIATE transactions (settings) already serialise writers.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connections

__all__ = ["DatabaseLockTimeoutError", "database_lock"]

log = logging.getLogger(__name__)

# One GET_LOCK call waits at most this long: below DB_READ_TIMEOUT (3 s by default), which
# would otherwise cut the wait as if the server had frozen.
_WAIT_STEP_SECONDS = 1
_MAX_NAME = 64  # MariaDB's limit on a lock name


class DatabaseLockTimeoutError(RuntimeError):
    """Another node held the lock longer than we were willing to wait."""


def lock_name(name: str, database: str) -> str:
    """Lock names are global to the server: the database's name keeps two sites (or two
    test databases) on one server from waiting for each other."""
    full = f"otakusite:{database}:{name}"
    if len(full) <= _MAX_NAME:
        return full
    return "otakusite:" + hashlib.sha256(full.encode()).hexdigest()[: _MAX_NAME - 10]


@contextmanager
def database_lock(name: str, *, using: str = "default", timeout: float = 900) -> Iterator[None]:
    """Hold the server-wide lock ``name`` (waiting up to ``timeout`` seconds for it)."""
    connection = connections[using]
    if connection.vendor != "mysql":
        yield
        return
    key = lock_name(name, str(connection.settings_dict["NAME"]))
    deadline = time.monotonic() + timeout
    waited = False
    while True:
        with connection.cursor() as cursor:
            cursor.execute("SELECT GET_LOCK(%s, %s)", [key, _WAIT_STEP_SECONDS])
            (got,) = cursor.fetchone()
        if got == 1:
            break
        if time.monotonic() >= deadline:
            raise DatabaseLockTimeoutError(
                f"{name}: another node held the lock for {timeout:.0f} s"
            )
        if not waited:
            log.info("%s: another node is doing it; waiting for it to finish", name)
            waited = True
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT RELEASE_LOCK(%s)", [key])
