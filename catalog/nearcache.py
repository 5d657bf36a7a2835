"""A per-process copy of what every cached page reads, kept fresh by Redis pub/sub.

A cached page would otherwise cost two network round trips (its data's version from the
database, the page from Redis); on loopback each cuts a worker's throughput by about a
third (BENCHMARKS.md, "Site"). catalog/pagecache.py uses three stores kept here:

- *memos*: small reads (an anime's version, the catalogue's version, a genre) kept until
  the next change announced on the channel, and only while this process is subscribed.
- *pages*: rendered pages under keys that include their data's version, so a copy never
  needs invalidating; bounded by size (LRU).
- *recent*: values allowed to lag by a few seconds (the site status, the embed hosts).

Without Redis nothing is announced across processes, so memos are never kept.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

from django.conf import settings
from django.db import transaction

log = logging.getLogger(__name__)

# A message lost between Redis and a subscriber (pub/sub is fire-and-forget) is outlived
# by at most this long; normally a change clears the memos within milliseconds.
MEMO_SECONDS = 30.0
MAX_MEMOS = 50_000
# How often the listener reads the channel when no request did, how often it pings Redis,
# and after how long without an answer it drops the subscription (so stops trusting its
# memos) until it has subscribed again. The subscription's connection comes from the
# cache's pool: bounded waits (REDIS_CONNECT_TIMEOUT, REDIS_TIMEOUT), no retries, and the
# breaker of otakusite/resilience.py.
POLL_SECONDS = 0.1
PING_SECONDS = 5.0
DEAD_AFTER_SECONDS = 15.0
# A request waits this long at most for another thread reading the channel; then it does
# not trust the memos (it reads from the database) rather than wait longer.
READ_WAIT_SECONDS = 0.05


class NearCache:
    """The three stores above; thread-safe (gunicorn's gthread workers share one)."""

    def __init__(self, *, max_bytes: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_bytes = max_bytes
        self.clock = clock
        self.live = False  # True while subscribed: only then are memos kept
        # Reads what arrived on the change channel (a change clears the memos) and says
        # whether the memos may be out of date. Set by the subscription; no round trip.
        self.pending: Callable[[], bool] = _nothing_pending
        self.generation = 0  # bumped by every change; guards stores racing a change
        self._lock = threading.Lock()
        self._memos: dict[Hashable, tuple[float, Any]] = {}
        self._recent: dict[Hashable, tuple[float, Any]] = {}
        self._pages: OrderedDict[str, tuple[int, Any]] = OrderedDict()
        self._bytes = 0

    # --- memos ----------------------------------------------------------------
    def memo[T](self, key: Hashable, load: Callable[[], T]) -> T:
        """`load()`, remembered until the next announced change (or MEMO_SECONDS)."""
        if not self.live:
            return load()
        # Whatever was announced before this request is read (and has cleared the memos)
        # by the time `pending()` returns, whichever thread read it.
        trusted = not self.pending()
        generation = self.generation
        now = self.clock()
        if trusted:
            hit = self._memos.get(key)
            if hit is not None and hit[0] > now and generation == self.generation:
                return hit[1]
        # A change announced while `load` ran may have made its answer old: keep it only
        # when no change came in between (the next request then loads again).
        value = load()
        with self._lock:
            if self.live and generation == self.generation:
                if len(self._memos) >= MAX_MEMOS:
                    self._memos.clear()
                self._memos[key] = (now + MEMO_SECONDS, value)
        return value

    def changed(self) -> None:
        """Forget every memo (the catalogue changed, or the channel may have missed it)."""
        with self._lock:
            self._forget_memos()

    def set_live(self, live: bool) -> None:
        with self._lock:
            self.live = live
            self._forget_memos()

    def _forget_memos(self) -> None:
        # With the lock held. The generation tells a `memo()` still loading that it missed this.
        self.generation += 1
        self._memos.clear()

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
            self._forget_memos()
            self._recent.clear()
            self._pages.clear()
            self._bytes = 0


def channel() -> str:
    prefix = settings.CACHES["default"].get("KEY_PREFIX", "")
    return f"{prefix}:catalogue-changed"


class Subscription:
    """One subscription to the change channel, read by whichever thread needs it first.

    Every read of the channel (redis-py's public `PubSub.get_message(timeout=0)`, which
    never waits) happens under one lock, and the memos are cleared after a read that
    brought a change, before the lock is released. A request reads the channel before it
    trusts a memo (`pending`), so a change announced before the request began has cleared
    the memos by then, even when one read took several messages off the socket at once or
    the listener thread has not run since.
    """

    def __init__(self, near: NearCache, pubsub: Any, on_message: Callable[[str], None]) -> None:
        self.near = near
        self.pubsub = pubsub
        self.on_message = on_message
        self.last_answer = time.monotonic()
        self.failure: BaseException | None = None
        self._lock = threading.Lock()

    def open(self) -> None:
        with self._lock:
            self.pubsub.subscribe(channel())

    def read(self) -> bool:
        """Read what arrived; True when anything did. The lock must be held."""
        arrived = False
        while (message := self.pubsub.get_message(timeout=0)) is not None:
            arrived = True
            self.last_answer = time.monotonic()
            kind = message.get("type")
            if kind == "subscribe":
                self.near.pending = self.pending
                self.near.set_live(True)  # clears the memos: changes may have been missed
            elif kind != "pong":
                self.near.changed()
            self.on_message(kind)
        return arrived

    def pending(self) -> bool:
        """Whether the memos may be out of date: a change just read, a read another thread
        holds too long, or a broken subscription. Never a network round trip."""
        if not self._lock.acquire(timeout=READ_WAIT_SECONDS):
            return True
        try:
            return self.read() if self.failure is None else True
        except Exception as exc:  # the listener resubscribes; meanwhile nothing is trusted
            self._fail(exc)
            return True
        finally:
            self._lock.release()

    def poll(self) -> None:
        """The listener's turn: read, ping now and then; raise once the subscription is dead."""
        with self._lock:
            if self.failure is None:
                try:
                    self.read()
                except Exception as exc:
                    self._fail(exc)
            if self.failure is not None:
                raise ConnectionError(f"change channel lost: {self.failure}")
            if time.monotonic() - self.last_answer > DEAD_AFTER_SECONDS:
                raise ConnectionError("no answer from Redis")

    def ping(self) -> None:
        with self._lock:
            self.pubsub.ping()

    def close(self) -> None:
        if self.near.pending == self.pending:
            self.near.pending = _nothing_pending
        self.near.set_live(False)
        with self._lock:
            self.pubsub.close()

    def _fail(self, exc: BaseException) -> None:
        # With the lock held.
        self.failure = exc
        self.near.pending = _nothing_pending
        self.near.set_live(False)


class Listener(threading.Thread):
    """Keeps `near` subscribed to the change channel; `near.live` says whether it is."""

    def __init__(self, near: NearCache, connect: Callable[[], Any]) -> None:
        super().__init__(name="nearcache-listener", daemon=True)
        self.near = near
        self.connect = connect
        self.stopping = threading.Event()
        # Counted so tests (and operators in a shell) can wait for what was read.
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
        subscription = Subscription(self.near, self.connect().pubsub(), self._count)
        try:
            subscription.open()
            last_ping = time.monotonic()
            while not self.stopping.wait(POLL_SECONDS):
                subscription.poll()
                if time.monotonic() - last_ping >= PING_SECONDS:
                    subscription.ping()
                    last_ping = time.monotonic()
        finally:
            subscription.close()

    def _count(self, kind: str) -> None:
        what = {"subscribe": "subscriptions", "message": "messages"}.get(kind)
        if what is None:
            return
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
        publish_change(_redis())
    except Exception as exc:  # the memos expire anyway
        log.warning("near cache: could not announce a change (%s)", exc)


def publish_change(client: Any) -> None:
    """Announce a change through the redis-py `client`.

    Redis answers PUBLISH before it has written the message to the subscribers (it writes
    the publisher's reply first), so a request made right after could find nothing on its
    subscription yet. Redis reads the next command only once those writes are done: when
    the PING's answer is back, every subscribed process has the message to read.
    """
    client.publish(channel(), "1")
    client.ping()
