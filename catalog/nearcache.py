"""A per-process copy of what every cached page reads, kept fresh by Redis pub/sub.

A cached page used to cost two network round trips: the anime's version from the
database and the page from Redis. On loopback each round trip alone cuts a worker's
throughput by about a third (BENCHMARKS.md, "Site"), so this keeps, in each web process:

- *stamps* (an anime's id and version, the catalogue aggregate): small values that change
  when ingest or an editor changes the catalogue. They are only used while this process
  is subscribed to the change channel, and every change (`announce_change`, called by
  `catalog.services.bump_versions` after commit) clears them in every process. So that the
  very next request after an announcement never gets the old version, a stamp is not
  trusted while the channel's socket has unread data (a poll, not a round trip), and the
  listener forgets the stamps before it reads what arrived. A short time-to-live bounds
  the damage of a lost message.
- *pages*: rendered pages keyed on their URL, language and stamp. Such a key never
  changes meaning, so a local copy needs no invalidation; it is bounded by size (LRU).
- *recent*: values allowed to lag by a few seconds (the site status notice, already
  micro-cached in Redis for that reason).

Without Redis (SQLite + local memory, `make run`) nothing is announced across processes,
so stamps are never kept and every request reads them from the database as before.
"""

from __future__ import annotations

import functools
import logging
import os
import select
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from django.conf import settings
from django.db import transaction

log = logging.getLogger(__name__)

T = TypeVar("T")

# A message lost between Redis and a subscriber (it is fire-and-forget) is outlived by
# at most this long; in the normal case the change clears the stamps within a millisecond.
STAMP_SECONDS = 30.0
MAX_STAMPS = 50_000
# How often the listener pings Redis, and after how long without an answer it gives up
# the subscription (and so stops trusting its stamps) until it has reconnected.
# The subscription's connection comes from the cache's pool, so it has the same bounded
# waits (REDIS_CONNECT_TIMEOUT, REDIS_TIMEOUT) and breaker (otakusite/resilience.py): a
# frozen Redis makes the ping or the reconnect fail within seconds, never hang the thread;
# reads only ever happen when poll() said the socket has data.
PING_SECONDS = 5.0
DEAD_AFTER_SECONDS = 15.0


class NearCache:
    """The three stores above; thread-safe (gunicorn's gthread workers share one)."""

    def __init__(self, *, max_bytes: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_bytes = max_bytes
        self.clock = clock
        self.live = False  # True while subscribed: only then are stamps kept
        # Whether the change channel has data this process has not read yet: a change on
        # its way. Set by the listener; checked before every stamp hit (no round trip).
        self.pending: Callable[[], bool] = _nothing_pending
        self.generation = 0  # bumped by every change; guards stores racing a change
        self._lock = threading.Lock()
        self._stamps: dict[Hashable, tuple[float, Any]] = {}
        self._recent: dict[Hashable, tuple[float, Any]] = {}
        self._pages: OrderedDict[str, tuple[int, Any]] = OrderedDict()
        self._bytes = 0

    # --- stamps ---------------------------------------------------------------
    def stamp(self, key: Hashable, load: Callable[[], T]) -> T:
        """`load()`, remembered until the next announced change (or STAMP_SECONDS)."""
        if not self.live:
            return load()
        # In this order: a change arriving after `pending()` looked makes the generation
        # differ by the time the hit is checked (the listener forgets before it reads).
        generation = self.generation
        now = self.clock()
        if not self.pending():
            hit = self._stamps.get(key)
            if hit is not None and hit[0] > now and generation == self.generation:
                return hit[1]
        # A change announced while `load` ran may have made its answer old: keep it only
        # when no change came in between (the next request then loads again).
        value = load()
        with self._lock:
            if self.live and generation == self.generation:
                if len(self._stamps) >= MAX_STAMPS:
                    self._stamps.clear()
                self._stamps[key] = (now + STAMP_SECONDS, value)
        return value

    def changed(self) -> None:
        """Forget every stamp (the catalogue changed, or the channel may have missed it)."""
        with self._lock:
            self._forget_stamps()

    def set_live(self, live: bool) -> None:
        with self._lock:
            self.live = live
            self._forget_stamps()

    def _forget_stamps(self) -> None:
        # With the lock held. The generation tells a `stamp()` still loading that it missed this.
        self.generation += 1
        self._stamps.clear()

    # --- recent ---------------------------------------------------------------
    def recent(self, key: Hashable) -> Any:
        hit = self._recent.get(key)
        return hit[1] if hit is not None and hit[0] > self.clock() else None

    def keep_recent(self, key: Hashable, value: Any, seconds: float) -> None:
        self._recent[key] = (self.clock() + seconds, value)

    def drop_recent(self, key: Hashable) -> None:
        self._recent.pop(key, None)

    # --- pages ----------------------------------------------------------------
    def page(self, key: str) -> Any:
        with self._lock:
            hit = self._pages.get(key)
            if hit is None:
                return None
            self._pages.move_to_end(key)
            return hit[1]

    def keep_page(self, key: str, value: Any, size: int) -> None:
        if size > self.max_bytes // 8:
            return  # one huge page must not flush everything else
        with self._lock:
            old = self._pages.pop(key, None)
            if old is not None:
                self._bytes -= old[0]
            self._pages[key] = (size, value)
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, (dropped, _value) = self._pages.popitem(last=False)
                self._bytes -= dropped

    def clear(self) -> None:
        with self._lock:
            self._forget_stamps()
            self._recent.clear()
            self._pages.clear()
            self._bytes = 0


def channel() -> str:
    prefix = settings.CACHES["default"].get("KEY_PREFIX", "")
    return f"{prefix}:catalogue-changed"


class Listener(threading.Thread):
    """Keeps `near` subscribed to the change channel; `near.live` says whether it is."""

    def __init__(self, near: NearCache, connect: Callable[[], Any]) -> None:
        super().__init__(name="nearcache-listener", daemon=True)
        self.near = near
        self.connect = connect
        self.stopping = threading.Event()
        # Counted so tests (and operators in a shell) can wait for what the thread did.
        self.subscriptions = 0
        self.messages = 0
        self._progress = threading.Condition()

    def run(self) -> None:
        backoff = 0.5
        while not self.stopping.is_set():
            try:
                self._listen()
                backoff = 0.5
            except Exception as exc:  # any failure means "not subscribed"
                log.warning("near cache: change channel lost (%s); retrying", exc)
            self.near.set_live(False)
            self.stopping.wait(backoff)
            backoff = min(backoff * 2, 10.0)

    def _listen(self) -> None:
        pubsub = self.connect().pubsub()
        try:
            pubsub.subscribe(channel())
            # redis-py keeps the socket private; without it there is no safe way to see a
            # change coming, so the near cache stays off (the failure ends the subscription).
            sock = pubsub.connection._sock
            if not isinstance(sock, socket.socket):
                raise ConnectionError("no socket under the subscription")
            last_answer = time.monotonic()
            last_ping = last_answer
            while not self.stopping.is_set():
                # Any traffic may be a change: forget the stamps first, read after. A request
                # meanwhile sees the socket readable (`pending`) and loads anew.
                seen = _readable(sock, 1.0)
                if seen:
                    self.near.changed()
                # Drained even when the socket looked idle: redis-py may hold read bytes.
                while (message := pubsub.get_message(timeout=0)) is not None:
                    if not seen:
                        self.near.changed()
                        seen = True
                    self._on_message(message, sock)
                now = time.monotonic()
                if seen:
                    last_answer = now
                if now - last_ping >= PING_SECONDS:
                    pubsub.ping()
                    last_ping = now
                if now - last_answer > DEAD_AFTER_SECONDS:
                    raise ConnectionError("no answer from Redis")
        finally:
            self.near.pending = _nothing_pending
            pubsub.close()

    def _on_message(self, message: dict[str, Any], sock: socket.socket) -> None:
        kind = message.get("type")
        if kind == "subscribe":
            self.near.pending = functools.partial(_readable, sock, 0)
            self.near.set_live(True)
            self._count("subscriptions")
        elif kind == "message":
            self._count("messages")

    def _count(self, what: str) -> None:
        with self._progress:
            setattr(self, what, getattr(self, what) + 1)
            self._progress.notify_all()

    def wait_for(self, what: str, count: int, timeout: float = 10.0) -> bool:
        """Wait until `what` ("subscriptions" or "messages") has reached `count`."""
        with self._progress:
            return self._progress.wait_for(lambda: getattr(self, what) >= count, timeout)

    def stop(self) -> None:
        self.stopping.set()


def _nothing_pending() -> bool:
    return False


def _readable(sock: socket.socket, timeout: float) -> bool:
    """Whether `sock` has data to read (poll: select() fails on descriptors over 1023)."""
    poller = select.poll()  # one per call: a poll object must not be shared by threads
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(timeout * 1000))


def _redis() -> Any:
    from django_redis import get_redis_connection  # only needed with Redis

    return get_redis_connection("default")


NEAR = NearCache(max_bytes=int(getattr(settings, "NEAR_CACHE_MB", 32)) * 1024 * 1024)
_listener: Listener | None = None
_listener_pid = 0
_start_lock = threading.Lock()


class NoNearCache(NearCache):
    """What `current()` gives when the near cache is off: keeps nothing, loads every time."""

    def __init__(self) -> None:
        super().__init__(max_bytes=0)

    def keep_recent(self, key: Hashable, value: Any, seconds: float) -> None:
        pass

    def keep_page(self, key: str, value: Any, size: int) -> None:
        pass


OFF = NoNearCache()


def enabled() -> bool:
    return bool(getattr(settings, "NEAR_CACHE", False))


def current() -> NearCache:
    """This process's near cache (its listener started), or one that keeps nothing."""
    if not enabled():
        return OFF
    if _listener_pid != os.getpid():
        _start_listening()
    return NEAR


def _start_listening() -> None:
    """Start this process's listener once (after a fork too: threads do not survive it)."""
    global _listener, _listener_pid  # noqa: PLW0603 - one listener per process
    with _start_lock:
        if _listener_pid != os.getpid():
            NEAR.clear()
            NEAR.set_live(False)
            _listener = Listener(NEAR, _redis)
            _listener.start()
            _listener_pid = os.getpid()


def stop_listening() -> None:
    """For tests: stop the listener and forget everything kept."""
    global _listener, _listener_pid
    with _start_lock:
        if _listener is not None:
            _listener.stop()
            _listener.join(timeout=5)
        _listener, _listener_pid = None, 0
        NEAR.set_live(False)
        NEAR.clear()


def listener() -> Listener | None:
    return _listener


def announce_change() -> None:
    """Tell every web process (this one at once) that the catalogue changed, after commit."""
    transaction.on_commit(_publish)


def _publish() -> None:
    NEAR.changed()
    # Announced whenever Redis is the cache, whether or not this process listens: the
    # process that changes the catalogue (the worker) is rarely the one serving pages.
    if "django_redis" not in settings.CACHES["default"]["BACKEND"]:
        return
    try:
        _redis().publish(channel(), "1")
    except Exception as exc:  # the stamps expire anyway
        log.warning("near cache: could not announce a change (%s)", exc)
