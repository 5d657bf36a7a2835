"""The public API's response shapes (django-ninja schemas): the OpenAPI document is
generated from them, and every response body is built through them."""

from __future__ import annotations

from datetime import date, datetime

from ninja import Schema


class ErrorDetail(Schema):
    code: str
    message: str


class Error(Schema):
    """Every error under /api/v1/ has this shape, whatever the status."""

    error: ErrorDetail


class Pagination(Schema):
    page: int
    per_page: int
    total: int
    pages: int
    next: str | None
    prev: str | None


class AnimeCard(Schema):
    slug: str
    title: str
    poster_url: str
    score: float | None
    type: str
    status: str
    total_episodes: int | None
    release_day: str
    url: str


class AnimeList(Schema):
    items: list[AnimeCard]
    pagination: Pagination


class AnimeRef(Schema):
    slug: str
    title: str
    url: str


class NewEpisode(Schema):
    slug: str
    title: str
    number: str | None
    published_on: date | None
    created_at: datetime
    anime: AnimeRef
    url: str


class Home(Schema):
    newest_episodes: list[NewEpisode]
    ongoing: list[AnimeCard]
    completed: list[AnimeCard]


class AzEntry(Schema):
    slug: str
    title: str
    type: str
    status: str
    url: str


class AzGroup(Schema):
    letter: str
    anime: list[AzEntry]


class AzList(Schema):
    groups: list[AzGroup]


class GenreRef(Schema):
    slug: str
    name: str
    url: str


class GenreItem(GenreRef):
    anime_count: int


class GenreList(Schema):
    items: list[GenreItem]


class GenreAnime(Schema):
    genre: GenreItem
    items: list[AnimeCard]
    pagination: Pagination


class ScheduleDay(Schema):
    day: str
    anime: list[AnimeCard]


class Schedule(Schema):
    days: list[ScheduleDay]


class SearchResult(Schema):
    query: str
    genres: list[str]
    status: str
    type: str
    year: str
    min_score: str
    sort: str
    items: list[AnimeCard]
    pagination: Pagination


class Download(Schema):
    format: str
    quality: str
    provider: str
    size_text: str
    size_bytes: int | None
    url: str


class Batch(Schema):
    title: str
    downloads: list[Download]


class EpisodeRef(Schema):
    slug: str
    title: str
    number: str | None
    published_on: date | None
    url: str


class AnimeDetail(Schema):
    slug: str
    title: str
    title_japanese: str
    poster_url: str
    score: float | None
    type: str
    status: str
    total_episodes: int | None
    duration: str
    release_date: date | None
    release_date_text: str
    release_day: str
    studios: list[str]
    producers: list[str]
    synopsis: str
    genres: list[GenreRef]
    updated_at: datetime
    episodes: list[EpisodeRef]
    batches: list[Batch]


class Mirror(Schema):
    id: int
    quality: str
    provider: str
    is_default: bool
    embed_url: str | None
    resolve_url: str


class EpisodeDetail(Schema):
    slug: str
    title: str
    number: str | None
    published_on: date | None
    updated_at: datetime
    anime: AnimeRef
    previous: EpisodeRef | None
    next: EpisodeRef | None
    default_embed_url: str | None
    mirrors: list[Mirror]
    downloads: list[Download]


class ResolvedMirror(Schema):
    id: int
    url: str
    # True: the origin was too busy to ask now; this is the URL it resolved to earlier.
    stale: bool = False
