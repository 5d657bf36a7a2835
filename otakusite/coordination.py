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
    """``granted``: a slot was taken, ``ahead`` seconds are now booked past the clock.
    Not granted: nothing was taken; a slot fits again in ``ahead`` seconds."""

    granted: bool
    ahead: float


class LocalSlots:
    """Slots of one process (the fallback without Redis, and ``make run``)."""

    # Keys unused this long are dropped when the table is swept (bounded memory).
    _SWEEP_EVERY = 10_000

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._next: dict[str, float] = {}

    def reserve(self, key: str, *, interval: float, tolerance: float) -> Reservation:
        with self._lock:
            now = self._clock()
            if len(self._next) > self._SWEEP_EVERY:
                self._next = {k: v for k, v in self._next.items() if v > now}
            slot = max(now, self._next.get(key, now))
            if slot - now > tolerance:
                return Reservation(False, slot - now - tolerance)
            self._next[key] = slot + interval
            return Reservation(True, slot + interval - now)

    def reset(self) -> None:
        with self._lock:
            self._next.clear()


# KEYS: next free slot. ARGV: interval, tolerance. Redis's clock, so every process agrees;
# the key expires once its slots are in the past. Results go back as strings (Lua numbers
# are truncated to integers when returned).
_RESERVE_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local interval = tonumber(ARGV[1])
local slot = math.max(now, tonumber(redis.call('GET', KEYS[1]) or '0'))
local ahead = slot - now
if ahead > tonumber(ARGV[2]) then
  return {0, tostring(ahead - tonumber(ARGV[2]))}
end
redis.call('SET', KEYS[1], tostring(slot + interval), 'PX', math.ceil((ahead + interval) * 1000))
return {1, tostring(ahead + interval)}
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

    def reserve(self, key: str, *, interval: float, tolerance: float) -> Reservation:
        try:
            conn = self._connection()
            script = self._scripts.get(id(conn))
            if script is None:
                script = self._scripts[id(conn)] = conn.register_script(_RESERVE_LUA)
            granted, ahead = script(
                keys=[self._key(key)], args=[repr(interval), repr(tolerance)], client=conn
            )
        except Exception as exc:  # redis errors, a frozen Redis's timeout...
            self._warn("slots: Redis unavailable (%s); counting in this process only", exc)
            return self._fallback.reserve(key, interval=interval, tolerance=tolerance)
        return Reservation(bool(int(granted)), max(0.0, float(ahead)))
