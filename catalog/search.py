"""The search page's reads: its parameters, the in-memory index, filters and sorts.

Every anime's title keys (catalog/search_index.py) and the columns the filters read sit in
one index per web process, built from two queries and rebuilt when the catalogue version
(catalog/selectors.catalogue_version: any ingest or admin change) moves on. A search then
costs no SQL but the cards of the page it shows, alike on MariaDB and SQLite.
"""

from __future__ import annotations

import random
import re
import threading
import uuid
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.cache import cache
from django.http import HttpRequest, QueryDict
from django.urls import reverse
from django.utils.http import urlencode

from catalog import pagecache
from catalog import selectors as sel
from catalog.models import Anime
from catalog.search_index import TitleIndex, match

SORTS = ("relevance", "newest", "score", "title")
MAX_GENRES = 10
_GENRE = re.compile(r"^[\w-]{1,80}$")
_TYPE = re.compile(r"^[\w .-]{1,32}$")
_YEAR = re.compile(r"(?<!\d)(19\d\d|20\d\d)(?!\d)")
# Whose index this process holds: a token per catalogue version, kept in the shared cache,
# so a version string that repeats (a catalogue emptied and filled again within the same
# second, as tests do) never finds an index built from other rows.
TOKEN_SECONDS = 86400


# --- Parameters ---------------------------------------------------------------------


@dataclass(frozen=True)
class SearchParams:
    """What a search asks for, normalised: anything unknown or malformed is dropped, so
    odd values neither fail nor make new cache entries."""

    query: str = ""
    too_long: bool = False
    genres: tuple[str, ...] = ()
    status: str = ""
    type: str = ""
    year: str = ""
    min_score: str = ""
    sort: str = ""

    @classmethod
    def from_request(cls, request: HttpRequest) -> SearchParams:
        query, too_long = pagecache.search_query(request)
        get = request.GET
        return cls(
            query=query,
            too_long=too_long,
            genres=_genres(get),
            status=_choice(get.get("status"), tuple(Anime.Status.values)),
            type=_type(get.get("type")),
            year=_year(get.get("year")),
            min_score=_score(get.get("min_score")),
            sort=_choice(get.get("sort"), SORTS),
        )

    @property
    def filtered(self) -> bool:
        return bool(self.genres or self.status or self.type or self.year or self.min_score)

    @property
    def active(self) -> bool:
        return bool(self.query or self.filtered)

    @property
    def order(self) -> str:
        default = "relevance" if self.query else "newest"
        # Relevance means nothing without a query: the default order then.
        return default if self.sort in ("", "relevance") else self.sort

    @property
    def sort_param(self) -> str:
        # The default order has no parameter: ?sort=relevance and nothing share a page.
        return "" if self.order == ("relevance" if self.query else "newest") else self.order

    def key(self, number: int = 1) -> dict[str, str]:
        """The parameters the page is keyed on and its links keep."""
        return pagecache.page_params(
            number,
            q=self.query,
            genre=",".join(self.genres),
            status=self.status,
            type=self.type,
            year=self.year,
            min_score=self.min_score,
            sort=self.sort_param,
        )

    def query_string(self, **changes: Any) -> str:
        """`?...` of this search with `changes` (first page), or "" when it has none."""
        params = replace(self, **changes) if changes else self
        query = urlencode(sorted(params.key().items()))
        return f"?{query}" if query else ""

    def url(self, **changes: Any) -> str:
        return reverse("catalog:search") + self.query_string(**changes)


def _choice(raw: str | None, allowed: tuple[str, ...]) -> str:
    value = (raw or "").strip().lower()
    return value if value in allowed else ""


def _genres(get: QueryDict) -> tuple[str, ...]:
    # ?genre=a&genre=b (the form's checkboxes) and ?genre=a,b (the page's links) alike.
    slugs = {s.strip() for raw in get.getlist("genre")[:MAX_GENRES] for s in raw.split(",")}
    return tuple(sorted(s for s in slugs if _GENRE.match(s)))[:MAX_GENRES]


def _type(raw: str | None) -> str:
    value = " ".join((raw or "").split()).casefold()
    return value if _TYPE.match(value) else ""


def _year(raw: str | None) -> str:
    value = (raw or "").strip()
    return value if len(value) == 4 and value.isdigit() and 1900 <= int(value) <= 2100 else ""


def _score(raw: str | None) -> str:
    text = (raw or "").strip().replace(",", ".")
    if not text or len(text) > 6:
        return ""
    try:
        value = Decimal(text)
    except InvalidOperation:
        return ""
    if not value.is_finite() or not 0 < value <= 10:
        return ""
    return f"{value.quantize(Decimal('0.01')).normalize():f}"


# --- The index ------------------------------------------------------------------------


@dataclass
class SearchIndex:
    """Columns per anime (position = entry number, in title order) and the choices the
    filter form offers (only values some anime has)."""

    titles: TitleIndex
    ids: list[int]
    slugs: list[str]
    statuses: list[str]
    types: list[str]  # case-folded
    years: list[str]
    scores: list[float | None]
    newest: list[tuple[int, int]]  # (release date's ordinal or 0, id): larger is newer
    genres: list[frozenset[str]]
    genre_choices: list[tuple[str, str]] = field(default_factory=list)  # (slug, name)
    type_choices: list[tuple[str, str]] = field(default_factory=list)  # (folded, shown)
    year_choices: list[str] = field(default_factory=list)


_LOCAL: dict[str, SearchIndex] = {}
_BUILD_LOCK = threading.Lock()


def index_for(version: str) -> SearchIndex:
    """This process's index of catalogue `version`, built on first use."""
    token_key = f"search:index-token:{version}"
    token = cache.get(token_key)
    if token is None:
        cache.add(token_key, uuid.uuid4().hex, TOKEN_SECONDS)
        token = cache.get(token_key) or "no-cache"
    local_key = f"{version}|{token}"
    if (hit := _LOCAL.get(local_key)) is not None:
        return hit
    # One build at a time: threads asking meanwhile get the one just built.
    with _BUILD_LOCK:
        if (hit := _LOCAL.get(local_key)) is not None:
            return hit
        index = build_index(next(iter(_LOCAL.values()), None))
        _LOCAL.clear()  # only the current version is ever asked for again
        _LOCAL[local_key] = index
        return index


def _year_of(released: date | None, text: str) -> str:
    if released:
        return str(released.year)
    found = _YEAR.search(text or "")
    return found.group(1) if found else ""


def build_index(previous: SearchIndex | None = None) -> SearchIndex:
    rows = sorted(
        Anime.objects.values_list(
            "id",
            "slug",
            "title",
            "title_japanese",
            "status",
            "type",
            "score",
            "release_date",
            "release_date_text",
        ),
        key=lambda row: (row[2].casefold(), row[0]),
    )
    genres_of: dict[int, set[str]] = {}
    names: dict[str, str] = {}
    for anime_id, slug, name in Anime.genres.through.objects.values_list(
        "anime_id", "genre__slug", "genre__name"
    ):
        genres_of.setdefault(anime_id, set()).add(slug)
        names[slug] = name
    types = {(row[5] or "").casefold(): row[5] for row in rows if row[5]}
    index = SearchIndex(
        titles=TitleIndex.build(
            [(row[2], row[3] or "") for row in rows], previous.titles if previous else None
        ),
        ids=[row[0] for row in rows],
        slugs=[row[1] for row in rows],
        statuses=[row[4] for row in rows],
        types=[(row[5] or "").casefold() for row in rows],
        years=[_year_of(row[7], row[8]) for row in rows],
        scores=[float(row[6]) if row[6] is not None else None for row in rows],
        newest=[(row[7].toordinal() if row[7] else 0, row[0]) for row in rows],
        genres=[frozenset(genres_of.get(row[0], ())) for row in rows],
    )
    index.genre_choices = sorted(names.items(), key=lambda item: item[1].casefold())
    index.type_choices = sorted(types.items())
    index.year_choices = sorted({y for y in index.years if y}, reverse=True)
    return index


# --- Results ----------------------------------------------------------------------------


def _passes(index: SearchIndex, params: SearchParams) -> list[int]:
    wanted = frozenset(params.genres)
    minimum = float(params.min_score) if params.min_score else None
    numbers = match(index.titles, params.query) if params.query else range(len(index.ids))
    return [
        n
        for n in numbers
        if (not wanted or wanted <= index.genres[n])
        and (not params.status or index.statuses[n] == params.status)
        and (not params.type or index.types[n] == params.type)
        and (not params.year or index.years[n] == params.year)
        and (minimum is None or (index.scores[n] or 0) >= minimum)
    ]


def results(index: SearchIndex, params: SearchParams) -> list[int]:
    """Entry numbers of the anime the search finds, in the order asked for."""
    numbers = _passes(index, params)
    order = params.order
    if order == "newest":
        numbers.sort(key=lambda n: index.newest[n], reverse=True)
    elif order == "score":
        # Highest first, unscored last; equal scores in title order (the index's order).
        numbers.sort(key=lambda n: -(index.scores[n] or -1.0))
    elif order == "title" or not params.query:
        numbers.sort()
    return numbers


def random_slug(params: SearchParams) -> str | None:
    """A random anime among those the search finds (any anime without parameters)."""
    index = index_for(sel.catalogue_version())
    numbers = results(index, replace(params, sort="title"))
    return index.slugs[random.choice(numbers)] if numbers else None


def page_data(params: SearchParams, number: int, version: str) -> dict[str, Any]:
    """The search page's context: the page of cards, the filter form's choices, the
    active filters with links that drop each one, and the sort links."""
    index = index_for(version)
    page = None
    if params.active:
        page = sel.paginate(results(index, params), str(number))
        ids = [index.ids[n] for n in page.object_list]
        found = {a.pk: a for a in sel.cards(Anime.objects.filter(pk__in=ids))}
        page.object_list = [found[pk] for pk in ids if pk in found]
    return {
        "query": params.query,
        "too_long": params.too_long,
        "params": params,
        "page": page,
        "choices": index,
        "chips": _chips(index, params),
        "sorts": [
            (name, params.url(sort=name)) for name in SORTS if params.query or name != "relevance"
        ],
        "random_url": reverse("catalog:random") + params.query_string(),
    }


def _without(values: tuple[str, ...], value: str) -> tuple[str, ...]:
    return tuple(v for v in values if v != value)


@dataclass(frozen=True)
class Chip:
    kind: str
    label: str
    url: str  # the same search without this filter


def _chips(index: SearchIndex, params: SearchParams) -> list[Chip]:
    names = dict(index.genre_choices)
    types = dict(index.type_choices)
    chips = [
        Chip("genre", names.get(slug, slug), params.url(genres=_without(params.genres, slug)))
        for slug in params.genres
    ]
    if params.status:
        chips.append(Chip("status", str(Anime.Status(params.status).label), params.url(status="")))
    if params.type:
        chips.append(Chip("type", types.get(params.type, params.type), params.url(type="")))
    if params.year:
        chips.append(Chip("year", params.year, params.url(year="")))
    if params.min_score:
        chips.append(Chip("min_score", params.min_score, params.url(min_score="")))
    return chips
