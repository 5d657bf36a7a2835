"""Sample-data builders for the viewer-site tests (made-up content, no origin data).

`build_sample_catalogue()` is the reusable fixture body: the browser test uses it with
embed URLs served by the live server; other tests use the defaults.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from django.db.models import F

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

DEFAULT_EMBED_BASE = "https://embed.example.test"


@dataclass
class SampleCatalogue:
    genres: list[Genre]
    ongoing: Anime
    completed: Anime
    episodes: list[Episode]
    embed_base: str
    extra: dict[str, Any] = field(default_factory=dict)


def make_genre(slug: str, name: str) -> Genre:
    return Genre.objects.create(slug=slug, name=name)


def make_anime(slug: str, title: str, **fields: Any) -> Anime:
    defaults: dict[str, Any] = {
        "title_japanese": "",
        "status": Anime.Status.ONGOING,
        "type": "TV",
        "synopsis": "Kisah karangan untuk pengujian.",
        "poster_url": "",
    }
    defaults.update(fields)
    return Anime.objects.create(slug=slug, title=title, **defaults)


def make_episode(
    anime: Anime,
    number: int | str | None,
    *,
    slug: str | None = None,
    embed_url: str = "",
    published_on: datetime.date | None = None,
) -> Episode:
    num = None if number is None else Decimal(str(number))
    label = "Spesial" if number is None else f"Episode {number}"
    return Episode.objects.create(
        anime=anime,
        slug=slug or f"{anime.slug}-episode-{str(number).replace('.', '-')}",
        title=f"{anime.title} {label}",
        number=num,
        published_on=published_on,
        default_embed_url=embed_url,
    )


def make_stream_links(
    episode: Episode, qualities: tuple[str, ...] = ("480p", "720p"), providers: int = 2
) -> list[StreamLink]:
    links = []
    for qi, quality in enumerate(qualities):
        for p in range(providers):
            links.append(
                StreamLink.objects.create(
                    episode=episode,
                    quality=quality,
                    provider=f"penyedia{p + 1}",
                    position=p,
                    token_id=episode.pk,
                    token_i=p,
                    token_q=quality,
                    is_default=qi == 0 and p == 0,
                )
            )
    return links


def make_downloads(episode: Episode | None = None, batch: Batch | None = None) -> None:
    sizes = {"480p": ("80 MB", 80_000_000), "720p": ("150 MB", 150_000_000)}
    for fmt in ("mp4", "mkv"):
        for quality, (text, size) in sizes.items():
            for p, provider in enumerate(("unduhA", "unduhB")):
                DownloadLink.objects.create(
                    episode=episode,
                    batch=batch,
                    format=fmt,
                    quality=quality,
                    provider=provider,
                    url=f"https://files.example.test/{fmt}/{quality}/{p}",
                    size_text=text,
                    size_bytes=size,
                    position=p,
                )


def add_embed_host(url: str) -> None:
    """The sample's embed host, as an admin approved it (a host the scraper merely found
    stays pending and is never framed: tests/test_embed_policy.py)."""
    EmbedHost.objects.update_or_create(host=urlsplit(url).netloc, defaults={"approved": True})


def bump_version(anime: Anime) -> None:
    """What ingest does on every change: pages keyed on the version show it at once."""
    Anime.objects.filter(pk=anime.pk).update(version=F("version") + 1)
    anime.refresh_from_db()


def build_sample_catalogue(
    embed_base: str = DEFAULT_EMBED_BASE, *, episodes: int = 3
) -> SampleCatalogue:
    """Two genres, an ongoing anime with episodes and mirrors, a completed one with a batch."""
    action = make_genre("aksi", "Aksi")
    comedy = make_genre("komedi", "Komedi")
    today = datetime.date(2026, 1, 5)
    ongoing = make_anime(
        "pedang-bintang-sub-indo",
        "Pedang Bintang",
        title_japanese="星の剣",
        score=Decimal("8.12"),
        total_episodes=12,
        release_day="Senin",
        duration="24 menit",
        studios=["Studio Contoh"],
    )
    ongoing.genres.add(action, comedy)
    eps = []
    for n in range(1, episodes + 1):
        ep = make_episode(
            ongoing,
            n,
            embed_url=f"{embed_base}/default/{n}",
            published_on=today + datetime.timedelta(days=7 * n),
        )
        make_stream_links(ep)
        make_downloads(episode=ep)
        eps.append(ep)
    completed = make_anime(
        "kafe-senja-sub-indo",
        "Kafé Senja",
        status=Anime.Status.COMPLETED,
        type="Movie",
        total_episodes=1,
    )
    completed.genres.add(comedy)
    make_episode(completed, 1, embed_url=f"{embed_base}/default/kafe")
    batch = Batch.objects.create(anime=completed, slug="kafe-senja-batch", title="Kafé Senja Batch")
    make_downloads(batch=batch)
    add_embed_host(embed_base)
    now = datetime.datetime.now(datetime.UTC)
    ScrapeRun.objects.create(kind="update", status=ScrapeRun.Status.OK, finished_at=now)
    return SampleCatalogue(
        genres=[action, comedy],
        ongoing=ongoing,
        completed=completed,
        episodes=eps,
        embed_base=embed_base,
        extra={"batch": batch},
    )
