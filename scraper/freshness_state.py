"""What the freshness planner (:mod:`scraper.freshness`) needs, read from the database:
the ongoing anime with their schedule day, the times of day their past episodes appeared
here, and the recent ongoing updates (ScrapeRun rows). Nothing is kept in the process, so
the decision is the same in every worker and survives restarts.

An episode's "appearance" is when our update stored it (``Episode.created_at``; the origin
shows only dates), counted only when it is a real sighting: stored after its anime was
first stored (not part of the anime's first crawl) and on the day the origin dates it
(not caught up after an outage). With polls every minute around releases, that is within
a minute or two of the origin publishing it.
"""

from __future__ import annotations

import datetime
from collections import defaultdict

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from catalog.models import Anime, Episode, ScrapeRun
from scraper import freshness

__all__ = ["decide_now", "expectations", "recent_polls"]

DAYS = ("senin", "selasa", "rabu", "kamis", "jumat", "sabtu", "minggu")
HISTORY = datetime.timedelta(days=42)  # six weeks of sightings: enough to see a habit
SIGHTINGS_PER_ANIME = 3
POLLS = 12  # the latest ongoing updates the planner looks at
# An episode stored this long after its anime was first stored is a sighting.
FIRST_CRAWL_SLACK = datetime.timedelta(minutes=10)


def weekday(day: str) -> int | None:
    text = day.strip().casefold().replace("'", "")
    return DAYS.index(text) if text in DAYS else None


def policy() -> freshness.Policy:
    return freshness.Policy(
        hot=datetime.timedelta(minutes=settings.SCRAPER_POLL_HOT_MINUTES),
        cold=datetime.timedelta(minutes=settings.SCRAPER_POLL_QUIET_MINUTES),
    )


def expectations(now: datetime.datetime) -> list[freshness.Expectation]:
    tz = timezone.get_current_timezone()
    ongoing = dict(Anime.objects.ongoing().values_list("pk", "release_day"))
    sightings: dict[int, list[datetime.datetime]] = defaultdict(list)
    last_seen: dict[int, datetime.datetime] = {}
    rows = (
        Episode.objects.filter(
            anime__in=ongoing.keys(),
            created_at__gte=now - HISTORY,
            created_at__gt=F("anime__created_at") + FIRST_CRAWL_SLACK,
        )
        .order_by("-created_at")
        .values_list("anime_id", "created_at", "published_on")
    )
    for anime_id, created_at, published_on in rows.iterator():
        local = created_at.astimezone(tz)
        last_seen.setdefault(anime_id, created_at)
        seen = sightings[anime_id]
        if len(seen) < SIGHTINGS_PER_ANIME and published_on in {None, local.date()}:
            seen.append(local)
    slugs = dict(Anime.objects.filter(pk__in=ongoing.keys()).values_list("pk", "slug"))
    return [
        freshness.Expectation(
            slug=slugs[pk],
            weekday=weekday(day),
            minutes=tuple(t.hour * 60 + t.minute for t in sightings.get(pk, [])),
            last_seen=last_seen.get(pk),
        )
        for pk, day in ongoing.items()
    ]


def recent_polls() -> list[freshness.Poll]:
    """The latest ongoing updates, newest first (skipped ticks are not polls)."""
    runs = (
        ScrapeRun.objects.filter(kind="ongoing", dry_run=False)
        .exclude(status=ScrapeRun.Status.SKIPPED)
        .order_by("-started_at")
        .values_list("started_at", "status", "created", "updated")[:POLLS]
    )
    failed = {ScrapeRun.Status.FAILED, ScrapeRun.Status.INTERRUPTED}
    return [
        freshness.Poll(at=at, ok=status not in failed, found=created + updated)
        for at, status, created, updated in runs
    ]


def decide_now(now: datetime.datetime | None = None) -> freshness.Decision:
    """Whether the ongoing update is due now, from what the database knows."""
    now = timezone.localtime(now or timezone.now())
    return freshness.decide(now, expectations(now), recent_polls(), policy())
