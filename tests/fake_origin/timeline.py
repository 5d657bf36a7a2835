"""Time on the fake origin: a controllable clock, a publisher that releases episodes when
that clock passes their time, and conditional answers (ETag / Last-Modified, 304).

* :class:`Clock` is virtual time (aware datetimes in WIB): ``sleep`` advances it, so a
  client paced on it (``OriginClient(clock=clock.monotonic, sleep=clock.sleep)``) spends
  no real time; a simulated week runs in minutes.
* :class:`Publisher` plans a stretch of days on the origin's real pattern: every ongoing
  anime of a schedule day releases its next episode on that day around its own usual time
  of day (a few minutes' jitter), and, unscheduled, some releases come hours late, the
  "Random" anime release any time, new titles appear (anime hidden from the catalogue
  until their first episode) and some anime finish with a batch. Attached to a
  :class:`~tests.fake_origin.server.FakeOrigin` (``origin.timeline = publisher``), every
  request first publishes what is due, so the origin always shows the clock's present.
* :class:`Conditional` is how the origin answers If-None-Match / If-Modified-Since:
  ``off`` (no validators, like the origin's Cloudflare-fronted pages today), ``honour``
  (ETag and Last-Modified, 304 when unchanged) or ``ignore`` (validators sent, but always
  a full 200).
"""

from __future__ import annotations

import hashlib
import random
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import Message
from email.utils import format_datetime, parsedate_to_datetime

from .catalog import WEEKDAYS, WIB, Anime, Catalog, _add_batch, _make_episode

__all__ = ["Clock", "Conditional", "Publisher", "Release"]

type _Headers = Mapping[str, str] | Message  # a request's headers (http.server: a Message)

SCHEDULED = "scheduled"
UNSCHEDULED_KINDS = ("late", "random_day", "new_title", "batch")
# Usual release times (hour of day, WIB) and how common each is: subtitles of the night's
# Japanese broadcasts come out from the afternoon to late evening, most in the evening.
_HOURS = (12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23)
_HOUR_WEIGHTS = (1, 1, 2, 3, 3, 4, 5, 6, 6, 5, 3, 2)


class Clock:
    """Virtual time. ``monotonic`` counts seconds from the start, ``sleep`` advances."""

    def __init__(self, start: datetime) -> None:
        self.start = start.astimezone(WIB)
        self.now = self.start
        self._lock = threading.Lock()

    def monotonic(self) -> float:
        return (self.now - self.start).total_seconds()

    def time(self) -> float:
        return self.now.timestamp()

    def sleep(self, seconds: float) -> None:
        self.advance(timedelta(seconds=max(0.0, seconds)))

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self.now += delta

    def advance_to(self, when: datetime) -> None:
        with self._lock:
            self.now = max(self.now, when)

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Release:
    at: datetime  # when the origin publishes it
    kind: str  # "scheduled" or one of UNSCHEDULED_KINDS
    anime_slug: str
    episode_slug: str = ""  # filled in when published
    published: bool = False

    @property
    def scheduled(self) -> bool:
        return self.kind == SCHEDULED


@dataclass
class _Plan:
    releases: list[Release] = field(default_factory=list)
    hidden: dict[str, Anime] = field(default_factory=dict)  # new titles until they appear


class Publisher:
    """Releases on the origin's pattern over ``days`` from ``clock.now`` (see module doc).

    ``habits``: anime slug -> (weekday, minutes after midnight WIB), the usual time of
    each scheduled anime. Built before the first crawl (new titles are hidden at once).
    ``extras_after``: new titles and batches come only after this many days.
    """

    def __init__(
        self,
        catalog: Catalog,
        clock: Clock,
        *,
        days: int = 7,
        seed: int = 1,
        late_share: float = 0.08,
        new_titles: int = 3,
        batches: int = 2,
        jitter_minutes: float = 6.0,
        extras_after: int = 0,
    ) -> None:
        self.catalog = catalog
        self.clock = clock
        self.rng = random.Random(f"timeline:{seed}")
        self.late_share = late_share
        self.jitter = jitter_minutes
        self.extras_after = extras_after  # days before the first new title or batch
        self._lock = threading.RLock()
        self.habits: dict[str, tuple[int, int]] = {}
        self.requests: list[tuple[float, str]] = []  # (clock.monotonic(), path) seen
        self.plan = _Plan()
        ongoing = [a for a in catalog.anime.values() if a.is_ongoing and a.episodes]
        for anime in ongoing:
            hour = self.rng.choices(_HOURS, _HOUR_WEIGHTS)[0]
            if anime.release_day in WEEKDAYS:
                weekday = WEEKDAYS.index(anime.release_day)
                self.habits[anime.slug] = (weekday, hour * 60 + self.rng.randrange(60))
        self._hide_new_titles(ongoing, new_titles, days)
        self._plan_weeks(ongoing, days)
        self._plan_batches(ongoing, batches, days)
        self.plan.releases.sort(key=lambda r: r.at)

    # --- planning ------------------------------------------------------------------
    def _random_time(self, days: int) -> datetime:
        """Some time from ``extras_after`` days on to the end (new titles, batches)."""
        first = min(self.extras_after, days - 1) * 1440
        return self.clock.now + timedelta(minutes=self.rng.randrange(first, days * 1440))

    def _hide_new_titles(self, ongoing: list[Anime], count: int, days: int) -> None:
        for anime in self.rng.sample(ongoing, min(count, len(ongoing) // 4)):
            ongoing.remove(anime)
            del self.catalog.anime[anime.slug]
            for ep in anime.episodes:
                self.catalog.episodes.pop(ep.slug, None)
                self.catalog.by_post_id.pop(ep.post_id, None)
            anime.episodes.clear()
            self.plan.hidden[anime.slug] = anime
            self.plan.releases.append(Release(self._random_time(days), "new_title", anime.slug))

    def _plan_weeks(self, ongoing: list[Anime], days: int) -> None:
        start = self.clock.now.replace(hour=0, minute=0, second=0, microsecond=0)
        for anime in ongoing:
            habit = self.habits.get(anime.slug)
            if habit is None:  # a "Random" anime: once a week, any time
                for week in range(0, days, 7):
                    at = start + timedelta(days=week, minutes=self.rng.randrange(7 * 1440))
                    self._add(at, "random_day", anime.slug)
                continue
            weekday, minute = habit
            for offset in range(days + 1):
                day = start + timedelta(days=offset)
                if day.weekday() != weekday:
                    continue
                jitter = max(-3 * self.jitter, min(3 * self.jitter, self.rng.gauss(0, self.jitter)))
                at = day + timedelta(minutes=minute + jitter)
                if self.rng.random() < self.late_share:  # hours late: unscheduled
                    late = timedelta(minutes=self.rng.randrange(60, 300))
                    self._add(at + late, "late", anime.slug)
                else:
                    self._add(at, SCHEDULED, anime.slug)

    def _plan_batches(self, ongoing: list[Anime], count: int, days: int) -> None:
        taken = {r.anime_slug for r in self.plan.releases if r.kind != SCHEDULED}
        candidates = [a for a in ongoing if a.slug not in taken and len(a.episodes) >= 2]
        for anime in self.rng.sample(candidates, min(count, len(candidates))):
            self.plan.releases = [r for r in self.plan.releases if r.anime_slug != anime.slug]
            self._add(self._random_time(days), "batch", anime.slug)

    def _add(self, at: datetime, kind: str, slug: str) -> None:
        if self.clock.now < at:
            self.plan.releases.append(Release(at, kind, slug))

    # --- publishing ----------------------------------------------------------------
    @property
    def releases(self) -> list[Release]:
        return self.plan.releases

    def next_at(self) -> datetime | None:
        return next((r.at for r in self.plan.releases if not r.published), None)

    def on_request(self, path: str) -> None:
        """The origin's hook, first thing on every request: publish what is due and note
        the request's virtual time (rate checks in virtual time)."""
        with self._lock:
            self.requests.append((self.clock.monotonic(), path))
        self.publish_due()

    def publish_due(self) -> list[Release]:
        """Publish every release whose time has come; returns those just published."""
        now = self.clock.now
        out = []
        with self._lock:
            for release in self.plan.releases:
                if release.at > now:
                    break
                if not release.published:
                    self._publish(release)
                    out.append(release)
        return out

    def _publish(self, release: Release) -> None:
        cat = self.catalog
        hidden = self.plan.hidden.pop(release.anime_slug, None)
        if hidden is not None:
            cat.anime[hidden.slug] = hidden
        anime = cat.anime[release.anime_slug]
        numbers = [e.number for e in anime.episodes if e.number is not None]
        number = int(max(numbers)) + 1 if numbers else 1
        rng = random.Random(f"{cat.seed}:{anime.slug}:timeline:{number}")
        episode = _make_episode(cat, rng, anime, number, release.at)
        anime.episodes.insert(0, episode)
        release.episode_slug = episode.slug
        release.published = True
        if release.kind == "batch":
            anime.status = "Completed"
            anime.total_episodes = len(numbers) + 1
            _add_batch(cat, rng, anime, release.at)


class Conditional:
    """The origin's answers to conditional requests; see the module doc for the modes."""

    MODES = ("off", "honour", "ignore")

    def __init__(self, now: Callable[[], datetime]) -> None:
        self.mode = "off"
        self.etags = True  # False: Last-Modified alone (If-Modified-Since decides)
        self.now = now
        self._since: dict[str, tuple[str, datetime]] = {}  # path -> (etag, changed at)
        self.not_modified = 0  # how many 304s were sent

    def set_mode(self, mode: str) -> None:
        if mode not in self.MODES:
            raise ValueError(f"conditional mode must be one of {self.MODES}, not {mode!r}")
        self.mode = mode

    def answer(self, path: str, html: str, request: _Headers) -> tuple[bool, list[tuple[str, str]]]:
        """(answer 304?, validator headers) for a 200 page ``html`` at ``path``."""
        if self.mode == "off":
            return False, []
        etag = '"' + hashlib.sha1(html.encode()).hexdigest()[:20] + '"'
        known = self._since.get(path)
        if known is None or known[0] != etag:
            # Whole seconds, like the header, and always later than the date sent before:
            # a change within the same second must not look unmodified.
            changed = self.now().replace(microsecond=0)
            if known is not None:
                changed = max(changed, known[1] + timedelta(seconds=1))
            known = (etag, changed)
            self._since[path] = known
        modified = format_datetime(known[1].astimezone(UTC), usegmt=True)
        headers = [("ETag", etag)] if self.etags else []
        headers.append(("Last-Modified", modified))
        if self.mode == "ignore":
            return False, headers
        fresh = _fresh(request, etag if self.etags else None, known[1])
        self.not_modified += fresh
        return fresh, headers


def _fresh(request: _Headers, etag: str | None, changed: datetime) -> bool:
    """RFC 9110: If-None-Match wins when present; else If-Modified-Since."""
    match = request.get("If-None-Match")
    if match is not None and etag is not None:
        tags = {tag.strip().removeprefix("W/") for tag in match.split(",")}
        return etag in tags or "*" in tags
    since = request.get("If-Modified-Since")
    if not since:
        return False
    try:
        when = parsedate_to_datetime(since)
    except (TypeError, ValueError):
        return False
    return when.tzinfo is not None and changed <= when
