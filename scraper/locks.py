"""Overlap locks for background work, kept in Django's cache.

``cache.add`` only stores a key that is absent, atomically on Redis (and within one
process on the local-memory cache), so it doubles as a mutex. Each lock has a timeout so
a worker that dies mid-crawl does not block that crawl forever, and a random token so a
holder only ever releases (or extends) its own lock, never one a later run took after
ours expired.

With the local-memory cache (development without Redis) the lock only covers one
process; :mod:`scraper.tasks` therefore also refuses to start while a recent run of the
same kind is still marked running in the database.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.core.cache import cache

__all__ = ["CacheLock", "acquire", "held", "is_held", "lock_key"]

logger = logging.getLogger("scraper.locks")

KEY_PREFIX = "scraper:lock:"


def lock_key(name: str) -> str:
    return KEY_PREFIX + name


@dataclass
class CacheLock:
    """A lock we hold: its name, our token and how long it lives without a refresh."""

    name: str
    token: str
    timeout: int
    _last_refresh: float = field(default=0.0, repr=False)

    @property
    def key(self) -> str:
        return lock_key(self.name)

    def owned(self) -> bool:
        return cache.get(self.key) == self.token

    def refresh(self, *, min_gap: float = 30.0) -> bool:
        """Extend the lock by its timeout (at most every ``min_gap`` seconds, so calling
        this from a per-page progress hook stays cheap). False if the lock is no longer
        ours: it expired and maybe someone else holds it now."""
        now = time.monotonic()
        if self._last_refresh and now - self._last_refresh < min_gap:
            return True
        self._last_refresh = now
        if not self.owned():
            logger.warning("lock %s expired while its run was still going", self.name)
            return False
        return bool(cache.touch(self.key, self.timeout))

    def release(self) -> bool:
        """Delete the lock if it is still ours. The get-then-delete is not atomic, but a
        foreign token could only appear in between if ours expired at that very moment."""
        if not self.owned():
            return False
        cache.delete(self.key)
        return True


def acquire(name: str, *, timeout: int) -> CacheLock | None:
    """Take the lock ``name`` for ``timeout`` seconds, or None if somebody holds it."""
    token = secrets.token_hex(16)
    if not cache.add(lock_key(name), token, timeout):
        return None
    lock = CacheLock(name=name, token=token, timeout=timeout)
    lock._last_refresh = time.monotonic()
    return lock


def is_held(name: str) -> bool:
    return cache.get(lock_key(name)) is not None


@contextmanager
def held(name: str, *, timeout: int) -> Iterator[CacheLock | None]:
    """``with held("crawl:ongoing", timeout=3600) as lock:`` — lock is None when taken."""
    lock = acquire(name, timeout=timeout)
    try:
        yield lock
    finally:
        if lock is not None:
            lock.release()
