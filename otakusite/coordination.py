"""Shared state on the coordination Redis, for every part of the site: where it lives, a
rate on Redis's clock, and how an outage is logged.

The scraper's request budget (scraper/budget.py), its cookie jar and the public API's rate
limit per client (otakusite/api_edge.py) all build on these. It lives here, not in the
scraper, because the catalogue may import nothing of the scraper (pyproject.toml,
import-linter). A rate is a "next free slot" time per key (GCRA): a request takes the next
slot unless it is more than a tolerance ahead, the rule of the budget's viewer lane; in
Redis by one Lua script on Redis's clock, else in this process. Django is only touched by
the Redis helpers.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Leases",
    "LocalSlots",
    "OutageWarner",
    "RedisSlots",
    "Reservation",
    "redis_configured",
    "redis_parts",
]

# Without a word from Redis an outage is logged at most this often.
_WARN_EVERY = 60.0


class OutageWarner:
    """Log a fallback to ``log`` at most once a minute: an outage must not flood the log."""

    def __init__(self, log: logging.Logger) -> None:
        self._log = log
        self._last = float("-inf")
        self._lock = threading.Lock()

    def __call__(self, message: str, *args: object) -> None:
        with self._lock:
            now = time.monotonic()
            if now - self._last < _WARN_EVERY:
                return
            self._last = now
        self._log.warning(message, *args)


def _alias() -> str:
    """The cache whose Redis holds shared state: "coordination" (the Redis that never
    evicts, beside django-q2's queue) when the settings define it, else "default"."""
    from django.conf import settings

    return "coordination" if "coordination" in settings.CACHES else "default"


def redis_configured() -> bool:
    """Whether shared state lives in Redis (the cache is django-redis)."""
    from django.conf import settings

    if not settings.configured:
        return False
    backend = str(settings.CACHES.get(_alias(), {}).get("BACKEND", ""))
    return backend.startswith("django_redis")


def redis_parts() -> tuple[Callable[[], Any], Callable[[str], str]]:
    """A connection factory for the coordination Redis and its cache's key function."""
    from django.core.cache import caches
    from django_redis import get_redis_connection

    alias = _alias()
    return (lambda: get_redis_connection(alias)), caches[alias].make_key


# --------------------------------------------------------------------------- slots


@dataclass(frozen=True)
class Reservation:
    """``granted``: ``count`` slots were taken (at least one, at most as many as asked),
    ``ahead`` seconds are now booked past the clock. Not granted: nothing was taken; a
    slot fits again in ``ahead`` seconds."""

    granted: bool
    ahead: float
    count: int = 1


class LocalSlots:
    """Slots of one process (the fallback without Redis, and ``make run``)."""

    # Keys unused this long are dropped when the table is swept (bounded memory).
    _SWEEP_EVERY = 10_000

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._next: dict[str, float] = {}

    def reserve(
        self, key: str, *, interval: float, tolerance: float, count: int = 1
    ) -> Reservation:
        with self._lock:
            now = self._clock()
            if len(self._next) > self._SWEEP_EVERY:
                self._next = {k: v for k, v in self._next.items() if v > now}
            slot = max(now, self._next.get(key, now))
            if slot - now > tolerance:
                return Reservation(False, slot - now - tolerance, 0)
            n = max(1, min(count, int((tolerance - (slot - now)) / interval) + 1))
            self._next[key] = slot + n * interval
            return Reservation(True, slot + n * interval - now, n)

    def reset(self) -> None:
        with self._lock:
            self._next.clear()


# KEYS: next free slot. ARGV: interval, tolerance, how many slots at most. Redis's clock,
# so every process agrees; the key expires once its slots are in the past. Results go back
# as strings (Lua numbers are truncated to integers when returned).
_RESERVE_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local slot = math.max(now, tonumber(redis.call('GET', KEYS[1]) or '0'))
local ahead = slot - now
if ahead > tolerance then
  return {0, tostring(ahead - tolerance)}
end
local n = math.max(1, math.min(tonumber(ARGV[3]), math.floor((tolerance - ahead) / interval) + 1))
local booked = ahead + n * interval
redis.call('SET', KEYS[1], tostring(slot + n * interval), 'PX', math.ceil(booked * 1000))
return {n, tostring(booked)}
"""


class RedisSlots:
    """Slots on the coordination Redis, shared by every process; this process's own
    :class:`LocalSlots` while Redis fails (a limit per process beats none)."""

    def __init__(
        self,
        connection: Callable[[], Any],
        *,
        key: Callable[[str], str],
        fallback: LocalSlots,
        log: logging.Logger,
    ) -> None:
        self._connection = connection
        self._key = key
        self._fallback = fallback
        self._scripts: dict[int, Any] = {}
        self._warn = OutageWarner(log)

    def reserve(
        self, key: str, *, interval: float, tolerance: float, count: int = 1
    ) -> Reservation:
        try:
            conn = self._connection()
            script = self._scripts.get(id(conn))
            if script is None:
                script = self._scripts[id(conn)] = conn.register_script(_RESERVE_LUA)
            granted, ahead = script(
                keys=[self._key(key)],
                args=[repr(interval), repr(tolerance), str(count)],
                client=conn,
            )
        except Exception as exc:  # redis errors, a frozen Redis's timeout...
            self._warn("slots: Redis unavailable (%s); counting in this process only", exc)
            return self._fallback.reserve(key, interval=interval, tolerance=tolerance, count=count)
        n = int(granted)
        return Reservation(n > 0, max(0.0, float(ahead)), n)


@dataclass
class _Lease:
    left: int  # slots booked on Redis, not spent yet
    batch: int  # how many the next booking asks for
    ahead: float  # what the store had booked past its clock, this process's slots included
    until: float  # when this process stops spending them (and forgets the key)
    refused: bool = False  # refused until `until`: nothing frees before then


class Leases:
    """Slots booked on the shared store a few at a time for a client that keeps asking,
    spent in this process without a round trip (a rate limit checked on every API request
    would otherwise cost each one a Redis call: bench/bench_site.py, "cached API").

    A client's first request books one slot; each batch used up within ``hold`` seconds
    doubles the next, up to ``max_batch``. Booked slots count against the client at once,
    so the limit is never exceeded; what a process books and the client never spends
    (at most ``max_batch - 1`` per process) only makes a busy client's limit that much
    stricter. A refusal is kept until a slot can fit again.
    """

    _SWEEP_EVERY = 10_000

    def __init__(
        self,
        slots: LocalSlots | RedisSlots,
        *,
        max_batch: int,
        hold: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._slots = slots
        self._max_batch = max(1, max_batch)
        self._hold = hold
        self._clock = clock
        self._lock = threading.Lock()
        self._leases: dict[str, _Lease] = {}

    def reserve(self, key: str, *, interval: float, tolerance: float) -> Reservation:
        now = self._clock()
        with self._lock:
            lease = self._leases.get(key)
            if lease is not None and now < lease.until:
                if lease.refused:
                    return Reservation(False, lease.until - now, 0)
                if lease.left > 0:
                    lease.left -= 1
                    # As the store would answer (refills since the booking not counted).
                    return Reservation(True, lease.ahead - lease.left * interval)
            # Used up in time: the client is busy, book more at once next.
            batch = 1 if lease is None or now >= lease.until else lease.batch
            if len(self._leases) > self._SWEEP_EVERY:
                self._leases = {k: v for k, v in self._leases.items() if v.until > now}
        got = self._slots.reserve(key, interval=interval, tolerance=tolerance, count=batch)
        with self._lock:
            if not got.granted:
                self._leases[key] = _Lease(0, 1, got.ahead, now + got.ahead, refused=True)
            else:
                grown = min(self._max_batch, 2 * batch)
                self._leases[key] = _Lease(got.count - 1, grown, got.ahead, now + self._hold)
        return got
