"""Reads from a MariaDB replica (DATABASE_REPLICA_URL) without ever showing old data.

Where queries go (``ReplicaRouter`` + ``ReplicaReadsMiddleware``):

- Only a viewer's GET/HEAD request outside the admin may read from the replica. Writes,
  the admin, POSTs, management commands, django-q2 workers and shells use the primary for
  everything: they decide what to write from what they read, and a lagging replica would
  make them decide wrongly.
- Inside such a request, reads go to the primary as soon as the request has written
  (``db_for_write`` pins it) or while a transaction is open on the primary; a write
  request leaves a short-lived cookie with the primary's position, so the page it
  redirects to shows the viewer's own change (read your writes).
- Migrations run on the primary only; the replica gets them through replication.

Never old data under a new version. Cached pages are keyed on versions (an anime's,
the catalogue's: catalog/selectors.py) and kept until the version changes, so a page built
from a replica that has not yet applied the change it is keyed on would stay wrong until
the next change. Hence:

1. The version reads (``pagecache.until_change``) always run on the primary, and right
   after each one the primary's GTID position (``@@gtid_binlog_pos``) is read too: that
   position covers every commit the version saw. Both are kept together in the process's
   memo (catalog/nearcache.py) until the next announced change, so a cached page still
   costs no query.
2. The request then *requires* that position (``require``). The first replica read of the
   request asks the replica ``MASTER_GTID_WAIT(position, REPLICA_WAIT_SECONDS)``: it
   answers at once when the replica has applied it, else waits at most that long. Not
   reached in time (lag, stopped replication): the whole request reads from the primary,
   and for REPLICA_RETRY_SECONDS this process asks without waiting.
   A cache hit reads nothing from the database, so it pays nothing for this.

So a page cached under version V is always built from data at least as new as V: from
the primary, or from a replica proven to have applied V's commit.

Replica down (refused, frozen past its short timeouts, lost connection): the failing
request is answered again from the primary (a GET view is run a second time), and this
process then keeps away from the replica for REPLICA_RETRY_SECONDS before trying again,
so the next requests do not each pay a timeout.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.handlers.exception import response_for_exception
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.http import HttpRequest, HttpResponse

log = logging.getLogger(__name__)

PRIMARY = DEFAULT_DB_ALIAS
REPLICA = "replica"
# Carries the primary's position after a write to the viewer's next requests.
POSITION_COOKIE = "dbpos"
# A MariaDB GTID position: domain-server-sequence, comma-separated per domain.
_POSITION = re.compile(r"^\d{1,10}-\d{1,10}-\d{1,20}(,\d{1,10}-\d{1,10}-\d{1,20}){0,15}$")


@dataclass
class _Reads:
    """What one request may read from the replica."""

    allowed: bool  # a viewer's GET/HEAD outside the admin
    pinned: bool = False  # primary from now on: wrote, replica behind or failed
    wrote: bool = False
    required: str = ""  # the GTID position replica reads must have reached
    confirmed: str = ""  # the last position the replica confirmed in this request
    used_replica: bool = False


_reads: ContextVar[_Reads | None] = ContextVar("replica_reads", default=None)
_primary_only: ContextVar[bool] = ContextVar("replica_primary_only", default=False)


class _Breaker:
    """This process's memory of a failed replica: skip it until ``retry_at``; and of a
    lagging one: until ``lag_until`` nobody waits for it (it is asked without waiting)."""

    def __init__(self) -> None:
        self.retry_at = 0.0
        self.lag_until = 0.0
        self._lock = threading.Lock()

    def wait_seconds(self) -> float:
        return 0.0 if time.monotonic() < self.lag_until else settings.REPLICA_WAIT_SECONDS

    def lagging(self) -> None:
        self.lag_until = time.monotonic() + settings.REPLICA_RETRY_SECONDS

    def closed(self) -> bool:
        return time.monotonic() >= self.retry_at

    def trip(self, reason: object) -> None:
        with self._lock:
            first = self.closed()
            self.retry_at = time.monotonic() + settings.REPLICA_RETRY_SECONDS
        if first:
            log.warning(
                "replica unavailable (%s): reading from the primary for %s s",
                reason,
                settings.REPLICA_RETRY_SECONDS,
            )


BREAKER = _Breaker()


def configured() -> bool:
    """A replica alias that is a server of its own (under tests, TEST MIRROR points it at
    the default database: then there is nothing to route)."""
    if REPLICA not in settings.DATABASES:
        return False
    primary, replica = connections[PRIMARY].settings_dict, connections[REPLICA].settings_dict
    return any(primary.get(k) != replica.get(k) for k in ("ENGINE", "NAME", "HOST", "PORT"))


# --- Versions: read on the primary, with the position that covers them -----------------


@contextlib.contextmanager
def on_primary() -> Iterator[None]:
    """Every read inside the block goes to the primary."""
    token = _primary_only.set(True)
    try:
        yield
    finally:
        _primary_only.reset(token)


def read_on_primary[T](load: Callable[[], T]) -> tuple[T, str]:
    """``load()`` on the primary and the primary's GTID position read just after it (so it
    covers every commit ``load`` saw); "" without a replica to compare it with."""
    with on_primary():
        value = load()
        return value, (primary_position() if configured() else "")


def primary_position() -> str:
    """The primary's last binlogged GTID position (MariaDB); "" when it has none."""
    if connections[PRIMARY].vendor != "mysql":
        return ""
    with connections[PRIMARY].cursor() as cursor:
        cursor.execute("SELECT @@GLOBAL.gtid_binlog_pos")
        row = cursor.fetchone()
    return str(row[0] or "") if row else ""


def require(position: str) -> None:
    """Replica reads in this request must see at least ``position`` (a GTID position)."""
    reads = _reads.get()
    if reads is not None and position:
        reads.required = merge_positions(reads.required, position)


def parse_position(position: str) -> dict[int, int]:
    """``"0-1-42,1-2-7"`` as {domain: sequence}; server ids do not order anything."""
    parsed: dict[int, int] = {}
    for part in filter(None, position.split(",")):
        domain, _server, sequence = part.strip().split("-")
        parsed[int(domain)] = max(parsed.get(int(domain), 0), int(sequence))
    return parsed


def merge_positions(first: str, second: str) -> str:
    """The later of two positions, domain by domain (a server id from either)."""
    if not first or first == second:
        return second
    if not second:
        return first
    parts = {int(p.split("-")[0]): p for p in first.split(",")}
    for part in second.split(","):
        domain = int(part.split("-")[0])
        if domain not in parts or int(part.split("-")[2]) > int(parts[domain].split("-")[2]):
            parts[domain] = part
    return ",".join(parts[d] for d in sorted(parts))


def covers(position: str, required: str) -> bool:
    """Whether ``position`` includes everything of ``required``."""
    have = parse_position(position)
    return all(have.get(d, -1) >= seq for d, seq in parse_position(required).items())


def _replica_reached(reads: _Reads) -> bool:
    """Ask the replica to apply ``reads.required``, waiting at most REPLICA_WAIT_SECONDS."""
    if not reads.required or (reads.confirmed and covers(reads.confirmed, reads.required)):
        return True
    try:
        with connections[REPLICA].cursor() as cursor:
            cursor.execute(
                "SELECT MASTER_GTID_WAIT(%s, %s)", [reads.required, BREAKER.wait_seconds()]
            )
            row = cursor.fetchone()
    except DatabaseError as exc:
        _replica_failed(exc)
        return False
    if row is None or row[0] != 0:
        # Behind: the next requests ask without waiting until REPLICA_RETRY_SECONDS pass,
        # so a stopped replication costs each request one instant query, not a wait.
        BREAKER.lagging()
        log.info("replica behind %s: this request reads from the primary", reads.required)
        return False
    reads.confirmed = reads.required
    return True


def health() -> str:
    """For /healthz: "up" when the replica answers, "down" when it does not (reads then go
    to the primary: the site is degraded, not unavailable), "off" without a replica."""
    if not configured():
        return "off"
    if not BREAKER.closed():
        return "down"  # failed moments ago: no probe paying a timeout again
    try:
        with connections[REPLICA].cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as exc:
        _replica_failed(exc)
        return "down"
    return "up"


def _replica_failed(exc: BaseException) -> None:
    BREAKER.trip(exc)
    conn = connections[REPLICA]
    try:
        conn.close()
    except Exception:  # a dead connection may complain while closing; it is gone anyway
        conn.connection = None


# --- The router ------------------------------------------------------------------------


class ReplicaRouter:
    """settings.DATABASE_ROUTERS when DATABASE_REPLICA_URL is set (rules: module docstring)."""

    def db_for_read(self, model: type[Any], **hints: Any) -> str:
        reads = _reads.get()
        if (
            reads is None
            or not reads.allowed
            or reads.pinned
            or _primary_only.get()
            or connections[PRIMARY].in_atomic_block
            or not BREAKER.closed()
            or not configured()
        ):
            return PRIMARY
        if not _replica_reached(reads):
            reads.pinned = True
            return PRIMARY
        reads.used_replica = True
        return REPLICA

    def db_for_write(self, model: type[Any], **hints: Any) -> str:
        reads = _reads.get()
        if reads is not None:
            reads.pinned = reads.wrote = True
        return PRIMARY

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool:
        return True  # the same data on both

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool:
        return db == PRIMARY


# --- The middleware --------------------------------------------------------------------


class ReplicaReadsMiddleware:
    """Lets a viewer's GET/HEAD read from the replica, carries read-your-writes positions,
    and answers a request again from the primary when the replica failed under it.

    Last in MIDDLEWARE: its ``process_exception`` must see a replica failure before
    DegradedMiddleware takes it for a database outage."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not configured():
            return self.get_response(request)
        admin = request.path.startswith(settings.REPLICA_PRIMARY_PATHS)
        reads = _Reads(allowed=request.method in {"GET", "HEAD"} and not admin)
        own = request.COOKIES.get(POSITION_COOKIE, "")
        if _POSITION.match(own):
            reads.required = own  # the viewer's own recent write
        token = _reads.set(reads)
        try:
            response = self.get_response(request)
            if reads.wrote:
                self._remember_write(response)
            return response
        finally:
            _reads.reset(token)

    def _remember_write(self, response: HttpResponse) -> None:
        try:
            position = primary_position()
        except DatabaseError:
            return
        if _POSITION.match(position):
            response.set_cookie(
                POSITION_COOKIE,
                position,
                max_age=settings.REPLICA_READ_YOUR_WRITES_SECONDS,
                httponly=True,
                samesite="Lax",
                secure=settings.SESSION_COOKIE_SECURE,
            )

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        from otakusite import resilience

        reads = _reads.get()
        if (
            reads is None
            or not reads.used_replica
            or not resilience.database_unavailable(exception)
            or not connections[REPLICA].errors_occurred
        ):
            return None
        _replica_failed(exception)
        reads.pinned = True
        match = request.resolver_match
        if match is None:
            return None
        try:
            # A GET/HEAD view that wrote nothing (a write pins the request): safe to repeat.
            return match.func(request, *match.args, **match.kwargs)
        except Exception as again:
            if resilience.database_unavailable(again):
                return None  # the primary is failing too: DegradedMiddleware answers
            return response_for_exception(request, again)
