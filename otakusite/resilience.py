"""Bounded waits toward Redis and the database, so a frozen dependency costs seconds, not minutes.

Redis: every socket has a connect and a read timeout (settings: REDIS_CONNECT_TIMEOUT,
REDIS_TIMEOUT), and after one connection failure or timeout the pool fails every command
at once for REDIS_RETRY_SECONDS (a circuit breaker), instead of making each of the half
dozen cache calls of a request wait its own timeout. django-redis turns those failures into
cache misses (IGNORE_EXCEPTIONS), so pages are built from the database meanwhile. One
command after the pause finds out whether Redis is back; nothing needs a restart.

Database: mysqlclient's connect_timeout / read_timeout / write_timeout (settings.py); a
broken connection is closed at once (`close_broken_connections`) so the next request opens
a new one instead of waiting on, or pinging, the dead one.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from django.db import InterfaceError, OperationalError, connections
from redis import ConnectionPool
from redis.connection import Connection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger(__name__)

# Overridden from settings (REDIS_RETRY_SECONDS) by the pool's options; a module default
# keeps the class usable on its own.
DEFAULT_RETRY_SECONDS = 5.0


class RedisUnavailableError(RedisConnectionError):
    """Raised without touching the network while the breaker is open.

    A ConnectionError, so django-redis's IGNORE_EXCEPTIONS treats it as a miss, redis-py's
    retries (none on our pools) would see a connection failure, and the near cache's
    listener drops its subscription as it does for a real failure."""


class Breaker:
    """Per-pool state: "down until" a moment after the last failure; thread-safe enough
    (a float assignment), shared by every thread of the process using that pool."""

    def __init__(self, name: str, retry_seconds: float) -> None:
        self.name = name
        self.retry_seconds = retry_seconds
        self.down_until = 0.0
        self.failures = 0  # for tests and /healthz: how often this process saw it fail
        self._lock = threading.Lock()

    @property
    def is_open(self) -> bool:
        return time.monotonic() < self.down_until

    def check(self) -> None:
        if time.monotonic() < self.down_until:
            raise RedisUnavailableError(
                f"Redis {self.name} marked unreachable for {self.retry_seconds:g} s after a failure"
            )

    def trip(self, error: BaseException) -> None:
        if getattr(error, "_tripped", False):  # seen by an inner layer already (connect)
            return
        error._tripped = True  # type: ignore[attr-defined]
        with self._lock:
            was_down = self.down_until > 0.0
            self.down_until = time.monotonic() + self.retry_seconds
            self.failures += 1
        if not was_down:
            log.warning(
                "Redis %s unreachable (%s): cache calls answer 'miss' at once for %g s, then retry",
                self.name,
                error,
                self.retry_seconds,
            )

    def succeeded(self) -> None:
        if self.down_until:  # only the first success after an outage takes the lock
            with self._lock:
                if self.down_until:
                    self.down_until = 0.0
                    log.warning("Redis %s reachable again", self.name)


_FAILURES = (RedisConnectionError, RedisTimeoutError)


class _FailFast:
    """Mixed into a redis-py connection class: consult and feed the pool's breaker."""

    breaker: Breaker
    is_connected: bool  # redis-py's Connection property

    def connect(self) -> None:
        if not self.is_connected:
            self.breaker.check()
        try:
            super().connect()  # type: ignore[misc]
        except RedisUnavailableError:
            raise
        except _FAILURES as exc:
            self.breaker.trip(exc)
            raise

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        self.breaker.check()
        try:
            super().send_packed_command(command, check_health)  # type: ignore[misc]
        except RedisUnavailableError:
            raise
        except _FAILURES as exc:
            self.breaker.trip(exc)
            raise

    def read_response(self, *args: Any, **kwargs: Any) -> Any:
        try:
            response = super().read_response(*args, **kwargs)  # type: ignore[misc]
        except _FAILURES as exc:
            self.breaker.trip(exc)
            raise
        self.breaker.succeeded()
        return response


_classes: dict[tuple[type, int], type] = {}


def _fail_fast_class(base: type, breaker: Breaker) -> type:
    key = (base, id(breaker))
    if key not in _classes:
        _classes[key] = type(f"FailFast{base.__name__}", (_FailFast, base), {"breaker": breaker})
    return _classes[key]


class FailFastConnectionPool(ConnectionPool):
    """A redis-py pool whose connections share one breaker (django-redis
    CONNECTION_POOL_CLASS). Keeps the connection class the URL chose (TCP, TLS, unix)."""

    def __init__(
        self,
        connection_class: type = Connection,
        max_connections: int | None = None,
        *,
        retry_seconds: float = DEFAULT_RETRY_SECONDS,
        **connection_kwargs: Any,
    ) -> None:
        where = connection_kwargs.get("path") or (
            f"{connection_kwargs.get('host', 'localhost')}:{connection_kwargs.get('port', 6379)}"
        )
        self.breaker = Breaker(str(where), retry_seconds)
        super().__init__(
            connection_class=_fail_fast_class(connection_class, self.breaker),
            max_connections=max_connections,
            **connection_kwargs,
        )


# --- database ---------------------------------------------------------------------------


def database_unavailable(exc: BaseException) -> bool:
    """Whether `exc` means "the database cannot be reached" (down, frozen, restarting,
    connection lost), as opposed to a bug in a query (ProgrammingError, IntegrityError).
    SQLite reports a missing table or column (migrations not applied) as OperationalError
    too: that is a deployment bug to show, not an outage to paper over."""
    if not isinstance(exc, OperationalError | InterfaceError):
        return False
    return not str(exc).startswith(("no such table", "no such column"))


def close_broken_connections() -> None:
    """Drop this thread's database connections after a connection failure.

    Django would ping a connection that saw an error before reusing it, at the end of the
    request and again at the start of the next one: against a frozen server each ping waits
    the full read timeout. Closing it now costs nothing (the client just drops the socket)
    and the next query opens a fresh connection, so recovery needs no restart."""
    for conn in connections.all(initialized_only=True):
        try:
            conn.close()
        except Exception as exc:  # closing a dead connection may complain; it is gone anyway
            log.debug("closing a broken %s connection: %s", conn.alias, exc)
            conn.connection = None
