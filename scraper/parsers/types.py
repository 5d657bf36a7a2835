"""Plain, frozen result types of the otakudesu parsers.

They hold only built-in values (str, int, float, date, lists of other result types) so the
scraper can store them and `to_jsonable` can serialise them without knowing about HTML.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

Number = int | float


@dataclass(frozen=True, slots=True)
class GenreRef:
    slug: str
    name: str


@dataclass(frozen=True, slots=True)
class AnimeRef:
    slug: str
    title: str


@dataclass(frozen=True, slots=True)
class PageRef:
    slug: str
    title: str


@dataclass(frozen=True, slots=True)
class AnimeCard:
    """One anime in a card list (home, ongoing, completed, genre page, search results)."""

    slug: str
    title: str
    poster_url: str | None = None
    episode_label: str | None = None  # "Episode 6" (ongoing) / "12 Episode" (completed)
    episode_number: Number | None = None
    day: str | None = None  # release weekday of ongoing cards ("Kamis", "Random")
    score: float | None = None
    date: datetime.date | None = None  # the card's "11 Feb" resolved to a year
    date_text: str | None = None
    season: str | None = None  # "Fall 2025" (completed cards, genre cards)
    studio: str | None = None  # genre cards
    genres: list[GenreRef] = field(default_factory=list)  # genre and search cards
    status: str | None = None  # search cards: "ongoing" / "completed"
    synopsis: str | None = None  # genre cards


@dataclass(frozen=True, slots=True)
class HomePage:
    ongoing: list[AnimeCard]
    completed: list[AnimeCard]


@dataclass(frozen=True, slots=True)
class ListPage:
    """Ongoing or completed list page (`/ongoing-anime/`, `/complete-anime/page/N/`)."""

    cards: list[AnimeCard]
    page: int
    last_page: int


@dataclass(frozen=True, slots=True)
class GenrePage:
    genre_slug: str | None
    genre_name: str | None
    cards: list[AnimeCard]
    page: int
    last_page: int


@dataclass(frozen=True, slots=True)
class AnimeList:
    anime: list[AnimeRef]


@dataclass(frozen=True, slots=True)
class GenreList:
    genres: list[GenreRef]


@dataclass(frozen=True, slots=True)
class ScheduleDay:
    day: str
    anime: list[AnimeRef]


@dataclass(frozen=True, slots=True)
class SchedulePage:
    days: list[ScheduleDay]


@dataclass(frozen=True, slots=True)
class SearchPage:
    results: list[AnimeCard]
    page: int = 1
    last_page: int = 1


@dataclass(frozen=True, slots=True)
class EpisodeRef:
    slug: str
    title: str
    number: Number | None
    published_on: datetime.date | None


@dataclass(frozen=True, slots=True)
class AnimeDetail:
    slug: str
    title: str
    title_japanese: str | None
    score: float | None
    producers: list[str]
    type: str | None
    status: str | None  # "ongoing" | "completed" | None
    total_episodes: int | None
    duration: str | None
    release_date: datetime.date | None
    release_date_text: str | None
    studios: list[str]
    genres: list[GenreRef]
    poster_url: str | None
    synopsis: str
    episodes: list[EpisodeRef]
    batch: PageRef | None
    lengkap: PageRef | None


@dataclass(frozen=True, slots=True)
class MirrorToken:
    """The decoded `data-content` of a mirror link: what admin-ajax needs to embed it."""

    id: int
    i: int
    q: str


@dataclass(frozen=True, slots=True)
class Mirror:
    quality: str | None
    provider: str
    token: MirrorToken
    is_default: bool = False


@dataclass(frozen=True, slots=True)
class ParsedDownload:
    """One provider link of a download row (the catalogue's model is `DownloadLink`)."""

    format: str | None  # lower-case: "mp4", "mkv", "x265"
    quality: str | None  # "720p"
    provider: str
    url: str
    size: str | None  # as shown: "135.2 MB"
    size_bytes: int | None = None


@dataclass(frozen=True, slots=True)
class EpisodePage:
    slug: str
    title: str
    anime_slug: str | None
    prev_slug: str | None
    next_slug: str | None
    post_id: int | None
    default_embed_url: str | None
    mirrors: list[Mirror]
    downloads: list[ParsedDownload]
    nonce_action: str
    embed_action: str
    actions_from_script: bool = False  # False: the known action names were used as fallback
    released_text: str | None = None  # "1:14 am" from "Release on 1:14 am"
    published_on: datetime.date | None = None  # from article:published_time when present


@dataclass(frozen=True, slots=True)
class BatchPage:
    slug: str
    title: str
    anime_slug: str | None
    downloads: list[ParsedDownload]


@dataclass(frozen=True, slots=True)
class DownloadSection:
    """One `h4` + rows group of a lengkap page: one episode, or the whole batch."""

    title: str
    episode_number: Number | None
    is_batch: bool
    downloads: list[ParsedDownload]


@dataclass(frozen=True, slots=True)
class LengkapPage:
    slug: str
    title: str
    anime_slug: str | None
    sections: list[DownloadSection]
