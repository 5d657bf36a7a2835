"""One request budget per remote host, shared by every process that talks to the origin:
web processes resolving mirrors and the worker crawling must together stay within
``SCRAPER_RATE_LIMIT``, not each on its own.

A host has one "next free slot" time (GCRA); every attempt, retries included, takes a
slot, in Redis by one Lua script on Redis's clock (``REDIS_URL``), else in this process.
Two lanes: ``viewer`` reserves the next slot unless it is more than ``max_wait`` away (then
the view answers 503 at once); ``crawl`` only takes a slot free *now* and, while viewers
were seen lately, leaves them ``viewer_share`` of the budget, so viewers go first. Right
before sending, a client also claims the send (:meth:`Budget.claim`), so late threads do
not send back to back; a 429 Retry-After pushes the host's slots back for everybody.
Django is only touched by :func:`shared_budget` and the Redis helpers.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

# Generic, shared with the API's rate limit (the catalogue may not import the scraper).
from otakusite.coordination import OutageWarner, redis_configured, redis_parts

__all__ = [
    "VIEWER_ACTIVE_SECONDS",
    "Budget",
    "Grant",
    "Lane",
    "LocalBudget",
    "OutageWarner",
    "RedisBudget",
    "booked_ahead",
    "redis_configured",
    "redis_parts",
    "shared_budget",
]

logger = logging.getLogger("scraper.budget")

# A viewer seen this recently makes the crawl keep its share of the budget free.
VIEWER_ACTIVE_SECONDS = 30.0
DEFAULT_VIEWER_SHARE = 0.5


class Lane(StrEnum):
    VIEWER = "viewer"
    CRAWL = "crawl"


@dataclass(frozen=True)
class Grant:
    """The budget's answer. ``granted``: the slot is ours, send after sleeping ``wait``
    seconds. Not granted: nothing was reserved; ask again in ``wait`` seconds."""

    granted: bool
    wait: float


class Budget(Protocol):
    def take(
        self, host: str, *, interval: float, lane: Lane, max_wait: float | None = None
    ) -> Grant: ...

    def penalize(self, host: str, seconds: float) -> None: ...

    def claim(self, host: str, *, interval: float) -> float: ...


# --------------------------------------------------------------------------- in-process


@dataclass
class _HostSlots:
    next_free: float = float("-inf")  # the theoretical arrival time of the next request
    last_sent: float = float("-inf")  # when the last request was actually let go
    crawl_next: float = float("-inf")  # the crawl's own spacing while viewers are around
    viewer_seen: float = float("-inf")


class LocalBudget:
    """The budget of one process: all its threads and clients share the slots of a host.
    The clock is injectable for tests (the caller sleeps, not the budget)."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        viewer_share: float = DEFAULT_VIEWER_SHARE,
    ) -> None:
        self._clock = clock
        self.viewer_share = viewer_share
        self._lock = threading.Lock()
        self._hosts: dict[str, _HostSlots] = {}

    def take(
        self, host: str, *, interval: float, lane: Lane, max_wait: float | None = None
    ) -> Grant:
        with self._lock:
            now = self._clock()
            slots = self._hosts.setdefault(host, _HostSlots())
            return _decide(slots, now, interval, lane, max_wait, self.viewer_share)

    def penalize(self, host: str, seconds: float) -> None:
        with self._lock:
            slots = self._hosts.setdefault(host, _HostSlots())
            slots.next_free = max(slots.next_free, self._clock() + seconds)

    def claim(self, host: str, *, interval: float) -> float:
        with self._lock:
            now = self._clock()
            slots = self._hosts.setdefault(host, _HostSlots())
            wait = slots.last_sent + interval - now
            if wait > 0:
                return wait
            slots.last_sent = now
            return 0.0

    def reset(self) -> None:
        with self._lock:
            self._hosts.clear()


def _decide(  # noqa: PLR0917 -- a private rule with one caller
    slots: _HostSlots,
    now: float,
    interval: float,
    lane: Lane,
    max_wait: float | None,
    share: float,
) -> Grant:
    """The budget's rule (the Lua script below is the same rule on Redis)."""
    if lane == Lane.VIEWER:
        slot = max(now, slots.next_free)
        wait = slot - now
        if max_wait is not None and wait > max_wait:
            return Grant(False, wait)
        slots.next_free = slot + interval
        slots.viewer_seen = now
        return Grant(True, wait)
    free = slots.next_free
    if now - slots.viewer_seen < VIEWER_ACTIVE_SECONDS:
        free = max(free, slots.crawl_next)
    if free > now:
        return Grant(False, free - now)
    slots.next_free = now + interval
    slots.crawl_next = now + interval / max(0.05, 1.0 - share)
    return Grant(True, 0.0)


# This process's budget (the fallback when Redis is not configured or unreachable).
_local = LocalBudget()


# --------------------------------------------------------------------------- Redis

# KEYS: next_free, crawl_next, viewer_seen. ARGV: lane, interval, max_wait (-1: none),
# share, active window. Times are Redis's clock in seconds (float strings: Lua numbers are
# truncated to integers when returned, so results go back as strings).
_TAKE_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local interval = tonumber(ARGV[2])
local max_wait = tonumber(ARGV[3])
local next_free = tonumber(redis.call('GET', KEYS[1]) or '0')
local keep_ms = math.floor((interval + 60) * 1000)
if ARGV[1] == 'viewer' then
  local slot = math.max(now, next_free)
  local wait = slot - now
  if max_wait >= 0 and wait > max_wait then
    return {0, tostring(wait)}
  end
  local keep = math.floor((wait + interval + 60) * 1000)
  redis.call('SET', KEYS[1], tostring(slot + interval), 'PX', keep)
  redis.call('SET', KEYS[3], tostring(now), 'PX', math.floor(tonumber(ARGV[5]) * 1000))
  return {1, tostring(wait)}
end
local free = next_free
if redis.call('EXISTS', KEYS[3]) == 1 then
  free = math.max(free, tonumber(redis.call('GET', KEYS[2]) or '0'))
end
if free > now then
  return {0, tostring(free - now)}
end
local share = tonumber(ARGV[4])
local own = interval / math.max(0.05, 1 - share)
redis.call('SET', KEYS[1], tostring(now + interval), 'PX', keep_ms)
redis.call('SET', KEYS[2], tostring(now + own), 'PX', math.floor((own + 60) * 1000))
return {1, '0'}
"""

_PENALIZE_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local until_ = now + tonumber(ARGV[1])
local next_free = tonumber(redis.call('GET', KEYS[1]) or '0')
if until_ > next_free then
  redis.call('SET', KEYS[1], tostring(until_), 'PX', math.floor((tonumber(ARGV[1]) + 60) * 1000))
end
return 1
"""


# KEYS: last_sent. ARGV: interval. '0' when the request may go now, else the wait.
_CLAIM_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local interval = tonumber(ARGV[1])
local last = tonumber(redis.call('GET', KEYS[1]) or '0')
if now - last < interval then
  return tostring(last + interval - now)
end
redis.call('SET', KEYS[1], tostring(now), 'PX', math.floor((interval + 60) * 1000))
return '0'
"""


class RedisBudget:
    """The budget on Redis: every process using the same Redis (and key prefix) shares it.
    When Redis fails, this process's :class:`LocalBudget` keeps the rate locally."""

    def __init__(
        self,
        connection: Callable[[], Any],
        *,
        key: Callable[[str], str] = lambda name: name,
        viewer_share: float = DEFAULT_VIEWER_SHARE,
        fallback: LocalBudget | None = None,
    ) -> None:
        self._connection = connection
        self._key = key
        self.viewer_share = viewer_share
        self._fallback = fallback or _local
        self._scripts: dict[int, tuple[Any, Any, Any]] = {}
        self._warn = OutageWarner(logger)

    def _script(self) -> tuple[Any, Any, Any, Any]:
        conn = self._connection()
        scripts = self._scripts.get(id(conn))
        if scripts is None:
            scripts = (
                conn.register_script(_TAKE_LUA),
                conn.register_script(_PENALIZE_LUA),
                conn.register_script(_CLAIM_LUA),
            )
            self._scripts[id(conn)] = scripts
        return conn, *scripts

    def _keys(self, host: str) -> list[str]:
        base = f"scraper:budget:{host}"
        names = ("next", "crawl", "viewer", "sent")
        return [self._key(f"{base}:{name}") for name in names]

    def take(
        self, host: str, *, interval: float, lane: Lane, max_wait: float | None = None
    ) -> Grant:
        try:
            conn, take, _, _ = self._script()
            granted, wait = take(
                keys=self._keys(host)[:3],
                args=[
                    str(lane),
                    repr(interval),
                    repr(-1.0 if max_wait is None else max_wait),
                    repr(self.viewer_share),
                    repr(VIEWER_ACTIVE_SECONDS),
                ],
                client=conn,
            )
        except Exception as exc:  # redis errors, a frozen Redis's timeout...
            self._warn("request budget: Redis unavailable (%s); limiting this process only", exc)
            return self._fallback.take(host, interval=interval, lane=lane, max_wait=max_wait)
        return Grant(bool(int(granted)), max(0.0, float(wait)))

    def penalize(self, host: str, seconds: float) -> None:
        try:
            conn, _, penalize, _ = self._script()
            penalize(keys=self._keys(host)[:1], args=[repr(seconds)], client=conn)
        except Exception as exc:
            self._warn("request budget: Redis unavailable (%s); limiting this process only", exc)
            self._fallback.penalize(host, seconds)

    def claim(self, host: str, *, interval: float) -> float:
        try:
            conn, _, _, claim = self._script()
            wait = claim(keys=self._keys(host)[3:], args=[repr(interval)], client=conn)
        except Exception as exc:
            self._warn("request budget: Redis unavailable (%s); limiting this process only", exc)
            return self._fallback.claim(host, interval=interval)
        return max(0.0, float(wait))


# --------------------------------------------------------------------------- from settings


_shared_lock = threading.Lock()
_shared: dict[str, Any] = {}


def shared_budget() -> Budget:
    """The budget every client of this deployment shares: on Redis when the cache is
    django-redis (``REDIS_URL``), else this process's own."""
    from django.conf import settings

    try:
        redis_on = redis_configured()
        share = float(getattr(settings, "SCRAPER_VIEWER_SHARE", DEFAULT_VIEWER_SHARE))
    except Exception:  # Django not set up (a script using the client on its own)
        redis_on, share = False, DEFAULT_VIEWER_SHARE
    if not redis_on:
        _local.viewer_share = share
        return _local
    with _shared_lock:
        budget = _shared.get("budget")
        if budget is None or budget.viewer_share != share:
            connection, key = redis_parts()
            budget = _shared["budget"] = RedisBudget(connection, key=key, viewer_share=share)
        return budget


def booked_ahead(host: str) -> float | None:
    """Seconds until ``host`` (``name:port``) has a free request slot for the crawl (0:
    free now), as every process sees it; None without Redis (each process has its own
    budget then). For the admin's health page."""
    if not redis_configured():
        return None
    connection, key = redis_parts()
    try:
        conn = connection()
        raw = conn.get(key(f"scraper:budget:{host}:next"))
        seconds, micros = conn.time()
    except Exception:  # Redis down: the page says "unknown"
        return None
    if raw is None:
        return 0.0
    return max(0.0, float(raw) - (seconds + micros / 1_000_000))
