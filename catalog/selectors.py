"""The reads that viewer pages share: one module, each a fixed number of queries.

Every function here costs the same number of SQL queries whatever the size of the
catalogue (no per-row queries), so page costs stay flat as the catalogue grows.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import re
import string
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import quote, urlsplit

from django.conf import settings
from django.core.cache import cache
from django.core.paginator import InvalidPage, Page, Paginator
from django.db import connection
from django.db.models import Count, Max, Q, QuerySet, Subquery, Sum
from django.http import Http404
from django.urls import reverse
from django.utils import timezone

from catalog import nearcache
from catalog.models import (
    Anime,
    Batch,
    DownloadLink,
    EmbedHost,
    Episode,
    Genre,
    ScrapeRun,
    StreamLink,
)
from catalog.safe_urls import safe_http_url, url_host

logger = logging.getLogger("catalog.selectors")

CARDS_PER_PAGE = 24
HOME_EPISODES = 18
HOME_COMPLETED = 12
FEED_ITEMS = 30
# Longer queries are cut: no title is that long, and it bounds the work per request.
MAX_QUERY_LENGTH = 100
SITE_STATUS_KEY = "site:status:v1"
SITE_STATUS_SECONDS = 15
EMBED_HOSTS_KEY = "site:embed-hosts:v1"
EMBED_HOSTS_SECONDS = 300
# How long a web process may reuse the site status and the embed hosts without asking the
# cache (catalog/nearcache.py "recent"): both already lag by design.
NEAR_RECENT_SECONDS = 5
# Keyed on the anime version, so they never go stale; the timeout only frees memory.
EPISODE_LIST_SECONDS = 3600

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
    "score",
    "type",
    "status",
    "total_episodes",
    "release_day",
    "version",
)
# A CSP host-source we are willing to emit: hostname with an optional port, nothing that
# could close the directive or add another source.
# The characters Django's reverse() leaves unquoted in a path segment.
_URL_SAFE = "!$&'()*+,;=~:@"
_HOST_RE = re.compile(r"^(\*\.)?[a-z0-9.-]+(:\d{1,5})?$")


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


def clean_query(raw: str | None) -> str:
    """A search query safe to store in a cache key and echo back: no control characters."""
    text = "".join(ch for ch in (raw or "") if unicodedata.category(ch)[0] != "C")
    return " ".join(text.split())[:MAX_QUERY_LENGTH]


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


def safe_embed_url(url: str | None) -> str:
    """Only absolute http(s) URLs with a host may become an iframe's src or a link's href
    (never javascript:, data:, whatever their case or the spaces around them): the same
    test the parsers and ingest apply (catalog.safe_urls.safe_http_url)."""
    return safe_http_url(url) or ""


def csp_host(raw: str) -> str:
    """EmbedHost.host as a CSP host-source, or "" when it is not a plain host[:port]."""
    text = raw.strip().lower()
    if "://" in text:
        text = urlsplit(text).netloc
    text = text.rstrip("/")
    return text if _HOST_RE.match(text) else ""


# --- Site status (stale notice, empty state, healthz) ------------------------------


@dataclass(frozen=True)
class SiteStatus:
    last_ok_at: datetime | None
    latest_status: str | None
    latest_errors: str

    @property
    def age(self) -> timedelta | None:
        return None if self.last_ok_at is None else timezone.now() - self.last_ok_at

    @property
    def is_stale(self) -> bool:
        age = self.age
        return age is not None and age > timedelta(minutes=settings.STALE_AFTER_MINUTES)

    @property
    def origin_unreachable(self) -> bool:
        # Only meaningful on an empty catalogue: a failed run with nothing stored means
        # the origin could not be reached, and the useful advice is the offline demo.
        return self.latest_status == ScrapeRun.Status.FAILED

    @property
    def crawl_running(self) -> bool:
        return self.latest_status == ScrapeRun.Status.RUNNING

    @property
    def cache_token(self) -> str:
        stamp = self.last_ok_at.isoformat() if self.last_ok_at else "-"
        return f"{stamp}:{int(self.is_stale)}"


def site_status(*, use_cache: bool = True) -> SiteStatus:
    """Freshness of the data. Micro-cached: a few seconds of lag are fine for a notice."""
    if use_cache and (hit := cache.get(SITE_STATUS_KEY)) is not None:
        return hit
    # One query: the newest run, with the newest successful finish as a subquery.
    last_ok = (
        # A partial run (some pages failed) still brought the catalogue up to date.
        ScrapeRun.objects.filter(
            status__in=[ScrapeRun.Status.OK, ScrapeRun.Status.PARTIAL], finished_at__isnull=False
        )
        .order_by("-finished_at")
        .values("finished_at")[:1]
    )
    latest = (
        ScrapeRun.objects.order_by("-started_at", "-id")
        .annotate(last_ok=Subquery(last_ok))
        .values("status", "errors", "last_ok")
        .first()
    )
    status = SiteStatus(
        last_ok_at=latest["last_ok"] if latest else None,
        latest_status=latest["status"] if latest else None,
        latest_errors=(latest["errors"] if latest else "")[:500],
    )
    cache.set(SITE_STATUS_KEY, status, SITE_STATUS_SECONDS)
    return status


def catalogue_stamp() -> str:
    """One cheap aggregate that changes whenever ingest changes any anime (kept in memory
    until the next announced change where the near cache is on)."""
    return nearcache.current().stamp("catalogue", _catalogue_stamp)


def _catalogue_stamp() -> str:
    row = Anime.objects.aggregate(n=Count("id"), v=Sum("version"), t=Max("updated_at"))
    t = row["t"].timestamp() if row["t"] else 0
    return f"{row['n']}.{row['v'] or 0}.{t:.0f}"


# --- Cards and lists --------------------------------------------------------------


def cards(qs: QuerySet[Anime]) -> QuerySet[Anime]:
    return qs.only(*_CARD_FIELDS)


def ongoing_anime() -> QuerySet[Anime]:
    return cards(Anime.objects.ongoing()).order_by("-updated_at", "-id")


def completed_anime() -> QuerySet[Anime]:
    return cards(Anime.objects.completed()).order_by("-updated_at", "-id")


def genre_anime(genre: Genre) -> QuerySet[Anime]:
    return cards(genre.anime.all()).order_by("title", "id")


def search_anime(query: str) -> QuerySet[Anime]:
    return cards(Anime.objects.search(query)).order_by("title", "id")


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


def az_groups() -> list[tuple[str, list[dict[str, Any]]]]:
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in Anime.objects.order_by("title", "id").values("slug", "title", "type", "status"):
        groups[first_letter(row["title"])].append(row)
    return [
        (letter, groups[letter]) for letter in ["#", *string.ascii_uppercase] if letter in groups
    ]


def genres_with_counts() -> list[Genre]:
    return list(Genre.objects.annotate(n=Count("anime")).order_by("name"))


def genre_or_404(slug: str) -> Genre:
    # Kept in memory until the next announced change, like the versions (nearcache.py).
    return nearcache.current().stamp(("genre", slug), lambda: _genre_or_404(slug))


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
class AnimePage:
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


@dataclass(frozen=True)
class AnimeStamp:
    pk: int
    version: int
    updated_at: datetime


def anime_stamp(slug: str) -> AnimeStamp:
    """What a cached anime page needs to be served: id, version, last change.

    Every request needs it, so web processes keep it in memory until the next announced
    change (catalog/nearcache.py); otherwise it costs one query.
    """
    return nearcache.current().stamp(("anime", slug), lambda: _anime_stamp(slug))


def _anime_stamp(slug: str) -> AnimeStamp:
    # Hand-written: the ORM's query compilation alone cost a cached page more than half
    # its throughput (BENCHMARKS.md, "Site").
    table = connection.ops.quote_name(Anime._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, version, updated_at FROM {table} WHERE slug = %s", [slug])  # noqa: S608
        row = cursor.fetchone()
    if row is None:
        raise Http404("no such anime")
    return AnimeStamp(int(row[0]), int(row[1]), _db_datetime(row[2]))


def _db_datetime(value: Any) -> datetime:
    # A raw cursor skips the ORM's converters: SQLite gives text, MySQL a naive UTC value.
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if timezone.is_naive(value):
        value = timezone.make_aware(value, UTC)
    return value


def anime_by_pk(pk: int) -> Anime:
    anime = Anime.objects.filter(pk=pk).first()
    if anime is None:
        raise Http404("no such anime")
    return anime


def episode_rows(anime_id: int, version: int | None = None) -> list[EpisodeRow]:
    """The anime's episodes in order; cached per anime version when `version` is given.

    The anime page and every one of its episode pages share the cached list, so a new
    episode page of a 1,000-episode anime does not read 1,000 rows again.
    """
    key = f"eprows:{anime_id}:{version}"
    rows = cache.get(key) if version is not None else None
    if rows is None:
        prefix = reverse("catalog:episode", args=["-"]).removesuffix("-/")
        # Formatting 1,000 URLs once is far cheaper than 1,000 {% url %} tags.
        rows = [
            (*row, f"{prefix}{quote(row[0], safe=_URL_SAFE)}/")
            for row in Episode.objects.filter(anime_id=anime_id)
            .order_by("number", "id")
            .values_list("slug", "title", "number", "published_on")
        ]
        if version is not None:
            cache.set(key, rows, EPISODE_LIST_SECONDS)
    return [EpisodeRow(*row) for row in rows]


def anime_page(anime: Anime) -> AnimePage:
    # One query for every batch and its links (instead of batches + a prefetch), so the
    # uncached page stays within its query budget.
    links = (
        DownloadLink.objects.filter(batch__anime=anime)
        .select_related("batch")
        .order_by("batch__title", "batch_id", "format", "quality", "position", "id")
    )
    batches: dict[int, BatchDownloads] = {}
    for link in links:
        batches.setdefault(link.batch_id, BatchDownloads(link.batch)).links.append(link)
    return AnimePage(
        anime=anime,
        genres=list(anime.genres.order_by("name")),
        episodes=episode_rows(anime.pk, anime.version),
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
class EpisodePage:
    episode: Episode
    anime: Anime
    qualities: list[QualityGroup]
    default_link: StreamLink | None
    default_embed: str
    downloads: list[DownloadGroup]
    previous: EpisodeRow | None
    next: EpisodeRow | None
    siblings: list[EpisodeRow]


def episode_head(slug: str) -> Episode:
    """The episode with its anime (whose version keys the page). Web processes keep it in
    memory until the next announced change (catalog/nearcache.py); it is only read."""
    return nearcache.current().stamp(("episode", slug), lambda: _episode_head(slug))


def _episode_head(slug: str) -> Episode:
    episode = Episode.objects.select_related("anime").filter(slug=slug).first()
    if episode is None:
        raise Http404("no such episode")
    return episode


def _quality_key(quality: str) -> tuple[int, str]:
    digits = re.sub(r"\D", "", quality)
    return (int(digits) if digits else 99999, quality)


def group_stream_links(links: Iterable[StreamLink]) -> list[QualityGroup]:
    groups: dict[str, QualityGroup] = {}
    for link in links:
        groups.setdefault(link.quality, QualityGroup(link.quality)).links.append(link)
    ordered = sorted(groups.values(), key=lambda g: _quality_key(g.quality))
    for group in ordered:
        group.links.sort(key=lambda link: (link.position, link.provider.casefold(), link.pk))
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


def episode_page(episode: Episode) -> EpisodePage:
    links = list(
        StreamLink.objects.filter(episode=episode).only(
            "id", "episode_id", "quality", "provider", "position", "is_default", "embed_url"
        )
    )
    downloads = list(DownloadLink.objects.filter(episode=episode).order_by("position", "id"))
    siblings = episode_rows(episode.anime_id, episode.anime.version)
    index = next((i for i, row in enumerate(siblings) if row.slug == episode.slug), None)
    previous = siblings[index - 1] if index and index > 0 else None
    following = siblings[index + 1] if index is not None and index + 1 < len(siblings) else None
    default_link = next((link for link in links if link.is_default), None)
    default_embed = safe_embed_url(episode.default_embed_url) or safe_embed_url(
        default_link.embed_url if default_link else ""
    )
    return EpisodePage(
        episode=episode,
        anime=episode.anime,
        qualities=group_stream_links(links),
        default_link=default_link,
        default_embed=default_embed,
        downloads=group_downloads(downloads),
        previous=previous,
        next=following,
        siblings=siblings,
    )


# --- Embed hosts (CSP frame-src) ----------------------------------------------------


# The origin does not decide what we frame. An embed host is allowed when it is listed in
# settings.EMBED_HOSTS_ALLOWED (the policy) or an admin approved its EmbedHost row; a host
# the scraper finds otherwise is recorded pending (EmbedHost.approved False): never in the
# CSP, never framed, never fetched by the health check.
#
# A policy entry is "host" (default port only, as in a CSP host-source), "host:port",
# "host:*" (any port) or "*.domain" (its subdomains, not the domain itself). Each becomes
# one regular expression, used both in Python and in the database (admin, frame hosts),
# written with the syntax SQLite's, MySQL's and MariaDB's REGEXP all read alike.
_POLICY_ENTRY_RE = re.compile(r"(\*\.)?([a-z0-9_-]+(?:\.[a-z0-9_-]+)*)(?::(\d{1,5}|\*))?")


def _policy_entry_regex(entry: str) -> str | None:
    match = _POLICY_ENTRY_RE.fullmatch(entry.strip().lower())
    if match is None:
        return None
    wildcard, host, port = match.groups()
    body = host.replace(".", "[.]")
    if wildcard:
        body = f"([a-z0-9_-]+[.])+{body}"
    if port == "*":
        body += "(:[0-9]+)?"
    elif port:
        body += f":{int(port)}"
    return body


@functools.lru_cache(maxsize=8)
def _policy_regex(entries: tuple[str, ...]) -> str | None:
    parts = []
    for entry in entries:
        if regex := _policy_entry_regex(entry):
            parts.append(regex)
        else:  # said once per process and list (cached): the operator may have typed a URL
            logger.warning("EMBED_HOSTS_ALLOWED: %r is no host pattern; ignored", entry)
    return f"^({'|'.join(parts)})$" if parts else None


def embed_policy_regex() -> str | None:
    """EMBED_HOSTS_ALLOWED as one anchored regular expression over EmbedHost.host values
    (lower-case `host[:port]`), or None when the list is empty. Malformed entries (a URL, a
    path, a space) are ignored: they could never match a host."""
    return _policy_regex(tuple(getattr(settings, "EMBED_HOSTS_ALLOWED", ()) or ()))


def host_in_policy(host: str) -> bool:
    """Whether `host[:port]` (as EmbedHost stores it) is allowed by EMBED_HOSTS_ALLOWED."""
    pattern = embed_policy_regex()
    return bool(pattern and re.match(pattern, host.lower()))


def allowed_hosts_q() -> Q:
    """EmbedHost rows that may be framed: approved in the admin or listed in the policy."""
    condition = Q(approved=True)
    if pattern := embed_policy_regex():
        condition |= Q(host__regex=pattern)
    return condition


@functools.lru_cache(maxsize=8)
def _policy_key(pattern: str) -> str:
    return f"{EMBED_HOSTS_KEY}:{hashlib.sha256(pattern.encode()).hexdigest()[:12]}"


def _embed_hosts_key() -> str:
    # Keyed on the policy too: a changed EMBED_HOSTS_ALLOWED applies after a restart at
    # once, not when the shared cache's copy expires.
    return _policy_key(embed_policy_regex() or "")


def embed_hosts() -> list[str]:
    """The CSP frame-src host-sources of episode pages: the allowed embed hosts seen."""
    near = nearcache.current()
    key = _embed_hosts_key()
    if (hit := near.recent(key)) is not None:
        return hit
    hosts = cache.get(key)
    if hosts is None:
        rows = EmbedHost.objects.filter(allowed_hosts_q()).values_list("host", flat=True)
        hosts = sorted({h for h in map(csp_host, rows) if h})
        cache.set(key, hosts, EMBED_HOSTS_SECONDS)
    # A few seconds behind at most in other processes: a host approved in the admin or
    # found by a mirror resolved elsewhere reaches this process's pages that much later.
    near.keep_recent(key, hosts, NEAR_RECENT_SECONDS)
    return hosts


def embed_url_allowed(url: str | None) -> bool:
    """Whether an embed URL may be framed: safe http(s), on a host the CSP can name, listed
    in the policy or approved in the admin. Asks the database (one query at most), not the
    cached frame hosts, so a host recorded a moment ago is judged at once."""
    host = url_host(url)
    if host is None or not csp_host(host):
        return False
    return host_in_policy(host) or EmbedHost.objects.filter(host=host, approved=True).exists()


def forget_embed_hosts() -> None:
    """Called after a mirror resolves (the host it found may be new) and after an admin
    approves or rejects hosts."""
    key = _embed_hosts_key()
    cache.delete(key)
    nearcache.current().drop_recent(key)


def host_allowed(url: str, hosts: Iterable[str]) -> bool:
    parts = urlsplit(url)
    allowed = set(hosts)
    netloc = (parts.netloc or "").lower()
    return netloc in allowed or (parts.port is None and (parts.hostname or "") in allowed)


# --- Cached rendering ---------------------------------------------------------------


def cached(key: str, build: Callable[[], Any], timeout: int = 3600) -> Any:
    value = cache.get(key)
    if value is None:
        value = build()
        cache.set(key, value, timeout)
    return value
