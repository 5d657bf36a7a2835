"""Shared by the pipeline tests: a fast client for the fake origin and DB-vs-truth checks."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from catalog.models import Anime, Batch, DownloadLink, Episode, StreamLink
from scraper.client import OriginClient
from scraper.client_factory import make_client
from tests.fake_origin import Catalog


def fast_client(base_url: str, **overrides: Any) -> OriginClient:
    """No rate limit and no real sleeping: backoff delays are recorded, not waited."""
    options: dict[str, Any] = {
        "rate": None,
        "cookie_path": None,
        "sleep": lambda _seconds: None,
        # Generous: a busy CI machine must not turn a slow answer into a retry (and an extra
        # request in the origin's log); tests of timeouts pass their own.
        "timeout": 15.0,
        "connect_timeout": 5.0,
    }
    options.update(overrides)
    return make_client(base_url, **options)


def number(value: float | None) -> Decimal | None:
    return None if value is None else Decimal(str(value)).quantize(Decimal("0.01"))


def expected_catalog(truth: Catalog) -> dict[str, Any]:
    """What the database must hold after a full crawl, derived from the origin's truth."""
    anime = {}
    for a in truth.anime.values():
        anime[a.slug] = {
            "title": a.title,
            "title_japanese": a.japanese,
            "score": number(a.score),
            "type": a.type,
            "status": a.status.lower(),
            "total_episodes": a.total_episodes,
            "duration": a.duration,
            "release_date": a.release_date,
            "studios": a.studios,
            "producers": a.producers,
            "genres": sorted(g.slug for g in a.genres),
            "synopsis": "\n\n".join(a.synopsis),
            "episodes": {
                e.slug: {
                    "title": e.title,
                    "number": number(e.number),
                    "published_on": e.published.date(),
                    "post_id": e.post_id,
                    "default_embed_url": e.default_embed,
                    "mirrors": sorted(
                        (m.quality, m.provider, e.post_id, m.i, m.is_default) for m in e.mirrors
                    ),
                    "downloads": sorted(
                        (d.format.lower(), d.quality, d.provider, d.url, d.size)
                        for d in e.downloads
                    ),
                }
                for e in a.episodes
            },
            "batch": (
                {
                    "slug": a.batch.slug,
                    "downloads": sorted(
                        (d.format.lower(), d.quality, d.provider, d.url, d.size)
                        for d in a.batch.downloads
                    ),
                }
                if a.batch
                else None
            ),
        }
    return anime


def stored_catalog() -> dict[str, Any]:
    """The same shape as expected_catalog, read from the database."""
    streams: dict[int, list[tuple]] = {}
    for s in StreamLink.objects.all():
        streams.setdefault(s.episode_id, []).append(
            (s.quality, s.provider, s.token_id, s.token_i, s.is_default)
        )
    downloads: dict[tuple[str, int], list[tuple]] = {}
    for d in DownloadLink.objects.all():
        owner = ("e", d.episode_id) if d.episode_id else ("b", d.batch_id)
        downloads.setdefault(owner, []).append(
            (d.format, d.quality, d.provider, d.url, d.size_text)
        )
    batches = {b.anime_id: b for b in Batch.objects.all()}
    episodes: dict[int, dict[str, Any]] = {}
    for e in Episode.objects.all():
        episodes.setdefault(e.anime_id, {})[e.slug] = {
            "title": e.title,
            "number": e.number,
            "published_on": e.published_on,
            "post_id": e.post_id,
            "default_embed_url": e.default_embed_url,
            "mirrors": sorted(streams.get(e.pk, [])),
            "downloads": sorted(downloads.get(("e", e.pk), [])),
        }
    result = {}
    for a in Anime.objects.prefetch_related("genres"):
        batch = batches.get(a.pk)
        result[a.slug] = {
            "title": a.title,
            "title_japanese": a.title_japanese,
            "score": a.score,
            "type": a.type,
            "status": a.status,
            "total_episodes": a.total_episodes,
            "duration": a.duration,
            "release_date": a.release_date,
            "studios": a.studios,
            "producers": a.producers,
            "genres": sorted(g.slug for g in a.genres.all()),
            "synopsis": a.synopsis,
            "episodes": episodes.get(a.pk, {}),
            "batch": (
                {"slug": batch.slug, "downloads": sorted(downloads.get(("b", batch.pk), []))}
                if batch
                else None
            ),
        }
    return result


def snapshot() -> list[tuple]:
    """Every stored row's content and timestamps: equal before and after = nothing written."""
    rows: list[tuple] = []
    for model in (Anime, Episode, StreamLink, DownloadLink, Batch):
        fields = [f.attname for f in model._meta.concrete_fields if f.attname != "last_scraped_at"]
        rows.extend(tuple(r) for r in model.objects.order_by("pk").values_list(*fields))
    return rows
