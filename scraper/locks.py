"""Overlap locks for background work, kept in Django's cache.

``cache.add`` stores only an absent key, atomically on Redis, so it is a mutex. The value
names its holder (token, ``host:pid``, since when, its ScrapeRun), so a skipped run says who
holds it and a holder only releases its own lock. Locks live ``SCRAPER_RUN_STALE_SECONDS``
and the run's heartbeat (:mod:`scraper.runs`) refreshes them; ``acquire`` takes over a lock
whose holder is dead. They live in the ``coordination`` cache (the broker's Redis, which
never evicts) when defined; with the local-memory cache a lock covers one process only.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from django.conf import settings
from django.core.cache import BaseCache, caches

__all__ = [
    "CacheLock",
    "LockHolder",
    "acquire",
    "holder",
    "lock_key",
    "owner_id",
]

logger = logging.getLogger("scraper.locks")

KEY_PREFIX = "scraper:lock:"
HOST = socket.gethostname()
# How long a takeover of a dead holder's lock is reserved for the process doing it.
TAKEOVER_SECONDS = 60


def owner_id() -> str:
    """``host:pid`` of this process (read each time: django-q forks its workers)."""
    return f"{HOST}:{os.getpid()}"


def lock_key(name: str) -> str:
    return KEY_PREFIX + name


def _cache() -> BaseCache:
    return caches["coordination" if "coordination" in settings.CACHES else "default"]


@dataclass(frozen=True)
class LockHolder:
    """Who holds a lock, as stored in it."""

    token: str
    owner: str = ""  # "host:pid"; empty for a lock of an older version (a bare token)
    since: float = 0.0  # time.time() when taken
    run: int | None = None  # the ScrapeRun id, once the run exists

    @classmethod
    def of(cls, value: Any) -> LockHolder | None:
        if value is None:
            return None
        if isinstance(value, dict):
            fields: dict[str, Any] = {k: value.get(k) for k in ("token", "owner", "since", "run")}
            return cls(**fields)
        return cls(token=str(value))


@dataclass
class CacheLock:
    """A lock we hold: its name, our token and how long it lives without a refresh."""

    name: str
    token: str
    timeout: int
    value: dict[str, Any] = field(default_factory=dict, repr=False)
    _last_refresh: float = field(default=0.0, repr=False)

    @property
    def key(self) -> str:
        return lock_key(self.name)

    def owned(self) -> bool:
        current = LockHolder.of(_cache().get(self.key))
        return current is not None and current.token == self.token

    def refresh(self, *, min_gap: float = 30.0) -> bool:
        """Extend the lock by its timeout (at most every ``min_gap`` seconds). False if
        someone else holds it now (it expired or was taken over)."""
        now = time.monotonic()
        if self._last_refresh and now - self._last_refresh < min_gap:
            return True
        self._last_refresh = now
        current = LockHolder.of(_cache().get(self.key))
        if current is None:
            # Gone without anyone else taking it (expired during a long pause, Redis
            # restarted, or unreadable for a moment): ours again if nobody took it meanwhile.
            if _cache().add(self.key, self.value or self.token, self.timeout):
                return True
            current = LockHolder.of(_cache().get(self.key))
            if current is None:
                # The cache does not answer (it swallows errors): keep going; the run's
                # heartbeat in the database still tells others it is alive.
                logger.warning("lock %s: the cache did not answer its refresh", self.name)
                return True
        if current.token != self.token:
            logger.warning("lock %s is no longer ours while its run was still going", self.name)
            return False
        return bool(_cache().touch(self.key, self.timeout))

    def attach(self, run_id: int) -> None:
        """Record the ScrapeRun this lock is for (a skipped run names it)."""
        if self.owned():
            self.value["run"] = run_id
            _cache().set(self.key, self.value, self.timeout)

    def release(self) -> bool:
        """Delete the lock if it is still ours. The get-then-delete is not atomic, but a
        foreign token could only appear in between if ours expired at that very moment."""
        if not self.owned():
            return False
        _cache().delete(self.key)
        return True


def acquire(
    name: str,
    *,
    timeout: int | None = None,
    is_dead: Callable[[LockHolder], bool] | None = None,
) -> CacheLock | None:
    """Take the lock ``name`` for ``timeout`` seconds, or None if a live holder has it.

    A holder that ``is_dead`` reports gone loses the lock to us: the takeover is reserved
    by a second ``add`` on a key naming the dead holder's token, so of several processes
    finding the same dead holder only one takes its place."""
    stale_seconds: int = getattr(settings, "SCRAPER_RUN_STALE_SECONDS", 120)
    timeout = int(timeout or stale_seconds)
    token = secrets.token_hex(16)
    value = asdict(LockHolder(token=token, owner=owner_id(), since=time.time()))
    store, key = _cache(), lock_key(name)
    if not store.add(key, value, timeout):
        current = store.get(key)
        holder_now = LockHolder.of(current)
        if holder_now is None:
            # Expired (or released) between our add and our get: one more try.
            if not store.add(key, value, timeout):
                return None
        elif is_dead is not None and is_dead(holder_now):
            reservation = f"{key}:takeover:{holder_now.token}"
            if not store.add(reservation, 1, TAKEOVER_SECONDS):
                return None
            if store.get(key) == current:
                store.delete(key)
            taken = store.add(key, value, timeout)
            # Once the dead holder's value is gone nobody can delete in its name any more.
            store.delete(reservation)
            if not taken:
                return None
            logger.warning("lock %s taken over from %s, whose process is gone", name, holder_now)
        else:
            return None
    lock = CacheLock(name=name, token=token, timeout=timeout, value=value)
    lock._last_refresh = time.monotonic()
    return lock


def holder(name: str) -> LockHolder | None:
    return LockHolder.of(_cache().get(lock_key(name)))
