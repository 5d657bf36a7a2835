"""Ingest: parsed pages become catalogue rows.

One transaction per anime (detail + its episode pages + its batch), keyed on slugs, and
idempotent: a field is written only when its value differs, so a second crawl of an
unchanged origin creates and updates nothing. Values the page did not give (None, "" or an
empty list: a missing optional row) never blank what is already stored, and a page that
failed to parse never reaches this module at all.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import connection, models, transaction
from django.utils import timezone

from catalog import push
from catalog.models import (
    Anime,
    Batch,
    DownloadLink,
    Episode,
    Genre,
    StreamLink,
    fold_text,
)
from catalog.safe_urls import safe_http_url
from catalog.services import bump_versions
from scraper.embeds import remember_embed_hosts
from scraper.mirrors import remember_mirror_actions
from scraper.page_retries import record_page_results
from scraper.parsers.types import AnimeDetail, BatchPage, EpisodePage, ParsedDownload

__all__ = ["AnimeBundle", "Counts", "ingest_anime"]


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
    columns = ", ".join(qn(str(f.column)) for f in fields)
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
    query = model._default_manager.filter(**{f"{owner_field}__in": ids}).order_by()
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
        model._default_manager.filter(pk__in=to_delete).delete()
        counts.updated += len(to_delete)
    if to_create:
        _insert_rows(model, to_create)
        counts.created += len(to_create)
    if to_update:
        model._default_manager.bulk_update(to_update, sorted(update_fields))
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


def _episode_values(bundle: AnimeBundle) -> dict[str, dict[str, Any]]:
    """Slug -> the column values the anime's page and the episode pages give."""
    wanted: dict[str, dict[str, Any]] = {}
    for ref in bundle.detail.episodes:
        wanted[ref.slug] = {
            "title": ref.title,
            "number": _decimal(ref.number),
            "published_on": ref.published_on,
        }
    # One page per slug, the last one given (as a dict of the pages keeps it).
    for page in {page.slug: page for page in bundle.episodes}.values():
        values = wanted.setdefault(page.slug, {"title": page.title, "number": None})
        values["post_id"] = page.post_id
        # Checked again here (the parser already did): nothing but http(s) is stored.
        values["default_embed_url"] = safe_http_url(page.default_embed_url) or ""
        if page.published_on and not values.get("published_on"):
            values["published_on"] = page.published_on
    return wanted


def _upsert_episodes(
    anime: Anime, bundle: AnimeBundle, counts: Counts
) -> tuple[dict[str, Episode], list[str]]:
    """The anime's stored episodes by slug, and the slugs of those created just now."""
    wanted = _episode_values(bundle)
    slugs = list(wanted)
    stored = {e.slug: e for e in Episode.objects.filter(slug__in=slugs)}
    to_create: list[Episode] = []
    to_update: list[Episode] = []
    for slug, values in wanted.items():
        episode = stored.get(slug)
        if episode is None:
            # `is not None`, not truthiness: an "Episode 0" (number 0) must be stored as 0 at
            # once, or the next identical crawl "updates" it from NULL to 0.
            given = {k: v for k, v in values.items() if v is not None}
            episode = Episode(anime=anime, slug=slug, **given)
            episode.title = episode.title or slug
            to_create.append(episode)
        elif _assign(episode, values) | _move_to(episode, anime):
            to_update.append(episode)
        else:
            counts.unchanged += 1
    _save_episodes(to_create, to_update, counts)
    if any(e.pk is None for e in to_create):  # backends whose INSERT returns no ids
        stored.update({e.slug: e for e in Episode.objects.filter(slug__in=slugs)})
    else:
        stored.update({e.slug: e for e in to_create})
    return stored, [e.slug for e in to_create]


def _move_to(episode: Episode, anime: Anime) -> bool:
    if episode.anime_id == anime.pk:
        return False
    episode.anime = anime
    return True


def _save_episodes(to_create: list[Episode], to_update: list[Episode], counts: Counts) -> None:
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
    episodes, new_slugs = _upsert_episodes(anime, bundle, counts)
    _sync_episode_links(episodes, bundle.episodes, counts)
    stamp = now or timezone.now()
    record_page_results(episodes, [p.slug for p in bundle.episodes], bundle.failed_episodes, stamp)
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
    if new_slugs:
        # Web Push for followers (catalog/push.py): only ids are enqueued, after the commit,
        # and only for anime someone follows; the worker sends.
        new_ids = [episodes[slug].pk for slug in new_slugs]
        transaction.on_commit(lambda: push.queue_new_episodes(new_ids), robust=True)
    return counts
