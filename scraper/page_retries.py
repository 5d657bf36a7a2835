"""When an episode page that failed is asked for again.

An episode listed on its anime's page whose own page failed (5xx after the client's
retries, or a layout the parser does not know) is tried again by later updates: after
10 minutes, then twice as long after each further failure, at most a day apart; after
PAGE_RETRY_LIMIT failures only an operator's crawl of its anime tries it (the admin's
"page missing" filter lists it). Roughly two weeks of automatic tries.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping

from django.db import models
from django.utils import timezone

from catalog.models import PAGE_RETRY_LIMIT, Episode

__all__ = [
    "PAGE_RETRY_FIRST",
    "PAGE_RETRY_LIMIT",
    "PAGE_RETRY_LONGEST",
    "anime_with_pages_due",
    "page_due",
    "page_due_filter",
    "page_retry_delay",
    "record_anime_page_failure",
    "record_page_results",
]

PAGE_RETRY_FIRST = datetime.timedelta(minutes=10)
PAGE_RETRY_LONGEST = datetime.timedelta(days=1)


def page_retry_delay(attempts: int) -> datetime.timedelta:
    """The pause after an episode page's `attempts`-th failure in a row."""
    if attempts > PAGE_RETRY_LIMIT:  # keeps the power small; the cap is reached long before
        return PAGE_RETRY_LONGEST
    return min(PAGE_RETRY_FIRST * 2 ** max(attempts - 1, 0), PAGE_RETRY_LONGEST)


def page_due(
    post_id: int | None,
    attempts: int,
    retry_at: datetime.datetime | None,
    now: datetime.datetime,
) -> bool:
    """Whether an episode's page should be fetched by an update (not a full refresh):
    it lacks the page's data, and its pause after the last failure is over, and the
    automatic tries are not used up. Never tried at all (retry_at NULL) counts as due."""
    return post_id is None and attempts < PAGE_RETRY_LIMIT and (retry_at is None or retry_at <= now)


def page_due_filter(now: datetime.datetime) -> models.Q:
    """`page_due` as a query filter on Episode."""
    return models.Q(post_id__isnull=True, page_attempts__lt=PAGE_RETRY_LIMIT) & (
        models.Q(page_retry_at__isnull=True) | models.Q(page_retry_at__lte=now)
    )


def anime_with_pages_due(now: datetime.datetime | None = None) -> list[str]:
    """Slugs of the anime that have an episode whose page is due for another try (one
    query; the updates add these anime to their work)."""
    due = Episode.objects.filter(page_due_filter(now or timezone.now()))
    return sorted(set(due.values_list("anime__slug", flat=True)))


def record_page_results(
    episodes: Mapping[str, Episode],
    read: Iterable[str],
    failed: Mapping[str, str],
    now: datetime.datetime,
) -> None:
    """Bookkeeping of the episode pages an ingest asked for (`episodes`: the anime's rows
    by slug; `read`: slugs of the pages read; `failed`: slug -> why). A page read clears
    the retry state; a failed one on an episode still without its page's data counts one
    more attempt and sets the next try. (A failure on an episode that has its data from an
    earlier crawl only stays an error of the run: it has nothing to repair.)"""
    to_update: list[Episode] = []
    for slug in read:
        episode = episodes.get(slug)
        if episode is not None and (
            episode.page_attempts or episode.page_retry_at or episode.page_error
        ):
            episode.page_attempts, episode.page_retry_at, episode.page_error = 0, None, ""
            to_update.append(episode)
    # An episode no longer listed on its anime's page is not in `episodes`: read it.
    unlisted = [slug for slug in failed if slug not in episodes]
    rows = {**episodes, **{e.slug: e for e in Episode.objects.filter(slug__in=unlisted)}}
    for slug, error in failed.items():
        episode = rows.get(slug)
        if episode is not None and episode.post_id is None:
            _count_page_failure(episode, error, now)
            to_update.append(episode)
    _save_page_state(to_update)


def _count_page_failure(episode: Episode, error: str, now: datetime.datetime) -> None:
    episode.page_attempts = min(episode.page_attempts + 1, 32767)
    episode.page_retry_at = now + page_retry_delay(episode.page_attempts)
    episode.page_error = error[:500]


def _save_page_state(episodes: list[Episode]) -> None:
    if episodes:
        # Bookkeeping only: not counted as a change, no new updated_at, no cache bump.
        Episode.objects.bulk_update(episodes, ["page_attempts", "page_retry_at", "page_error"])


def record_anime_page_failure(
    anime_slug: str, error: str, now: datetime.datetime | None = None
) -> int:
    """An anime's own page failed, so the pages of its episodes due for a retry were not
    asked for: they count a failed attempt too (else an anime gone from the origin would
    be asked for by every update for ever). Returns how many episodes that concerned."""
    now = now or timezone.now()
    due = list(Episode.objects.filter(page_due_filter(now), anime__slug=anime_slug))
    for episode in due:
        _count_page_failure(episode, error, now)
    _save_page_state(due)
    return len(due)
