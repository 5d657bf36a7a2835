"""The scraper's writes: parsed pages become catalogue rows; mirrors get resolved.

Ingest is one transaction per anime (detail + its episode pages + its batch), keyed on
slugs, and idempotent: a field is written only when its value differs, so a second crawl
of an unchanged origin creates and updates nothing. Values the page did not give (None,
"" or an empty list: a missing optional row) never blank what is already stored, and a
page that failed to parse never reaches this module at all.
"""

from __future__ import annotations

import datetime
import logging
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection, models, transaction
from django.utils import timezone

from catalog.models import (
    Anime,
    Batch,
    DownloadLink,
    EmbedHost,
    Episode,
    Genre,
    ScrapeRun,
    StreamLink,
    fold_text,
)
from catalog.selectors import host_in_policy
from catalog.services import bump_versions
from scraper import parsers
from scraper.client import BudgetExhausted, ClientError, FetchError, Lane, OriginClient
from scraper.parsers import (
    AnimeDetail,
    EpisodePage,
    ParseError,
    parse_embed_response,
    parse_nonce_response,
)
from scraper.parsers import DownloadLink as ParsedDownload
from scraper.parsers.common import safe_http_url, url_host
from scraper.parsers.types import BatchPage

logger = logging.getLogger("scraper.services")

NONCE_TTL = 10 * 60
STALE_NONCE_STATUSES = frozenset(
    {400, 403}
)  # the site's own script reuses a nonce; peers cache it ~10 minutes
ACTIONS_TTL = 7 * 24 * 3600
RESOLVED_FRESH_FOR = datetime.timedelta(hours=6)

# An episode listed on its anime's page whose own page failed (5xx after the client's
# retries, or a layout the parser does not know) is tried again by later updates: after
# 10 minutes, then twice as long after each further failure, at most a day apart; after
# PAGE_RETRY_LIMIT failures only an operator's crawl of its anime tries it (the admin's
# "page missing" filter lists it). Roughly two weeks of automatic tries.
PAGE_RETRY_FIRST = datetime.timedelta(minutes=10)
PAGE_RETRY_LONGEST = datetime.timedelta(days=1)
PAGE_RETRY_LIMIT = 20


# --------------------------------------------------------------------------- counting


@dataclass
class Counts:
    """Rows created / updated / unchanged by ingest (summed over a run)."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def add(self, other: Counts) -> None:
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated)


@dataclass(frozen=True)
class AnimeBundle:
    """Everything fetched for one anime, ingested together or not at all."""

    detail: AnimeDetail
    episodes: list[EpisodePage] = field(default_factory=list)
    batch: BatchPage | None = None
    release_day: str | None = None
    # Episode pages that were asked for and failed: slug -> why. Recorded on the episode
    # rows in the same transaction, so a later update tries them again (and a dry run,
    # rolled back, records nothing).
    failed_episodes: Mapping[str, str] = field(default_factory=dict)


def current_base_url() -> str:
    """Where the catalogue came from: the last successful crawl's origin (it may have been
    given with --base-url or reached after a domain move), else the configured one."""
    latest = (
        # A partial run (some pages failed) reached the origin all the same.
        ScrapeRun.objects.filter(
            status__in=[ScrapeRun.Status.OK, ScrapeRun.Status.PARTIAL], dry_run=False
        )
        .exclude(base_url="")
        .order_by("-finished_at")
        .values_list("base_url", flat=True)
        .first()
    )
    return latest or settings.OTAKUDESU_BASE_URL


def make_client(base_url: str | None = None, **overrides: Any) -> OriginClient:
    """The scraper's HTTP client, configured from settings."""
    options: dict[str, Any] = {
        "rate": settings.SCRAPER_RATE_LIMIT or None,
        "timeout": settings.SCRAPER_TIMEOUT,
        "retries": settings.SCRAPER_RETRIES,
        "cookie_path": settings.SCRAPER_COOKIE_PATH,
    }
    options.update(overrides)
    return OriginClient(base_url or settings.OTAKUDESU_BASE_URL, **options)


# --------------------------------------------------------------------------- helpers


def _blank(value: Any) -> bool:
    return value is None or value in ("", [])


def _assign(obj: models.Model, values: Mapping[str, Any], *, keep_stored: bool = True) -> bool:
    """Set the differing fields; with keep_stored a blank new value never erases data."""
    changed = False
    for name, value in values.items():
        current = getattr(obj, name)
        if keep_stored and _blank(value) and not _blank(current):
            continue
        if current != value:
            setattr(obj, name, value)
            changed = True
    return changed


def _decimal(number: float | None) -> Decimal | None:
    if number is None:
        return None
    return Decimal(str(number)).quantize(Decimal("0.01"))


def embed_host(url: str | None) -> str | None:
    """The lower-case `host[:port]` of a safe http(s) embed URL (what EmbedHost stores),
    else None (javascript:, data:, user info, no host...)."""
    return url_host(url)


# last_seen is written at most this often per host: every ingest would otherwise update
# (and lock) the same few rows that web processes resolving mirrors also touch.
EMBED_HOST_SEEN_EVERY = datetime.timedelta(hours=1)


def remember_embed_hosts(urls: Iterable[str | None]) -> list[str]:
    """Record the hosts of embed URLs the scraper met; return the new ones left pending.

    Recording is not allowing: a new host is stored with approved=False and stays out of
    the CSP, the player and the health check until EMBED_HOSTS_ALLOWED lists it or an admin
    approves it (catalog.selectors embed policy). A new pending host is logged once, here.
    """
    hosts = {h for h in (embed_host(u) for u in urls) if h}
    if not hosts:
        return []
    now = timezone.now()
    known = set(EmbedHost.objects.filter(host__in=hosts).values_list("host", flat=True))
    new = sorted(hosts - known)
    EmbedHost.objects.bulk_create(
        [EmbedHost(host=h, last_seen=now) for h in new], ignore_conflicts=True
    )
    if known:
        EmbedHost.objects.filter(host__in=known).filter(
            models.Q(last_seen__isnull=True) | models.Q(last_seen__lt=now - EMBED_HOST_SEEN_EVERY)
        ).update(last_seen=now)
    pending = [h for h in new if not host_in_policy(h)]
    for host in pending:
        logger.warning("host embed baru menunggu persetujuan: %s", host)
    return pending


# --------------------------------------------------------------------------- ingest


# Columns the database drivers take as they are; any other type goes through the field's
# own conversion (aware datetimes, decimals, JSON...).
_PLAIN_COLUMN_TYPES = frozenset(
    {
        "CharField",
        "TextField",
        "BooleanField",
        "IntegerField",
        "BigIntegerField",
        "SmallIntegerField",
        "PositiveIntegerField",
        "PositiveBigIntegerField",
        "PositiveSmallIntegerField",
        "ForeignKey",
    }
)

# Stored link rows are read as plain tuples, not model instances: a no-change ingest of an
# anime compares ~500 of them, and building model objects was most of its time.
_STREAM_KEY = ("quality", "provider")
_STREAM_VALUES = (
    "token_id",
    "token_i",
    "token_q",
    "is_default",
    "position",
    "embed_url",
    "resolved_at",
    "ok",
    "checked_at",
)
_DOWNLOAD_KEY = ("format", "quality", "provider")
_DOWNLOAD_VALUES = ("url", "size_text", "size_bytes", "position")

Row = dict[str, Any]
LinkRows = dict[int, dict[tuple[Any, ...], Row]]  # owner pk -> natural key -> column values


def _insert_rows(model: type[models.Model], rows: list[Row]) -> None:
    """One multi-row INSERT of plain column values (omitted columns get their defaults).

    bulk_create builds a model instance and runs the SQL compiler's per-value preparation
    for every row; for the ~800 link rows of an anime that cost more than the database's
    own work. The drivers batch an executemany of an INSERT into multi-row statements.
    """
    if not rows:
        return
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    plain = [f.get_internal_type() in _PLAIN_COLUMN_TYPES for f in fields]
    defaults = [f.get_default() for f in fields]
    now = timezone.now()
    params = []
    for row in rows:
        values = []
        for f, is_plain, default in zip(fields, plain, defaults, strict=True):
            value = row.get(f.attname, default)
            if value is None and (
                getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
            ):
                value = now
            if not is_plain and value is not None:
                value = f.get_db_prep_save(value, connection)
            values.append(value)
        params.append(values)
    qn = connection.ops.quote_name
    columns = ", ".join(qn(f.column) for f in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    # Only quoted identifiers from the model are formatted in; values are parameters.
    sql = f"INSERT INTO {qn(model._meta.db_table)} ({columns}) VALUES ({placeholders})"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


def _stored_links(
    model: type[models.Model],
    owner_field: str,
    owner_ids: Iterable[int],
    key_fields: tuple[str, ...],
    value_fields: tuple[str, ...],
) -> LinkRows:
    """The stored link rows of some owners, in one query."""
    ids = list(owner_ids)
    result: LinkRows = {}
    if not ids:
        return result
    names = ("pk", owner_field, *key_fields, *value_fields)
    key_end = 2 + len(key_fields)
    query = model.objects.filter(**{f"{owner_field}__in": ids}).order_by()
    for values in query.values_list(*names):
        result.setdefault(values[1], {})[values[2:key_end]] = dict(zip(names, values, strict=True))
    return result


def _sync_links(
    model: type[models.Model],
    *,
    owner_field: str,
    stored: LinkRows,
    wanted: LinkRows,
    key_fields: tuple[str, ...],
    counts: Counts,
) -> None:
    """Upsert the link rows of several owners keyed on `key_fields`, with one statement per
    kind of write; drop rows a page no longer lists, but only when the page listed some
    (an empty list means "not shown")."""
    to_create: list[Row] = []
    to_update: list[models.Model] = []
    update_fields: set[str] = set()
    to_delete: list[int] = []
    for owner_id, rows in wanted.items():
        leftover = dict(stored.get(owner_id, {}))
        for key, values in rows.items():
            row = leftover.pop(key, None)
            if row is None:
                to_create.append(
                    {owner_field: owner_id, **dict(zip(key_fields, key, strict=True)), **values}
                )
            elif any(row[name] != value for name, value in values.items()):
                # Built from the whole stored row: bulk_update writes every listed field.
                to_update.append(model(**{**row, **values}))
                update_fields.update(values)
            else:
                counts.unchanged += 1
        if rows and leftover:
            to_delete.extend(row["pk"] for row in leftover.values())
    if to_delete:
        model.objects.filter(pk__in=to_delete).delete()
        counts.updated += len(to_delete)
    if to_create:
        _insert_rows(model, to_create)
        counts.created += len(to_create)
    if to_update:
        model.objects.bulk_update(to_update, sorted(update_fields))
        counts.updated += len(to_update)


def _download_rows(downloads: Iterable[ParsedDownload]) -> dict[tuple[str, ...], dict[str, Any]]:
    rows: dict[tuple[str, ...], dict[str, Any]] = {}
    for position, link in enumerate(downloads):
        url = safe_http_url(link.url)
        if url is None:  # checked again here (the parser already did): only http(s)
            continue
        key = (link.format or "", link.quality or "", link.provider[:64])
        rows.setdefault(
            key,
            {
                "url": url,
                "size_text": link.size or "",
                "size_bytes": link.size_bytes,
                "position": position,
            },
        )
    return rows


def _stream_rows(page: EpisodePage) -> dict[tuple[str, ...], dict[str, Any]]:
    rows: dict[tuple[str, ...], dict[str, Any]] = {}
    for position, mirror in enumerate(page.mirrors):
        key = (mirror.quality or mirror.token.q or "", mirror.provider[:64])
        rows.setdefault(
            key,
            {
                "token_id": mirror.token.id,
                "token_i": mirror.token.i,
                "token_q": mirror.token.q,
                "is_default": mirror.is_default,
                "position": position,
            },
        )
    return rows


def _upsert_genres(detail: AnimeDetail, counts: Counts) -> list[Genre]:
    if not detail.genres:
        return []
    stored = {g.slug: g for g in Genre.objects.filter(slug__in=[g.slug for g in detail.genres])}
    result = []
    for ref in detail.genres:
        genre = stored.get(ref.slug)
        if genre is None:
            genre = Genre.objects.create(slug=ref.slug, name=ref.name)
            stored[ref.slug] = genre
            counts.created += 1
        elif _assign(genre, {"name": ref.name}):
            genre.save(update_fields=["name"])
            counts.updated += 1
        result.append(genre)
    return result


def _anime_values(bundle: AnimeBundle) -> dict[str, Any]:
    d = bundle.detail
    return {
        "title": d.title,
        "title_japanese": d.title_japanese or "",
        "score": _decimal(d.score),
        "type": d.type or "",
        "status": d.status or "",
        "total_episodes": d.total_episodes,
        "duration": d.duration or "",
        "release_date": d.release_date,
        "release_date_text": "" if d.release_date else (d.release_date_text or ""),
        "release_day": bundle.release_day or "",
        "studios": list(d.studios),
        "producers": list(d.producers),
        "synopsis": d.synopsis or "",
        "poster_url": d.poster_url or "",
        "lengkap_slug": d.lengkap.slug if d.lengkap else "",
    }


def _upsert_anime(bundle: AnimeBundle, counts: Counts) -> tuple[Anime, bool]:
    values = _anime_values(bundle)
    anime = Anime.objects.select_for_update().filter(slug=bundle.detail.slug).first()
    if anime is None:
        anime = Anime(slug=bundle.detail.slug)
        _assign(anime, values)
        anime.status = anime.status or Anime.Status.ONGOING
        anime.save()
        counts.created += 1
        return anime, True
    if _assign(anime, values):
        anime.search_text = fold_text(anime.title, anime.title_japanese, anime.slug)
        anime.save()
        counts.updated += 1
        return anime, True
    counts.unchanged += 1
    return anime, False


def _upsert_episodes(anime: Anime, bundle: AnimeBundle, counts: Counts) -> dict[str, Episode]:
    pages = {page.slug: page for page in bundle.episodes}
    slugs = [ref.slug for ref in bundle.detail.episodes] + [
        s for s in pages if s not in {r.slug for r in bundle.detail.episodes}
    ]
    stored = {e.slug: e for e in Episode.objects.filter(slug__in=slugs)}
    to_create: list[Episode] = []
    to_update: list[Episode] = []
    wanted: dict[str, dict[str, Any]] = {}
    for ref in bundle.detail.episodes:
        wanted[ref.slug] = {
            "title": ref.title,
            "number": _decimal(ref.number),
            "published_on": ref.published_on,
        }
    for slug, page in pages.items():
        values = wanted.setdefault(slug, {"title": page.title, "number": None})
        values["post_id"] = page.post_id
        # Checked again here (the parser already did): nothing but http(s) is stored.
        values["default_embed_url"] = safe_http_url(page.default_embed_url) or ""
        if page.published_on and not values.get("published_on"):
            values["published_on"] = page.published_on
    for slug, values in wanted.items():
        episode = stored.get(slug)
        if episode is None:
            # `is not None`, not truthiness: an "Episode 0" (number 0) must be stored as 0 at
            # once, or the next identical crawl "updates" it from NULL to 0.
            given = {k: v for k, v in values.items() if v is not None}
            episode = Episode(anime=anime, slug=slug, **given)
            episode.title = episode.title or slug
            to_create.append(episode)
        else:
            changed = _assign(episode, values)
            if episode.anime_id != anime.pk:
                episode.anime = anime
                changed = True
            if changed:
                to_update.append(episode)
            else:
                counts.unchanged += 1
    if to_create:
        Episode.objects.bulk_create(to_create)
        counts.created += len(to_create)
    if to_update:
        now = timezone.now()
        for episode in to_update:
            episode.updated_at = now
        fields = ["anime", "title", "number", "published_on", "post_id", "default_embed_url"]
        Episode.objects.bulk_update(to_update, [*fields, "updated_at"])
        counts.updated += len(to_update)
    if any(e.pk is None for e in to_create):  # backends whose INSERT returns no ids
        stored.update({e.slug: e for e in Episode.objects.filter(slug__in=slugs)})
    else:
        stored.update({e.slug: e for e in to_create})
    return stored


def _sync_episode_links(episodes: dict[str, Episode], pages: list[EpisodePage], c: Counts) -> None:
    """Mirrors and downloads of all of an anime's episode pages: one read and at most one
    insert / update / delete per table, whatever the number of episodes."""
    pages = [p for p in pages if p.slug in episodes]
    ids = [episodes[p.slug].pk for p in pages]
    if not ids:
        return
    streams = _stored_links(StreamLink, "episode_id", ids, _STREAM_KEY, _STREAM_VALUES)
    downloads = _stored_links(DownloadLink, "episode_id", ids, _DOWNLOAD_KEY, _DOWNLOAD_VALUES)
    wanted_streams: LinkRows = {}
    wanted_downloads: LinkRows = {}
    for page in pages:
        pk = episodes[page.slug].pk
        rows = _stream_rows(page)
        by_key = streams.get(pk, {})
        for key, values in rows.items():
            old = by_key.get(key)
            if old is not None and (old["token_id"], old["token_i"], old["token_q"]) != (
                values["token_id"],
                values["token_i"],
                values["token_q"],
            ):
                # Another token is another video: the resolved embed no longer applies.
                values.update(embed_url="", resolved_at=None, ok=None, checked_at=None)
        wanted_streams.setdefault(pk, {}).update(rows)
        wanted_downloads.setdefault(pk, {}).update(_download_rows(page.downloads))
    _sync_links(
        StreamLink,
        owner_field="episode_id",
        stored=streams,
        wanted=wanted_streams,
        key_fields=_STREAM_KEY,
        counts=c,
    )
    _sync_links(
        DownloadLink,
        owner_field="episode_id",
        stored=downloads,
        wanted=wanted_downloads,
        key_fields=_DOWNLOAD_KEY,
        counts=c,
    )


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


def _record_page_results(
    episodes: dict[str, Episode], bundle: AnimeBundle, now: datetime.datetime
) -> None:
    """Bookkeeping of the episode pages this bundle asked for: a page read clears the
    retry state; a failed one on an episode still without its page's data counts one more
    attempt and sets the next try. (A failure on an episode that has its data from an
    earlier crawl only stays an error of the run: it has nothing to repair.)"""
    to_update: list[Episode] = []
    for page in bundle.episodes:
        episode = episodes.get(page.slug)
        if episode is not None and (
            episode.page_attempts or episode.page_retry_at or episode.page_error
        ):
            episode.page_attempts, episode.page_retry_at, episode.page_error = 0, None, ""
            to_update.append(episode)
    failed = dict(bundle.failed_episodes)
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


def _upsert_batch(anime: Anime, page: BatchPage, counts: Counts) -> None:
    batch = Batch.objects.filter(slug=page.slug).first()
    if batch is None:
        batch = Batch.objects.create(anime=anime, slug=page.slug, title=page.title or page.slug)
        counts.created += 1
        stored: LinkRows = {}
    else:
        if _assign(batch, {"title": page.title, "anime_id": anime.pk}):
            batch.save()
            counts.updated += 1
        else:
            counts.unchanged += 1
        stored = _stored_links(
            DownloadLink, "batch_id", [batch.pk], _DOWNLOAD_KEY, _DOWNLOAD_VALUES
        )
    _sync_links(
        DownloadLink,
        owner_field="batch_id",
        stored=stored,
        wanted={batch.pk: _download_rows(page.downloads)},
        key_fields=_DOWNLOAD_KEY,
        counts=counts,
    )


@transaction.atomic
def ingest_anime(*, bundle: AnimeBundle, now: datetime.datetime | None = None) -> Counts:
    """Store one anime with its episodes, links and batch; all or nothing."""
    counts = Counts()
    anime, created = _upsert_anime(bundle, counts)
    genres = _upsert_genres(bundle.detail, counts)
    if genres:
        current = set() if created else set(anime.genres.values_list("pk", flat=True))
        if current != {g.pk for g in genres}:
            anime.genres.set(genres)
            counts.updated += 0 if created else 1
    episodes = _upsert_episodes(anime, bundle, counts)
    _sync_episode_links(episodes, bundle.episodes, counts)
    stamp = now or timezone.now()
    _record_page_results(episodes, bundle, stamp)
    if bundle.batch is not None:
        _upsert_batch(anime, bundle.batch, counts)
    remember_embed_hosts(p.default_embed_url for p in bundle.episodes)
    if bundle.episodes:
        remember_mirror_actions(bundle.episodes[0])
    # Bookkeeping only: .update() leaves updated_at and the cache version alone.
    Anime.objects.filter(pk=anime.pk).update(last_scraped_at=stamp)
    Episode.objects.filter(slug__in=[p.slug for p in bundle.episodes]).update(last_scraped_at=stamp)
    if counts.changed:
        bump_versions(anime_ids=[anime.pk])
    return counts


# --------------------------------------------------------------------------- mirrors


class MirrorError(Exception):
    """A mirror could not be resolved (the message says why)."""


class MirrorBusy(MirrorError):  # noqa: N818 -- a MirrorError; "busy" says what it is
    """The origin's request budget is spent for now: nothing was asked, the mirror is not
    broken. ``retry_after`` seconds until a slot frees; ``cached_url`` is the embed resolved
    earlier (older than RESOLVED_FRESH_FOR), or "" when there is none."""

    def __init__(self, message: str, *, retry_after: float, cached_url: str = "") -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.cached_url = cached_url


# A viewer waits for the resolution; these keep that wait to seconds (the budget's own
# wait is SCRAPER_VIEWER_MAX_WAIT, in all, across the requests of one resolution).
VIEWER_TIMEOUT = 8.0
VIEWER_RETRIES = 1
# One process asks the origin for a new nonce; the others wait this long for its answer.
NONCE_ASK_SECONDS = 10
NONCE_WAIT_SECONDS = 1.0


def make_viewer_client(base_url: str | None = None) -> OriginClient:
    """The client of a viewer's mirror request: the budget's viewer lane (served before
    the crawl), a bounded wait for slots, one quick retry and a short timeout."""
    return make_client(
        base_url,
        lane=Lane.VIEWER,
        max_budget_wait=settings.SCRAPER_VIEWER_MAX_WAIT,
        retries=VIEWER_RETRIES,
        timeout=min(settings.SCRAPER_TIMEOUT, VIEWER_TIMEOUT),
        connect_timeout=min(settings.SCRAPER_TIMEOUT, VIEWER_TIMEOUT) / 2,
        max_backoff=1.0,
        max_retry_after=settings.SCRAPER_VIEWER_MAX_WAIT,
    )


def _actions_key(client: OriginClient) -> str:
    return f"scraper:mirror-actions:{client.base_url}"


def _nonce_key(client: OriginClient) -> str:
    return f"scraper:nonce:{client.base_url}"


def remember_mirror_actions(page: EpisodePage) -> None:
    """Keep the admin-ajax action names read from a crawled episode page's script."""
    if page.actions_from_script:
        cache.set("scraper:mirror-actions", (page.nonce_action, page.embed_action), ACTIONS_TTL)


def _mirror_actions(client: OriginClient, episode: Episode) -> tuple[str, str]:
    actions = cache.get("scraper:mirror-actions")
    if actions:
        return tuple(actions)  # type: ignore[return-value]
    # Not seen lately: read them off the episode page itself.
    page = parsers.parse_episode(client.get(f"/episode/{episode.slug}/").text, episode.slug)
    remember_mirror_actions(page)
    return page.nonce_action, page.embed_action


def _nonce(client: OriginClient, action: str, *, fresh: bool = False) -> tuple[str, bool]:
    """(nonce, whether it came from the cache)."""
    key = _nonce_key(client)
    if not fresh and (nonce := cache.get(key)):
        return nonce, True
    # The nonce is shared through the cache by every process. When it is missing, one
    # process asks the origin and the others wait a moment for its answer: a burst of
    # viewers would otherwise each spend a budget slot on the same nonce.
    asking = f"{key}:asking"
    # (False: another process is asking; None: the cache is down, nobody to wait for.)
    if not fresh and cache.add(asking, 1, NONCE_ASK_SECONDS) is False:
        # A viewer's wait here counts against its limit (client.wait_left).
        left = client.wait_left
        patience = NONCE_WAIT_SECONDS if left is None else min(NONCE_WAIT_SECONDS, left / 2)
        started = time.monotonic()
        try:
            while time.monotonic() - started < patience:
                time.sleep(0.1)
                if nonce := cache.get(key):
                    return nonce, True
        finally:
            client.spend_wait(time.monotonic() - started)
    try:
        nonce = parse_nonce_response(client.post_ajax({"action": action}))
        cache.set(key, nonce, NONCE_TTL)
    finally:
        cache.delete(asking)
    return nonce, False


def _resolve_embed(client: OriginClient, link: StreamLink) -> str:
    nonce_action, embed_action = _mirror_actions(client, link.episode)
    referer = f"/episode/{link.episode.slug}/"
    form = {"id": str(link.token_id), "i": str(link.token_i), "q": link.token_q}
    fresh = False
    while True:
        nonce, cached = _nonce(client, nonce_action, fresh=fresh)
        try:
            body = client.post_ajax(
                {**form, "nonce": nonce, "action": embed_action}, referer=referer
            )
            return parse_embed_response(body)
        except (ParseError, FetchError) as exc:
            # A refused nonce looks like junk data or a 400/403 (WordPress answers a failed
            # nonce check with 403 "-1"). A cached one may simply have expired (peers
            # disagree on its lifetime): ask for a fresh nonce once, then give up.
            refused = isinstance(exc, ParseError) or exc.status in STALE_NONCE_STATUSES
            if not (cached and refused):
                raise
            cache.delete(_nonce_key(client))
            fresh = True


@contextmanager
def _client_or(client: OriginClient | None, *, viewer: bool = False) -> Iterator[OriginClient]:
    if client is not None:
        yield client
        return
    base = current_base_url()
    with make_viewer_client(base) if viewer else make_client(base) as own:
        yield own


def resolve_mirror(*, link_id: int, client: OriginClient | None = None, force: bool = False) -> str:
    """The embed URL of a stream mirror, resolved through the origin's admin-ajax protocol.

    A recent resolution is reused; a failure leaves the stored link as it was (only its
    `last_error` says why) and raises MirrorError. Without a ``client`` this is a viewer
    waiting: a viewer-lane client (see make_viewer_client), and MirrorBusy at once when the
    origin's request budget has no slot for it within SCRAPER_VIEWER_MAX_WAIT.
    """
    link = StreamLink.objects.select_related("episode").filter(pk=link_id).first()
    if link is None:
        raise MirrorError(f"mirror {link_id} does not exist")
    now = timezone.now()
    if (
        not force
        and link.embed_url
        and link.resolved_at
        and now - link.resolved_at < RESOLVED_FRESH_FOR
    ):
        return link.embed_url
    try:
        with _client_or(client, viewer=True) as c:
            url = _resolve_embed(c, link)
    except BudgetExhausted as exc:
        # Not the mirror's fault: its last_error stays as it was.
        logger.info("mirror %s: request budget spent (%s)", link.pk, exc)
        raise MirrorBusy(str(exc), retry_after=exc.retry_after, cached_url=link.embed_url) from exc
    except (ClientError, ParseError) as exc:
        reason = f"{type(exc).__name__}: {exc}"[:500]
        StreamLink.objects.filter(pk=link.pk).update(last_error=reason)
        logger.warning("mirror %s (%s) not resolved: %s", link.pk, link, reason)
        raise MirrorError(reason) from exc
    remember_embed_hosts([url])
    StreamLink.objects.filter(pk=link.pk).update(embed_url=url, resolved_at=now, last_error="")
    return url


def resolve_recent(*, recent: int, client: OriginClient | None = None) -> tuple[int, int]:
    """Pre-resolve the mirrors of the `recent` newest episodes: (resolved, failed)."""
    episode_ids = list(Episode.objects.newest().values_list("pk", flat=True)[:recent])
    link_ids = list(
        StreamLink.objects.filter(episode_id__in=episode_ids, embed_url="").values_list(
            "pk", flat=True
        )
    )
    resolved = failed = streak = 0
    with _client_or(client) as c:
        for link_id in link_ids:
            try:
                resolve_mirror(link_id=link_id, client=c)
                resolved += 1
                streak = 0
            except MirrorError:
                failed += 1
                streak += 1
                if streak >= 5:  # the origin is down or blocking: stop asking
                    logger.warning("5 mirrors failed in a row; stopping")
                    break
    return resolved, failed
