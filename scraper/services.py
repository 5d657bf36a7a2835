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
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.cache import cache
from django.db import models, transaction
from django.db.models import F
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
from scraper import parsers
from scraper.client import ClientError, OriginClient
from scraper.parsers import (
    AnimeDetail,
    EpisodePage,
    ParseError,
    parse_embed_response,
    parse_nonce_response,
)
from scraper.parsers import DownloadLink as ParsedDownload
from scraper.parsers.types import BatchPage

logger = logging.getLogger("scraper.services")

NONCE_TTL = 10 * 60  # the site's own script reuses a nonce; peers cache it ~10 minutes
ACTIONS_TTL = 7 * 24 * 3600
RESOLVED_FRESH_FOR = datetime.timedelta(hours=6)
CATALOG_GENERATION_KEY = "catalog:generation"


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


def current_base_url() -> str:
    """Where the catalogue came from: the last successful crawl's origin (it may have been
    given with --base-url or reached after a domain move), else the configured one."""
    latest = (
        ScrapeRun.objects.filter(status=ScrapeRun.Status.OK, dry_run=False)
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
    if not url:
        return None
    host = urlsplit(url).netloc.lower()
    return host or None


def remember_embed_hosts(urls: Iterable[str | None]) -> None:
    hosts = {h for h in (embed_host(u) for u in urls) if h}
    if not hosts:
        return
    known = set(EmbedHost.objects.filter(host__in=hosts).values_list("host", flat=True))
    EmbedHost.objects.bulk_create(
        [EmbedHost(host=h) for h in sorted(hosts - known)], ignore_conflicts=True
    )


def bump_catalog_generation() -> None:
    """List pages (home, ongoing, A-Z...) cache on this key; any ingest change bumps it."""
    cache.set(CATALOG_GENERATION_KEY, timezone.now().timestamp(), None)


# --------------------------------------------------------------------------- ingest


def _sync_children(
    model: type[models.Model],
    *,
    owner: Mapping[str, Any],
    stored: Iterable[Any],
    wanted: Mapping[tuple[str, ...], dict[str, Any]],
    key_fields: tuple[str, ...],
    counts: Counts,
) -> None:
    """Upsert a parent's link rows keyed on `key_fields`; drop rows the page no longer
    lists, but only when the page listed some (an empty list means "not shown")."""
    by_key = {tuple(getattr(row, f) for f in key_fields): row for row in stored}
    to_create = []
    to_update = []
    for key, values in wanted.items():
        row = by_key.pop(key, None)
        if row is None:
            to_create.append(model(**owner, **dict(zip(key_fields, key, strict=True)), **values))
        elif _assign(row, values, keep_stored=False):
            to_update.append(row)
        else:
            counts.unchanged += 1
    if wanted and by_key:
        model.objects.filter(pk__in=[row.pk for row in by_key.values()]).delete()
        counts.updated += len(by_key)
    if to_create:
        model.objects.bulk_create(to_create)
        counts.created += len(to_create)
    if to_update:
        fields = sorted({name for values in wanted.values() for name in values})
        model.objects.bulk_update(to_update, fields)
        counts.updated += len(to_update)


def _download_rows(downloads: Iterable[ParsedDownload]) -> dict[tuple[str, ...], dict[str, Any]]:
    rows: dict[tuple[str, ...], dict[str, Any]] = {}
    for position, link in enumerate(downloads):
        key = (link.format or "", link.quality or "", link.provider[:64])
        rows.setdefault(
            key,
            {
                "url": link.url,
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
        values["default_embed_url"] = page.default_embed_url or ""
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
    if to_create:
        stored.update({e.slug: e for e in Episode.objects.filter(slug__in=slugs)})
    return stored


def _sync_episode_links(episodes: dict[str, Episode], pages: list[EpisodePage], c: Counts) -> None:
    ids = [episodes[p.slug].pk for p in pages if p.slug in episodes]
    if not ids:
        return
    streams: dict[int, list[StreamLink]] = {}
    for link in StreamLink.objects.filter(episode_id__in=ids):
        streams.setdefault(link.episode_id, []).append(link)
    downloads: dict[int, list[DownloadLink]] = {}
    for link in DownloadLink.objects.filter(episode_id__in=ids):
        downloads.setdefault(link.episode_id, []).append(link)
    for page in pages:
        episode = episodes.get(page.slug)
        if episode is None:
            continue
        wanted_streams = _stream_rows(page)
        by_key = {(s.quality, s.provider): s for s in streams.get(episode.pk, [])}
        for key, values in wanted_streams.items():
            old = by_key.get(key)
            if old is not None and (old.token_id, old.token_i, old.token_q) != (
                values["token_id"],
                values["token_i"],
                values["token_q"],
            ):
                # Another token is another video: the resolved embed no longer applies.
                values.update(embed_url="", resolved_at=None, ok=None, checked_at=None)
        _sync_children(
            StreamLink,
            owner={"episode": episode},
            stored=streams.get(episode.pk, []),
            wanted=wanted_streams,
            key_fields=("quality", "provider"),
            counts=c,
        )
        _sync_children(
            DownloadLink,
            owner={"episode": episode},
            stored=downloads.get(episode.pk, []),
            wanted=_download_rows(page.downloads),
            key_fields=("format", "quality", "provider"),
            counts=c,
        )


def _upsert_batch(anime: Anime, page: BatchPage, counts: Counts) -> None:
    batch = Batch.objects.filter(slug=page.slug).first()
    if batch is None:
        batch = Batch.objects.create(anime=anime, slug=page.slug, title=page.title or page.slug)
        counts.created += 1
    elif _assign(batch, {"title": page.title, "anime_id": anime.pk}):
        batch.save()
        counts.updated += 1
    else:
        counts.unchanged += 1
    _sync_children(
        DownloadLink,
        owner={"batch": batch},
        stored=batch.download_links.all(),
        wanted=_download_rows(page.downloads),
        key_fields=("format", "quality", "provider"),
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
    if bundle.batch is not None:
        _upsert_batch(anime, bundle.batch, counts)
    remember_embed_hosts(p.default_embed_url for p in bundle.episodes)
    if bundle.episodes:
        remember_mirror_actions(bundle.episodes[0])
    stamp = now or timezone.now()
    # Bookkeeping only: .update() leaves updated_at and the cache version alone.
    Anime.objects.filter(pk=anime.pk).update(last_scraped_at=stamp)
    Episode.objects.filter(slug__in=[p.slug for p in bundle.episodes]).update(last_scraped_at=stamp)
    if counts.changed:
        Anime.objects.filter(pk=anime.pk).update(version=F("version") + 1)
        transaction.on_commit(bump_catalog_generation)
    return counts


# --------------------------------------------------------------------------- mirrors


class MirrorError(Exception):
    """A mirror could not be resolved (the message says why)."""


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


def _nonce(client: OriginClient, action: str, *, fresh: bool = False) -> str:
    key = _nonce_key(client)
    if not fresh and (nonce := cache.get(key)):
        return nonce
    nonce = parse_nonce_response(client.post_ajax({"action": action}))
    cache.set(key, nonce, NONCE_TTL)
    return nonce


def _resolve_embed(client: OriginClient, link: StreamLink) -> str:
    nonce_action, embed_action = _mirror_actions(client, link.episode)
    referer = f"/episode/{link.episode.slug}/"
    form = {"id": str(link.token_id), "i": str(link.token_i), "q": link.token_q}
    for fresh in (False, True):
        nonce = _nonce(client, nonce_action, fresh=fresh)
        body = client.post_ajax({**form, "nonce": nonce, "action": embed_action}, referer=referer)
        try:
            return parse_embed_response(body)
        except ParseError:
            if fresh:
                raise
            # A cached nonce may have expired (peers disagree on its lifetime): retry once.
            cache.delete(_nonce_key(client))
    raise AssertionError("unreachable")  # pragma: no cover


@contextmanager
def _client_or(client: OriginClient | None) -> Iterator[OriginClient]:
    if client is not None:
        yield client
        return
    with make_client(current_base_url()) as own:
        yield own


def resolve_mirror(*, link_id: int, client: OriginClient | None = None, force: bool = False) -> str:
    """The embed URL of a stream mirror, resolved through the origin's admin-ajax protocol.

    A recent resolution is reused; a failure leaves the stored link as it was (only its
    `last_error` says why) and raises MirrorError.
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
        with _client_or(client) as c:
            url = _resolve_embed(c, link)
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
