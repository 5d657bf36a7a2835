"""Reads for what a viewer follows and for the release calendar.

The follow list itself lives in the viewer's browser (static/js/follow.js): there are no
accounts. The browser asks for the anime it follows by slug (`?anime=a,b,c`), so an
answer depends on the requested slugs and the catalogue only, and is cached on the
catalogue's version through catalog/pagecache.py like every page.
"""

from __future__ import annotations

import datetime
import hashlib
import unicodedata
from collections.abc import Iterable
from typing import Any

from django.db.models import F, Window
from django.db.models.functions import RowNumber
from django.utils import formats, timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from catalog import pagecache, posters
from catalog import selectors as sel
from catalog.models import Anime, Episode
from catalog.templatetags.catalog_tags import day_label

# A follow list is a viewer's own handful of shows; the bound keeps one request's work
# (and the cache key's input) small. static/js/follow.js has the same limit.
MAX_SLUGS = 100
EPISODES_PER_ANIME = 3
MAX_SLUG_LENGTH = 255
# The calendar's time of day: an episode stored this long after its anime was first
# stored was seen arriving (not part of the first crawl), as scraper/freshness_state.py.
FIRST_CRAWL_SLACK = datetime.timedelta(minutes=10)
SIGHTING_HISTORY = datetime.timedelta(days=42)


class BadSlugsError(ValueError):
    """`?anime=` is not a list of at most MAX_SLUGS slugs."""


def parse_slugs(raw: str) -> list[str]:
    """`a,b,c` as unique slugs in the given order; empty items are skipped."""
    slugs = list(dict.fromkeys(part.strip() for part in raw.split(",") if part.strip()))
    if len(slugs) > MAX_SLUGS:
        raise BadSlugsError(f"at most {MAX_SLUGS} anime")
    for slug in slugs:
        if len(slug) > MAX_SLUG_LENGTH or "/" in slug or any(_odd(ch) for ch in slug):
            raise BadSlugsError("not a slug")
    return slugs


def _odd(ch: str) -> bool:
    return ch.isspace() or unicodedata.category(ch)[0] == "C"


def slugs_key(slugs: Iterable[str]) -> str:
    """The same set in any order shares one cache entry."""
    return hashlib.sha256("\n".join(sorted(slugs)).encode()).hexdigest()[:32]


# --- Newest episodes of followed anime ---------------------------------------------


def followed(slugs: list[str]) -> dict[str, Any]:
    """The requested anime (by slug) with their newest episodes, as plain JSON-ready data
    (texts in the current language), cached until the catalogue changes."""
    # One entry per set, whatever the order asked in: the answer lists anime by slug.
    ordered = sorted(set(slugs))
    parts = ("follow:v1", sel.catalogue_version(), get_language(), slugs_key(ordered))
    return pagecache.versioned(parts, lambda: _load_followed(ordered))


def _load_followed(slugs: list[str]) -> dict[str, Any]:
    rows = {
        a.slug: a
        for a in Anime.objects.filter(slug__in=slugs).only(
            "id", "slug", "title", "poster_key", "status", "release_day"
        )
    }
    episodes: dict[int, list[dict[str, Any]]] = {a.pk: [] for a in rows.values()}
    for episode in _newest_per_anime(list(episodes)):
        episodes[episode.anime_id].append(_episode_data(episode))
    return {
        "anime": [_anime_data(rows[s], episodes[rows[s].pk]) for s in slugs if s in rows],
        "missing": [s for s in slugs if s not in rows],
    }


def _newest_per_anime(anime_ids: list[int]) -> list[Episode]:
    """The newest EPISODES_PER_ANIME episodes of each anime, in one query."""
    if not anime_ids:
        return []
    newest = [F("published_on").desc(nulls_last=True), F("created_at").desc(), F("id").desc()]
    rank = Window(RowNumber(), partition_by=[F("anime_id")], order_by=newest)
    return list(
        Episode.objects.filter(anime_id__in=anime_ids)
        .annotate(rank=rank)
        .filter(rank__lte=EPISODES_PER_ANIME)
        .only("id", "anime_id", "slug", "title", "number", "published_on", "created_at")
        .order_by("anime_id", "rank")
    )


def _anime_data(anime: Anime, episodes: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "slug": anime.slug,
        "title": anime.title,
        "url": anime.get_absolute_url(),
        # Our own copy (catalog/posters.py); "" until the worker has fetched it.
        "poster": posters.poster_src(anime, posters.WIDTHS[1]),
        "status": anime.get_status_display(),
        "ongoing": anime.status == Anime.Status.ONGOING,
        "day": day_label(sel.normalise_day(anime.release_day)) if anime.release_day else "",
        "episodes": episodes,
    }


def _episode_data(episode: Episode) -> dict[str, Any]:
    label = (
        _("Eps %(n)s") % {"n": episode.number_display}
        if episode.number is not None
        else episode.title
    )
    day = episode.published_on
    return {
        "slug": episode.slug,
        "url": episode.get_absolute_url(),
        "title": episode.title,
        "label": label,
        "date": day.isoformat() if day else "",
        "date_text": formats.date_format(day, "j M Y") if day else "",
        # When it appeared here: the browser marks it "baru" when that is after the
        # viewer's previous visit.
        "added": episode.created_at.isoformat(),
    }


# --- The release calendar -----------------------------------------------------------


def calendar_anime(slugs: list[str] | None) -> list[Anime]:
    """Ongoing anime with a known release day: all, or those of `slugs`."""
    qs = Anime.objects.ongoing().order_by("title", "id")
    if slugs is not None:
        qs = qs.filter(slug__in=slugs)
    return [a for a in qs if sel.normalise_day(a.release_day)]


def release_times(anime: list[Anime], now: datetime.datetime) -> dict[int, datetime.time]:
    """The local time of day each anime's newest episode was seen arriving here (skipping
    first-crawl rows and catch-ups on a later day), for those that have one."""
    tz = timezone.get_current_timezone()
    rows = (
        Episode.objects.filter(
            anime__in=[a.pk for a in anime],
            created_at__gte=now - SIGHTING_HISTORY,
            created_at__gt=F("anime__created_at") + FIRST_CRAWL_SLACK,
        )
        .order_by("-created_at")
        .values_list("anime_id", "created_at", "published_on")
    )
    times: dict[int, datetime.time] = {}
    for anime_id, created_at, published_on in rows.iterator():
        local = created_at.astimezone(tz)
        if anime_id not in times and published_on in {None, local.date()}:
            times[anime_id] = local.time().replace(second=0, microsecond=0)
    return times
