"""When one client may send: its slots in the host's request budget (:mod:`scraper.budget`)
in its lane, a viewer's bounded wait, the send-time claim, and the pause before a retry
(exponential backoff with jitter, or the server's Retry-After)."""

from __future__ import annotations

import email.utils
import random
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from scraper.budget import Budget, Lane, LocalBudget, shared_budget
from scraper.fetched import BudgetExhausted

__all__ = ["MAX_HOST_PAUSE", "Pacer", "pick_budget", "retry_after_seconds"]

# The longest a host's Retry-After closes its budget for every client.
MAX_HOST_PAUSE = 300.0


def pick_budget(
    interval: float, budget: Budget | None, clock: Callable[[], float]
) -> tuple[Budget | None, bool]:
    """The request budget of a client sending every ``interval`` seconds (none without a
    rate), and whether its sends are claimed on the budget too (Budget.claim needs a clock
    that moves while the client sleeps)."""
    if not interval:
        return None, False
    if budget is not None:
        return budget, True
    if clock is not time.monotonic:
        # A test's clock: slots measured on it cannot be shared with real clients, and
        # this one client needs no send-time check against others.
        return LocalBudget(clock=clock), False
    return shared_budget(), True


def retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` as seconds from now (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class Pacer:
    """One client's pacing. ``max_wait``: a viewer's whole request (several origin
    requests, retries) waits at most this long for slots and retries in total; None waits
    as long as it takes (crawls)."""

    def __init__(
        self,
        *,
        interval: float,
        budget: tuple[Budget | None, bool],
        lane: Lane,
        max_wait: float | None,
        sleep: Callable[[float], Any],
        rng: random.Random,
        backoff: float,
        max_backoff: float,
        max_retry_after: float,
    ) -> None:
        self._interval = interval
        self._budget, self._claims = budget
        self.lane = lane
        self.max_wait = max_wait
        self._left = max_wait if max_wait is not None else 0.0
        self._sleep = sleep
        self._rng = rng
        self._backoff, self._max_backoff = backoff, max_backoff
        self._max_retry_after = max_retry_after
        self._lock = threading.Lock()

    @property
    def wait_left(self) -> float | None:
        if self.max_wait is None:
            return None
        with self._lock:
            return max(0.0, self._left)

    def spend(self, seconds: float) -> None:
        """Count ``seconds`` waited for this client against its ``max_wait``."""
        if self.max_wait is not None:
            with self._lock:
                self._left -= seconds

    def take_slot(self, host: str, url: str) -> None:
        """Wait for a slot of ``host`` in the shared budget (BudgetExhausted when a limited
        wait cannot get one in time)."""
        if self._budget is None:
            return
        while True:
            max_wait = self.wait_left
            grant = self._budget.take(
                host, interval=self._interval, lane=self.lane, max_wait=max_wait
            )
            if grant.granted:
                self.spend(grant.wait)
                if grant.wait > 0:
                    self._sleep(grant.wait)
                self._claim(host)
                return
            if max_wait is not None and (self.lane == Lane.VIEWER or grant.wait > max_wait):
                raise BudgetExhausted(
                    f"no request slot toward {host} within {max_wait:.1f}s "
                    f"(next in {grant.wait:.1f}s): the request budget is spent",
                    url=url,
                    host=host,
                    retry_after=grant.wait,
                )
            self.spend(grant.wait)
            # The crawl lane never reserves ahead: wait until a slot is free and ask again
            # (a viewer may take it first, which is the point).
            self._sleep(grant.wait)

    def _claim(self, host: str) -> None:
        """Check the slot at send time: a sleep that overran it, or a thread that got the
        CPU late, must not send right behind the previous request to this host (slots are
        one interval apart, actual sends must be too, or the host sees bursts)."""
        if not self._claims or self._budget is None:
            return
        while (wait := self._budget.claim(host, interval=self._interval)) > 0:
            self._sleep(wait)

    def host_asked_to_wait(self, host: str, retry_after: float) -> None:
        """The host asked everybody to slow down, not just this client: its budget has no
        slot for anyone until then."""
        if self._budget is not None and retry_after:
            self._budget.penalize(host, min(retry_after, MAX_HOST_PAUSE))

    def retry_delay(self, attempt: int, retry_after: float | None) -> float:
        """The pause before retry number ``attempt``: the server's Retry-After (capped),
        else exponential backoff with jitter in [50 %, 100 %] of the step, so parallel
        workers hit by the same outage do not come back in lockstep."""
        if retry_after is not None:
            return min(retry_after, self._max_retry_after)
        step = min(self._max_backoff, self._backoff * 2 ** (attempt - 1))
        return step * (0.5 + 0.5 * self._rng.random())

    def wait_to_retry(self, delay: float, *, why: str, url: str, host: str) -> None:
        """Sleep ``delay`` before a retry; a viewer waits seconds, not a backoff or a
        Retry-After of minutes (BudgetExhausted instead)."""
        if self.max_wait is not None:
            with self._lock:
                over = delay > self._left
                self._left -= delay
            if over:
                raise BudgetExhausted(
                    f"{why}; not waiting {delay:.1f}s for a retry",
                    url=url,
                    host=host,
                    retry_after=delay,
                )
        if delay > 0:
            self._sleep(delay)
