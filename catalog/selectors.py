"""The reads viewer pages share, each a fixed number of queries whatever the size of the
catalogue (no per-row queries), so page costs stay flat as the catalogue grows. What is
cached is cached through catalog/pagecache.py."""

from __future__ import annotations

import re
import string
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from django.core.paginator import InvalidPage, Page, Paginator
from django.db import connection
from django.db.models import Count, Max, QuerySet, Sum
from django.http import Http404
from django.urls import reverse
from django.utils import timezone

from catalog import mirror_reports, pagecache
from catalog.embed_policy import safe_embed_url
from catalog.models import Anime, Batch, DownloadLink, Episode, Genre, StreamLink
from catalog.safe_urls import safe_http_url

CARDS_PER_PAGE = 24
HOME_EPISODES = 18
HOME_COMPLETED = 12
FEED_ITEMS = 30

# The origin's schedule uses Indonesian day names; "Random" collects the rest.
DAYS = ["Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu"]
_DAY_ALIASES = {
    "jum'at": "Jumat",
    "monday": "Senin",
    "tuesday": "Selasa",
    "wednesday": "Rabu",
    "thursday": "Kamis",
    "friday": "Jumat",
    "saturday": "Sabtu",
    "sunday": "Minggu",
}
_CARD_FIELDS = (
    "id",
    "slug",
    "title",
    "poster_url",
    "poster_key",
    "score",
    "type",
    "status",
    "total_episodes",
    "release_day",
    "version",
)
# The characters Django's reverse() leaves unquoted in a path segment.
_URL_SAFE = "!$&'()*+,;=~:@"


# --- Small helpers ----------------------------------------------------------------


def paginate(items: Any, page_param: str | None, per_page: int = CARDS_PER_PAGE) -> Page:
    """The requested page; anything but a valid page number is a 404 (never a 500)."""
    raw = page_param or "1"
    if not raw.isdigit() or len(raw) > 6:
        raise Http404("bad page")
    try:
        return Paginator(items, per_page, allow_empty_first_page=True).page(int(raw))
    except InvalidPage as exc:
        raise Http404("no such page") from exc


def normalise_day(day: str) -> str:
    text = day.strip()
    for name in DAYS:
        if text.casefold() == name.casefold():
            return name
    return _DAY_ALIASES.get(text.casefold(), "")


def today_name(now: datetime | None = None) -> str:
    return DAYS[timezone.localtime(now).weekday()]


def first_letter(title: str) -> str:
    head = unicodedata.normalize("NFKD", title.strip()[:1]).upper()[:1]
    return head if head in string.ascii_uppercase else "#"


# --- Versions: what cached pages are keyed on ---------------------------------------


@dataclass(frozen=True)
class CatalogueVersion:
    anime_count: int
    version_sum: int
    updated_at: float

    def __str__(self) -> str:
        return f"{self.anime_count}.{self.version_sum}.{self.updated_at:.0f}"


def catalogue_version() -> str:
    """One cheap aggregate that changes whenever ingest or an editor changes any anime:
    list pages are keyed on it."""
    return str(_catalogue())


def catalogue_is_empty() -> bool:
    return _catalogue().anime_count == 0


def _catalogue() -> CatalogueVersion:
    return pagecache.until_change("catalogue", _read_catalogue)


def _read_catalogue() -> CatalogueVersion:
    row = Anime.objects.aggregate(n=Count("id"), v=Sum("version"), t=Max("updated_at"))
    return CatalogueVersion(row["n"], row["v"] or 0, row["t"].timestamp() if row["t"] else 0)


@dataclass(frozen=True)
class AnimeVersion:
    pk: int
    version: int
    updated_at: datetime


def anime_version(slug: str) -> AnimeVersion:
    """What a cached anime page needs to be served: id, version, last change. Every request
    needs it: kept until the next announced change, else one query."""
    return pagecache.until_change(("anime", slug), lambda: _read_anime_version(slug))


def _read_anime_version(slug: str) -> AnimeVersion:
    # Hand-written: the ORM's query compilation alone cost a cached page more than half
    # its throughput (BENCHMARKS.md, "Site").
    table = connection.ops.quote_name(Anime._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, version, updated_at FROM {table} WHERE slug = %s", [slug])  # noqa: S608
        row = cursor.fetchone()
    if row is None:
        raise Http404("no such anime")
    return AnimeVersion(int(row[0]), int(row[1]), _db_datetime(row[2]))


def _db_datetime(value: Any) -> datetime:
    # A raw cursor skips the ORM's converters: SQLite gives text, MySQL a naive UTC value.
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if timezone.is_naive(value):
        value = timezone.make_aware(value, UTC)
    return value


# --- Cards and lists --------------------------------------------------------------


def cards(qs: QuerySet[Anime]) -> QuerySet[Anime]:
    return qs.only(*_CARD_FIELDS)


def ongoing_anime() -> QuerySet[Anime]:
    return cards(Anime.objects.ongoing()).order_by("-updated_at", "-id")


def completed_anime() -> QuerySet[Anime]:
    return cards(Anime.objects.completed()).order_by("-updated_at", "-id")


def genre_anime(genre: Genre) -> QuerySet[Anime]:
    return cards(genre.anime.all()).order_by("title", "id")


def newest_episodes(limit: int = HOME_EPISODES, *, ongoing_only: bool = True) -> list[Episode]:
    qs = (
        Episode.objects.newest()
        .select_related("anime")
        .only(
            "id",
            "slug",
            "title",
            "number",
            "published_on",
            "created_at",
            "anime__id",
            "anime__slug",
            "anime__title",
            "anime__poster_url",
            "anime__poster_key",
            "anime__status",
            "anime__type",
        )
    )
    if ongoing_only:
        qs = qs.filter(anime__status=Anime.Status.ONGOING)
    return list(qs[:limit])


def schedule(anime: Iterable[Anime] | None = None) -> list[tuple[str, list[Anime]]]:
    """Ongoing anime grouped by release day, Senin first, unknown days last."""
    rows = anime if anime is not None else cards(Anime.objects.ongoing()).order_by("title")
    by_day: dict[str, list[Anime]] = defaultdict(list)
    for item in rows:
        by_day[normalise_day(item.release_day)].append(item)
    days = [(day, by_day[day]) for day in DAYS if by_day.get(day)]
    if by_day.get(""):
        days.append(("", by_day[""]))
    return days


def today_schedule() -> list[Anime]:
    today = today_name()
    rows = cards(Anime.objects.ongoing()).order_by("title")
    return [a for a in rows if normalise_day(a.release_day) == today]


def az_groups() -> list[tuple[str, list[Any]]]:
    groups: dict[str, list[Any]] = defaultdict(list)
    for row in Anime.objects.order_by("title", "id").values("slug", "title", "type", "status"):
        groups[first_letter(row["title"])].append(row)
    return [
        (letter, groups[letter]) for letter in ["#", *string.ascii_uppercase] if letter in groups
    ]


def genres_with_counts() -> list[Genre]:
    return list(Genre.objects.annotate(n=Count("anime")).order_by("name"))


def genre_or_404(slug: str) -> Genre:
    # Kept until the next announced change, like the versions.
    return pagecache.until_change(("genre", slug), lambda: _genre_or_404(slug))


def _genre_or_404(slug: str) -> Genre:
    genre = Genre.objects.filter(slug=slug).first()
    if genre is None:
        raise Http404("no such genre")
    return genre


# --- Anime page ---------------------------------------------------------------------


@dataclass
class EpisodeRow:
    slug: str
    title: str
    number: Decimal | None
    published_on: Any
    url: str = ""

    @property
    def number_display(self) -> str:
        return "" if self.number is None else f"{self.number.normalize():f}"


@dataclass
class BatchDownloads:
    batch: Batch
    links: list[DownloadLink] = field(default_factory=list)

    @property
    def title(self) -> str:
        return self.batch.title


@dataclass
class AnimeContext:
    anime: Anime
    genres: list[Genre]
    episodes: list[EpisodeRow]
    batches: list[BatchDownloads]


def anime_head(slug: str) -> Anime:
    """The anime row alone (the page's cache key and ETag come from its version)."""
    anime = Anime.objects.filter(slug=slug).first()
    if anime is None:
        raise Http404("no such anime")
    return anime


def anime_by_pk(pk: int) -> Anime:
    anime = Anime.objects.filter(pk=pk).first()
    if anime is None:
        raise Http404("no such anime")
    return anime


def episode_rows(anime: Anime) -> list[EpisodeRow]:
    """The anime's episodes in order. The anime page and every one of its episode pages
    share one cached list per anime version: a new episode page of a 1,000-episode anime
    does not read 1,000 rows again."""

    def load() -> list[tuple[Any, ...]]:
        prefix = reverse("catalog:episode", args=["-"]).removesuffix("-/")
        # Formatting 1,000 URLs once is far cheaper than 1,000 {% url %} tags.
        return [
            (*row, f"{prefix}{quote(row[0], safe=_URL_SAFE)}/")
            for row in Episode.objects.filter(anime_id=anime.pk)
            .order_by("number", "id")
            .values_list("slug", "title", "number", "published_on")
        ]

    rows = pagecache.versioned(("eprows", anime.pk, anime.version), load)
    return [EpisodeRow(*row) for row in rows]


def anime_context(anime: Anime) -> AnimeContext:
    # One query for every batch and its links (instead of batches + a prefetch), so the
    # uncached page stays within its query budget.
    links = (
        DownloadLink.objects.filter(batch__anime=anime)
        .select_related("batch")
        .order_by("batch__title", "batch_id", "format", "quality", "position", "id")
    )
    batches: dict[int, BatchDownloads] = {}
    for link in links:
        if (batch := link.batch) is not None:  # always: the links are read by their batch
            batches.setdefault(batch.pk, BatchDownloads(batch)).links.append(link)
    return AnimeContext(
        anime=anime,
        genres=list(anime.genres.order_by("name")),
        episodes=episode_rows(anime),
        batches=list(batches.values()),
    )


# --- Episode page -------------------------------------------------------------------


@dataclass
class QualityGroup:
    quality: str
    links: list[StreamLink] = field(default_factory=list)


@dataclass
class DownloadGroup:
    format: str
    quality: str
    links: list[DownloadLink] = field(default_factory=list)

    @property
    def size_text(self) -> str:
        return next((link.size_text for link in self.links if link.size_text), "")

    @property
    def size_bytes(self) -> int | None:
        return next((link.size_bytes for link in self.links if link.size_bytes), None)


@dataclass
class EpisodeContext:
    episode: Episode
    anime: Anime
    qualities: list[QualityGroup]
    default_link: StreamLink | None  # the origin's default mirror
    default_embed: str  # what the player starts with
    # The mirror the player starts on (the default unless it is reported or dead), and
    # whether the page must resolve it on load (a working one with no embed stored yet).
    current_link: StreamLink | None
    autoload: bool
    downloads: list[DownloadGroup]
    previous: EpisodeRow | None
    next: EpisodeRow | None
    siblings: list[EpisodeRow]


def episode_head(slug: str) -> Episode:
    """The episode with its anime (whose version keys the page); kept until the next
    announced change (it is only read)."""
    return pagecache.until_change(("episode", slug), lambda: _episode_head(slug))


def _episode_head(slug: str) -> Episode:
    episode = Episode.objects.select_related("anime").filter(slug=slug).first()
    if episode is None:
        raise Http404("no such episode")
    return episode


def _quality_key(quality: str) -> tuple[int, str]:
    digits = re.sub(r"\D", "", quality)
    return (int(digits) if digits else 99999, quality)


_HEALTH_LABELS = {
    mirror_reports.WORKING: "",
    mirror_reports.REPORTED: "reported",
    mirror_reports.DEAD: "dead",
}


def group_stream_links(links: Iterable[StreamLink]) -> list[QualityGroup]:
    groups: dict[str, QualityGroup] = {}
    for link in links:
        groups.setdefault(link.quality, QualityGroup(link.quality)).links.append(link)
    ordered = sorted(groups.values(), key=lambda g: _quality_key(g.quality))
    for group in ordered:
        for link in group.links:
            # What the player marks: "" working, "reported" or "dead".
            setattr(link, "health", _HEALTH_LABELS[mirror_reports.rank(link)])  # noqa: B010
        # Working mirrors first, then reported ones, then dead ones; the origin's order within.
        group.links.sort(
            key=lambda link: (
                mirror_reports.rank(link),
                link.position,
                link.provider.casefold(),
                link.pk,
            )
        )
    return ordered


def group_downloads(links: Iterable[DownloadLink]) -> list[DownloadGroup]:
    groups: dict[tuple[str, str], DownloadGroup] = {}
    for link in links:
        if not safe_http_url(link.url):
            # Stored before ingest checked it, or typed in the admin: never shown.
            continue
        key = (link.format, link.quality)
        groups.setdefault(key, DownloadGroup(link.format, link.quality)).links.append(link)
    return sorted(groups.values(), key=lambda g: (g.format.casefold(), _quality_key(g.quality)))


def _starting_mirror(
    episode: Episode, default: StreamLink | None, groups: list[QualityGroup]
) -> tuple[StreamLink | None, str]:
    """The origin's default while it works; else the first working mirror, one with a
    stored embed first (it plays without asking the origin), of the default's quality
    first. With no working mirror at all the default stays: better than nothing."""
    own = safe_embed_url(episode.default_embed_url)
    if default is None or mirror_reports.rank(default) == mirror_reports.WORKING:
        return default, own or safe_embed_url(default.embed_url if default else "")
    working = [
        link
        for group in groups
        for link in group.links
        if mirror_reports.rank(link) == mirror_reports.WORKING
    ]
    if not working:
        return default, own or safe_embed_url(default.embed_url)
    pick = min(
        working,
        key=lambda link: (not safe_embed_url(link.embed_url), link.quality != default.quality),
    )
    return pick, safe_embed_url(pick.embed_url)


def episode_context(episode: Episode) -> EpisodeContext:
    links = list(
        mirror_reports.with_report_counts(StreamLink.objects.filter(episode=episode)).only(
            "id", "episode_id", "quality", "provider", "position", "is_default", "embed_url", "ok"
        )
    )
    downloads = list(DownloadLink.objects.filter(episode=episode).order_by("position", "id"))
    siblings = episode_rows(episode.anime)
    index = next((i for i, row in enumerate(siblings) if row.slug == episode.slug), None)
    previous = siblings[index - 1] if index and index > 0 else None
    following = siblings[index + 1] if index is not None and index + 1 < len(siblings) else None
    qualities = group_stream_links(links)
    default_link = next((link for link in links if link.is_default), None)
    current, embed = _starting_mirror(episode, default_link, qualities)
    return EpisodeContext(
        episode=episode,
        anime=episode.anime,
        qualities=qualities,
        default_link=default_link,
        default_embed=embed,
        current_link=current,
        autoload=bool(current and current is not default_link and not embed),
        downloads=group_downloads(downloads),
        previous=previous,
        next=following,
        siblings=siblings,
    )
