"""Pure parsers for otakudesu pages: HTML text + URL in, frozen dataclasses out.

No I/O and no Django, so the scraper, `manage.py parse_page` and the tests call them alike.
Every parser raises only `ParseError`, whatever the input.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Callable
from typing import Any

from .common import ParseError, slug_from_url
from .detail import parse_detail
from .downloads import parse_batch, parse_lengkap
from .episode import (
    KNOWN_EMBED_ACTION,
    KNOWN_NONCE_ACTION,
    parse_embed_response,
    parse_episode,
    parse_nonce_response,
)
from .listing import (
    parse_anime_list,
    parse_genre_list,
    parse_genre_page,
    parse_home,
    parse_list_page,
    parse_schedule,
    parse_search,
)
from .types import (
    AnimeDetail,
    EpisodePage,
    EpisodeRef,
    Mirror,
    ParsedDownload,
)

# CLI kind → parser. "ongoing" and "completed" share the list-page parser.
PARSERS: dict[str, Callable[[str, str], Any]] = {
    "home": parse_home,
    "ongoing": parse_list_page,
    "completed": parse_list_page,
    "anime-list": parse_anime_list,
    "genre-list": parse_genre_list,
    "genre": parse_genre_page,
    "schedule": parse_schedule,
    "search": parse_search,
    "detail": parse_detail,
    "episode": parse_episode,
    "batch": parse_batch,
    "lengkap": parse_lengkap,
}

# The JSON shapes of these types are fixed (README.md in this package); their extra fields
# (release_date_text, is_default, size_bytes, …) stay out of the JSON.
_JSON_FIELDS: dict[type, tuple[str, ...]] = {
    AnimeDetail: (
        "slug",
        "title",
        "title_japanese",
        "score",
        "producers",
        "type",
        "status",
        "total_episodes",
        "duration",
        "release_date",
        "studios",
        "genres",
        "poster_url",
        "synopsis",
        "episodes",
        "batch",
        "lengkap",
    ),
    EpisodeRef: ("slug", "title", "number", "published_on"),
    EpisodePage: (
        "slug",
        "title",
        "anime_slug",
        "prev_slug",
        "next_slug",
        "post_id",
        "default_embed_url",
        "mirrors",
        "downloads",
        "nonce_action",
        "embed_action",
    ),
    Mirror: ("quality", "provider", "token"),
    ParsedDownload: ("format", "quality", "provider", "url", "size"),
}


def to_jsonable(obj: Any) -> Any:
    """Parser results → JSON-ready dicts/lists (dates as ISO `YYYY-MM-DD`)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        names = _JSON_FIELDS.get(type(obj)) or tuple(f.name for f in dataclasses.fields(obj))
        return {name: to_jsonable(getattr(obj, name)) for name in names}
    if isinstance(obj, list | tuple):
        return [to_jsonable(item) for item in obj]
    if isinstance(obj, dict):
        return {str(key): to_jsonable(value) for key, value in obj.items()}
    if isinstance(obj, datetime.date):
        return obj.isoformat()
    return obj


__all__ = [
    "KNOWN_EMBED_ACTION",
    "KNOWN_NONCE_ACTION",
    "PARSERS",
    "ParseError",
    "ParsedDownload",
    "parse_anime_list",
    "parse_batch",
    "parse_detail",
    "parse_embed_response",
    "parse_episode",
    "parse_genre_list",
    "parse_genre_page",
    "parse_home",
    "parse_lengkap",
    "parse_list_page",
    "parse_nonce_response",
    "parse_schedule",
    "parse_search",
    "slug_from_url",
    "to_jsonable",
]
