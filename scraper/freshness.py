"""When the ongoing update should look at the origin: a pure planner (no I/O, no Django).

Given the time, what we know of each ongoing anime (its schedule day from ``/jadwal-rilis/``
and the times of day its past episodes appeared) and what the last polls found, it says
how long to wait between polls *now*:

* ``hot`` (every minute) inside an expected release window: an ongoing anime's schedule
  day, around the times of day its earlier episodes appeared (``lead`` before to ``tail``
  after), as long as that anime's episode has not been seen yet;
* ``hot`` for ``after_find`` after a poll that found something (episodes come in bursts:
  several titles, or a second episode right after the first);
* ``warm`` while an expected episode is late (its window closed without it) for up to
  ``overdue_for``;
* ``cold`` otherwise: the bound on how late an unscheduled release (a new title, a batch,
  an episode on another day) is noticed.

Failed polls stretch the wait (doubling, at most ``cold``) so an origin in trouble is not
hammered. An anime without history of its own borrows the times of day seen for the
other anime of its day (or of any day); with no history at all only ``cold`` polling and
the after-find bursts remain, and the history builds up from the episodes the update
finds. Times of day are read in the site's time zone (the origin's schedule is WIB).
"""

from __future__ import annotations

import datetime
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

__all__ = [
    "Decision",
    "Expectation",
    "Policy",
    "Poll",
    "decide",
    "release_windows",
]

MINUTE = datetime.timedelta(minutes=1)
DAY = datetime.timedelta(days=1)
# An episode seen this long before its usual time is that week's (weekly releases).
EARLY = datetime.timedelta(days=2)


@dataclass(frozen=True)
class Policy:
    hot: datetime.timedelta = MINUTE
    warm: datetime.timedelta = 3 * MINUTE
    cold: datetime.timedelta = 8 * MINUTE
    lead: datetime.timedelta = 15 * MINUTE  # a window opens this long before the usual time
    tail: datetime.timedelta = 30 * MINUTE  # ...and closes this long after it
    after_find: datetime.timedelta = 10 * MINUTE
    overdue_for: datetime.timedelta = datetime.timedelta(hours=6)
    # Times of day within this of each other are one window (minutes).
    merge_minutes: int = 20
    # Borrowed times of day for an anime without history: the most common few.
    borrowed_times: int = 3


@dataclass(frozen=True)
class Expectation:
    """One ongoing anime as the planner sees it."""

    slug: str
    weekday: int | None  # 0 = Monday (Senin); None: "Random" or unknown
    # Minutes after local midnight at which its past episodes appeared (newest first).
    minutes: tuple[int, ...] = ()
    last_seen: datetime.datetime | None = None  # when its newest episode appeared


@dataclass(frozen=True)
class Poll:
    """One past ongoing update: when it started, whether it worked, what it found."""

    at: datetime.datetime
    ok: bool
    found: int = 0


@dataclass(frozen=True)
class Window:
    slug: str
    start: datetime.datetime
    end: datetime.datetime


@dataclass(frozen=True)
class Decision:
    due: bool
    interval: datetime.timedelta  # the wait between polls that applies now
    reason: str  # "release window <slug>", "after a find", "late <slug>", "quiet"
    next_at: datetime.datetime  # when the next poll is due (if nothing changes)
    windows: tuple[Window, ...] = field(default=(), repr=False)


def _clusters(minutes: Iterable[int], merge: int) -> list[int]:
    """Times of day, nearby ones merged into their mean (on the 24-hour circle)."""
    out: list[list[int]] = []
    for value in sorted(set(minutes)):
        if out and value - out[-1][-1] <= merge:
            out[-1].append(value)
        else:
            out.append([value])
    if len(out) > 1 and out[0][0] + 1440 - out[-1][-1] <= merge:
        out[0] = [m - 1440 for m in out.pop()] + out[0]
    return [round(sum(group) / len(group)) % 1440 for group in out]


def _borrowed(expectations: Sequence[Expectation], policy: Policy) -> dict[int | None, list[int]]:
    """The usual times of day of each weekday (key None: of all days), from the anime
    that have history, for the anime that have none."""
    by_day: dict[int | None, Counter[int]] = {}
    for exp in expectations:
        for minute in exp.minutes[:1]:  # one vote per anime: its latest time
            bucket = minute // 30 * 30 + 15
            by_day.setdefault(exp.weekday, Counter())[bucket] += 1
            by_day.setdefault(None, Counter())[bucket] += 1
    return {
        day: [m for m, _n in counts.most_common(policy.borrowed_times)]
        for day, counts in by_day.items()
    }


def release_windows(
    now: datetime.datetime,
    expectations: Sequence[Expectation],
    policy: Policy = Policy(),
) -> list[Window]:
    """The release windows of yesterday, today and tomorrow (local days of ``now``'s
    time zone) of the anime whose episode of that day has not been seen yet."""
    borrowed = _borrowed(expectations, policy)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    windows: list[Window] = []
    for exp in expectations:
        if exp.weekday is None:
            continue
        times = exp.minutes[:3] or borrowed.get(exp.weekday) or borrowed.get(None) or []
        for offset in (-1, 0, 1):
            day = midnight + offset * DAY
            if day.weekday() != exp.weekday:
                continue
            for minute in _clusters(times, policy.merge_minutes):
                at = day + datetime.timedelta(minutes=minute)
                start, end = at - policy.lead, at + policy.tail
                # Seen in the days before (an early release too): this week's is in.
                if exp.last_seen is not None and exp.last_seen >= at - EARLY:
                    continue
                windows.append(Window(exp.slug, start, end))
    return sorted(windows, key=lambda w: w.start)


def _interval(
    now: datetime.datetime, windows: Sequence[Window], polls: Sequence[Poll], policy: Policy
) -> tuple[datetime.timedelta, str]:
    for window in windows:
        if window.start <= now < window.end:
            return policy.hot, f"release window {window.slug}"
    found = next((p for p in polls if p.ok and p.found), None)
    if found is not None and now - found.at < policy.after_find:
        return policy.hot, "after a find"
    for window in windows:
        if window.end <= now < window.end + policy.overdue_for:
            return policy.warm, f"late {window.slug}"
    return policy.cold, "quiet"


def _failures(polls: Sequence[Poll]) -> int:
    count = 0
    for poll in polls:
        if poll.ok:
            break
        count += 1
    return count


def decide(
    now: datetime.datetime,
    expectations: Sequence[Expectation],
    polls: Sequence[Poll],
    policy: Policy = Policy(),
) -> Decision:
    """Whether an ongoing update is due at ``now``. ``polls``: the latest first."""
    windows = release_windows(now, expectations, policy)
    interval, reason = _interval(now, windows, polls, policy)
    failures = _failures(polls)
    if failures:
        # An origin in trouble: wait longer after each failed poll, up to the quiet pace.
        interval = max(interval, min(policy.cold, policy.hot * 2**failures))
        reason += f", {failures} failed poll(s)"
    if not polls:
        return Decision(True, interval, reason + ", never polled", now, tuple(windows))
    next_at = polls[0].at + interval
    # A window that opens before the quiet wait is over brings the next poll forward.
    upcoming = [w.start for w in windows if now < w.start < next_at]
    if upcoming and not failures:
        next_at = max(min(upcoming), polls[0].at + policy.hot)
    return Decision(next_at <= now, interval, reason, next_at, tuple(windows))
