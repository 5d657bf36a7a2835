"""Plain, frozen result types of the otakudesu parsers.

They hold only built-in values (str, int, float, date, lists of other result types) so the
scraper can store them and `to_jsonable` can serialise them without knowing about HTML.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field, fields
from typing import Any

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
class DownloadLink:
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
    downloads: list[DownloadLink]
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
    downloads: list[DownloadLink]


@dataclass(frozen=True, slots=True)
class DownloadSection:
    """One `h4` + rows group of a lengkap page: one episode, or the whole batch."""

    title: str
    episode_number: Number | None
    is_batch: bool
    downloads: list[DownloadLink]


@dataclass(frozen=True, slots=True)
class LengkapPage:
    slug: str
    title: str
    anime_slug: str | None
    sections: list[DownloadSection]


# --------------------------------------------------------------------------- fast builders
#
# A frozen dataclass's `__init__` assigns each field through `object.__setattr__`; the parsers
# build dozens of download links, mirrors and episode rows per page, where that is most of the
# extraction time. These builders fill the slots directly: the objects are the same (same
# class, fields, equality, hash, immutability afterwards) at half the cost.

_new = object.__new__


def _slot_setters(cls: type, names: tuple[str, ...]) -> tuple[Any, ...]:
    """The slot descriptors' setters of `cls`, checked against its fields so that a changed
    dataclass fails at import instead of building wrong objects."""
    if tuple(f.name for f in fields(cls)) != names:
        raise TypeError(f"fast builder of {cls.__name__} is out of date with its fields")
    return tuple(cls.__dict__[name].__set__ for name in names)


_LINK_SET = _slot_setters(
    DownloadLink, ("format", "quality", "provider", "url", "size", "size_bytes")
)
_MIRROR_SET = _slot_setters(Mirror, ("quality", "provider", "token", "is_default"))
_TOKEN_SET = _slot_setters(MirrorToken, ("id", "i", "q"))
_EPISODE_REF_SET = _slot_setters(EpisodeRef, ("slug", "title", "number", "published_on"))


def new_download_link(  # noqa: PLR0917 - mirrors the dataclass constructor
    format: str | None,  # noqa: A002 - the field's name
    quality: str | None,
    provider: str,
    url: str,
    size: str | None,
    size_bytes: int | None,
) -> DownloadLink:
    """`DownloadLink(format, quality, provider, url, size, size_bytes)`, faster."""
    link = _new(DownloadLink)
    set_format, set_quality, set_provider, set_url, set_size, set_bytes = _LINK_SET
    set_format(link, format)
    set_quality(link, quality)
    set_provider(link, provider)
    set_url(link, url)
    set_size(link, size)
    set_bytes(link, size_bytes)
    return link


def new_mirror(quality: str | None, provider: str, token: MirrorToken, is_default: bool) -> Mirror:
    """`Mirror(quality, provider, token, is_default)`, faster."""
    mirror = _new(Mirror)
    set_quality, set_provider, set_token, set_default = _MIRROR_SET
    set_quality(mirror, quality)
    set_provider(mirror, provider)
    set_token(mirror, token)
    set_default(mirror, is_default)
    return mirror


def new_mirror_token(post_id: int, index: int, quality: str) -> MirrorToken:
    """`MirrorToken(post_id, index, quality)`, faster."""
    token = _new(MirrorToken)
    set_id, set_index, set_quality = _TOKEN_SET
    set_id(token, post_id)
    set_index(token, index)
    set_quality(token, quality)
    return token


def new_episode_ref(
    slug: str, title: str, number: Number | None, published_on: datetime.date | None
) -> EpisodeRef:
    """`EpisodeRef(slug, title, number, published_on)`, faster."""
    ref = _new(EpisodeRef)
    set_slug, set_title, set_number, set_published = _EPISODE_REF_SET
    set_slug(ref, slug)
    set_title(ref, title)
    set_number(ref, number)
    set_published(ref, published_on)
    return ref
