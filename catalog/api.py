"""The public read-only JSON API, `/api/v1/` (django-ninja): the stored catalogue for the
apps and bots that scrape the origin on every request today.

Reads go through catalog/selectors.py and catalog/search.py, like the pages. Each body is
built once per (path, parameters, data version) and kept like a page (shared cache, each
process's near cache: catalog/pagecache.py), so a new episode shows at once; browsers and
apps revalidate with the ETag (a 304 from ConditionalGetMiddleware). Errors always have the
shape {"error": {"code", "message"}} (otakusite/api_edge.py, which also rate-limits and
answers CORS).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.csp import csp_override
from ninja import NinjaAPI, Query, Schema
from ninja.errors import HttpError, ValidationError
from pydantic import BaseModel, Field

from catalog import api_schemas as s
from catalog import embed_policy, pagecache, search
from catalog import selectors as sel
from catalog.embed_policy import safe_embed_url
from catalog.models import Anime, Genre
from otakusite import resilience
from otakusite.api_edge import json_error

log = logging.getLogger(__name__)

PER_PAGE = 24
MAX_PER_PAGE = 100
MAX_PAGE = 999_999


def _docs_policy(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """The docs page's Content-Security-Policy: the site's, plus `data:` images, which is
    how Swagger UI's stylesheet draws its icons (arrows, the copy button...)."""
    policy: dict[str, Any] = dict(settings.SECURE_CSP)
    policy["img-src"] = [*policy["img-src"], "data:"]
    return csp_override(policy)(view)


api = NinjaAPI(
    title="otakusite API",
    version="1",
    description="Katalog anime yang tersimpan, hanya-baca. Teks dalam bahasa Indonesia.",
    urls_namespace="api-v1",
    openapi_url="/schema/",
    docs_url="/docs/",
    docs_decorator=_docs_policy,
)
# Every operation may answer these (the rate limit, a database outage); the lists and
# details add 400 and 404.
COMMON_ERRORS: dict[int, type[Schema]] = {429: s.Error, 503: s.Error}
ERRORS: dict[int, type[Schema]] = {400: s.Error, 404: s.Error, **COMMON_ERRORS}


class Paging(BaseModel):
    page: int = Field(1, ge=1, le=MAX_PAGE)
    per_page: int = Field(PER_PAGE, ge=1, le=MAX_PER_PAGE)


# --- Errors -------------------------------------------------------------------------


@api.exception_handler(ValidationError)
def _invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    fields = ", ".join(".".join(map(str, e.get("loc", ())[1:])) for e in exc.errors)
    return json_error(400, "bad_request", f"Parameter tidak valid: {fields}")


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return json_error(404)


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return json_error(exc.status_code, message=str(exc))


@api.exception_handler(Exception)
def _server_error(request: HttpRequest, exc: Exception) -> HttpResponse:
    """Never a traceback in the body. A database outage is a 503 with Retry-After, as the
    pages get (otakusite/middleware.py); anything else is logged as the bug it is."""
    if resilience.database_unavailable(exc):
        resilience.close_broken_connections()
        log.warning("database unavailable for %s: %s", request.path, exc)
        return json_error(503, Retry_After=str(settings.DEGRADED_RETRY_AFTER))
    log.error("API error on %s", request.path, exc_info=exc)
    return json_error(500)


# --- Responses -----------------------------------------------------------------------


def _respond(
    request: HttpRequest,
    schema: type[Schema],
    version: str,
    build: Callable[[], dict[str, Any]],
    params: dict[str, Any] | None = None,
) -> HttpResponse:
    """The body of this (origin, path, `params`, version), built once and shared through
    the cache. `params` are the parsed parameters the answer reads, never the raw query
    string: `?x=1`, `?x=2`... share one entry. The origin is in the key because the body's
    links are absolute."""
    query = urlencode(sorted((params or {}).items()))
    origin = f"{request.scheme}://{request.get_host()}"
    digest = hashlib.sha256(f"{origin}{request.path}?{query}|{version}".encode()).hexdigest()

    def load() -> tuple[str, bytes]:
        body = schema.model_validate(build()).model_dump_json().encode()
        return f'"{hashlib.sha256(body).hexdigest()[:32]}"', body

    etag, body = pagecache.shared_body(f"api:v1:{digest[:40]}", load)
    response = HttpResponse(body, content_type="application/json")
    response["ETag"] = etag
    # Revalidated on every use (a cheap 304), so a new episode is never hidden.
    response["Cache-Control"] = "public, no-cache"
    return response


def _url(request: HttpRequest, name: str, *args: Any) -> str:
    return request.build_absolute_uri(reverse(f"api-v1:{name}", args=args))


def _page(
    request: HttpRequest, items: Any, paging: Paging, params: dict[str, Any]
) -> tuple[list[Any], dict[str, Any]]:
    """One page of `items` and its pagination block; its links keep `params` (the parsed
    parameters) and nothing else of the query string."""
    paginator = Paginator(items, paging.per_page, allow_empty_first_page=True)
    if paging.page > paginator.num_pages:
        raise Http404("no such page")
    page = paginator.page(paging.page)

    def link(number: int) -> str:
        query = urlencode(sorted({**params, "page": number}.items()))
        return request.build_absolute_uri(f"{request.path}?{query}")

    meta = {
        "page": paging.page,
        "per_page": paging.per_page,
        "total": paginator.count,
        "pages": paginator.num_pages,
        "next": link(paging.page + 1) if page.has_next() else None,
        "prev": link(paging.page - 1) if page.has_previous() else None,
    }
    return list(page.object_list), meta


def _card(request: HttpRequest, anime: Anime) -> dict[str, Any]:
    return {
        "slug": anime.slug,
        "title": anime.title,
        "poster_url": anime.poster_url,
        "score": float(anime.score) if anime.score is not None else None,
        "type": anime.type,
        "status": anime.status,
        "total_episodes": anime.total_episodes,
        "release_day": anime.release_day,
        "url": _url(request, "anime", anime.slug),
    }


def _number(value: Any) -> str | None:
    return None if value is None else f"{value.normalize():f}"


def _genre(request: HttpRequest, genre: Genre, count: int) -> dict[str, Any]:
    return {
        "slug": genre.slug,
        "name": genre.name,
        "anime_count": count,
        "url": _url(request, "genre", genre.slug),
    }


def _genre_ref(request: HttpRequest, genre: Genre) -> dict[str, Any]:
    return {"slug": genre.slug, "name": genre.name, "url": _url(request, "genre", genre.slug)}


def _card_list(request: HttpRequest, qs: Any, paging: Paging) -> dict[str, Any]:
    items, meta = _page(request, qs, paging, {"per_page": paging.per_page})
    return {"items": [_card(request, a) for a in items], "pagination": meta}


def _cards_page(request: HttpRequest, qs: Any, paging: Paging, version: str) -> HttpResponse:
    build = lambda: _card_list(request, qs, paging)  # noqa: E731
    return _respond(request, s.AnimeList, version, build, paging.model_dump())


# --- Lists ----------------------------------------------------------------------------


@api.get("/", response={200: s.Home, **COMMON_ERRORS}, url_name="home", summary="Beranda")
def home(request: HttpRequest) -> HttpResponse:
    def build() -> dict[str, Any]:
        return {
            "newest_episodes": [_new_episode(request, e) for e in sel.newest_episodes()],
            "ongoing": [_card(request, a) for a in sel.ongoing_anime()[: sel.HOME_EPISODES]],
            "completed": [_card(request, a) for a in sel.completed_anime()[: sel.HOME_COMPLETED]],
        }

    return _respond(request, s.Home, sel.catalogue_version(), build)


def _new_episode(request: HttpRequest, episode: Any) -> dict[str, Any]:
    anime = episode.anime
    return {
        "slug": episode.slug,
        "title": episode.title,
        "number": _number(episode.number),
        "published_on": episode.published_on,
        "created_at": episode.created_at,
        "anime": {
            "slug": anime.slug,
            "title": anime.title,
            "url": _url(request, "anime", anime.slug),
        },
        "url": _url(request, "episode", episode.slug),
    }


@api.get("/ongoing/", response={200: s.AnimeList, **ERRORS}, url_name="ongoing")
def ongoing(request: HttpRequest, paging: Query[Paging]) -> HttpResponse:
    return _cards_page(request, sel.ongoing_anime(), paging, sel.catalogue_version())


@api.get("/completed/", response={200: s.AnimeList, **ERRORS}, url_name="completed")
def completed(request: HttpRequest, paging: Query[Paging]) -> HttpResponse:
    return _cards_page(request, sel.completed_anime(), paging, sel.catalogue_version())


@api.get("/anime/", response={200: s.AzList, **COMMON_ERRORS}, url_name="az", summary="Daftar A-Z")
def az(request: HttpRequest) -> HttpResponse:
    def build() -> dict[str, Any]:
        groups = [
            {
                "letter": letter,
                "anime": [{**row, "url": _url(request, "anime", row["slug"])} for row in rows],
            }
            for letter, rows in sel.az_groups()
        ]
        return {"groups": groups}

    return _respond(request, s.AzList, sel.catalogue_version(), build)


@api.get("/genres/", response={200: s.GenreList, **COMMON_ERRORS}, url_name="genres")
def genres(request: HttpRequest) -> HttpResponse:
    def build() -> dict[str, Any]:
        return {"items": [_genre(request, g, g.n) for g in sel.genres_with_counts()]}  # type: ignore[attr-defined]

    return _respond(request, s.GenreList, sel.catalogue_version(), build)


@api.get("/genres/{slug}/", response={200: s.GenreAnime, **ERRORS}, url_name="genre")
def genre(request: HttpRequest, slug: str, paging: Query[Paging]) -> HttpResponse:
    found = sel.genre_or_404(slug)

    def build() -> dict[str, Any]:
        data = _card_list(request, sel.genre_anime(found), paging)
        return {"genre": _genre(request, found, data["pagination"]["total"]), **data}

    # The name too: a genre renamed in the admin changes no anime's version.
    version = f"{sel.catalogue_version()}|{found.name}"
    return _respond(request, s.GenreAnime, version, build, paging.model_dump())


@api.get(
    "/schedule/",
    response={200: s.Schedule, **COMMON_ERRORS},
    url_name="schedule",
    summary="Jadwal rilis",
)
def schedule(request: HttpRequest) -> HttpResponse:
    def build() -> dict[str, Any]:
        days = [
            {"day": day, "anime": [_card(request, a) for a in rows]} for day, rows in sel.schedule()
        ]
        return {"days": days}

    return _respond(request, s.Schedule, sel.catalogue_version(), build)


class SearchQuery(Paging):
    q: str = Field("", max_length=1000)
    genre: str = Field("", max_length=1000, description="Slug genre, dipisah koma")
    status: str = Field("", max_length=100)
    type: str = Field("", max_length=100)
    year: str = Field("", max_length=100)
    min_score: str = Field("", max_length=100)
    sort: str = Field("", max_length=100, description=" | ".join(search.SORTS))


@api.get("/search/", response={200: s.SearchResult, **ERRORS}, url_name="search")
def search_anime(request: HttpRequest, query: Query[SearchQuery]) -> HttpResponse:
    """The site's search: same matching, filters and sorts; unknown filter values are
    ignored, as on the site."""
    params = search.SearchParams.from_request(request)
    version = sel.catalogue_version()
    # The site's normalised search parameters: the key and the links keep only these.
    key = {**params.key(), "per_page": query.per_page}

    def build() -> dict[str, Any]:
        index = search.index_for(version)
        numbers, meta = _page(request, search.results(index, params), query, key)
        ids = [index.ids[n] for n in numbers]
        found = {a.pk: a for a in sel.cards(Anime.objects.filter(pk__in=ids))}
        return {
            "query": params.query,
            "genres": list(params.genres),
            "status": params.status,
            "type": params.type,
            "year": params.year,
            "min_score": params.min_score,
            "sort": params.order,
            "items": [_card(request, found[pk]) for pk in ids if pk in found],
            "pagination": meta,
        }

    return _respond(request, s.SearchResult, version, build, {**key, "page": query.page})


# --- An anime, an episode -------------------------------------------------------------


def _download(link: Any) -> dict[str, Any]:
    return {
        "format": link.format,
        "quality": link.quality,
        "provider": link.provider,
        "size_text": link.size_text,
        "size_bytes": link.size_bytes,
        "url": link.url,
    }


def _episode_ref(request: HttpRequest, row: sel.EpisodeRow | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {
        "slug": row.slug,
        "title": row.title,
        "number": _number(row.number),
        "published_on": row.published_on,
        "url": _url(request, "episode", row.slug),
    }


@api.get("/anime/{slug}/", response={200: s.AnimeDetail, **ERRORS}, url_name="anime")
def anime(request: HttpRequest, slug: str) -> HttpResponse:
    version = sel.anime_version(slug)

    def build() -> dict[str, Any]:
        found = sel.anime_by_pk(version.pk)
        data = sel.anime_context(found)
        fields = ("title_japanese", "duration", "release_date", "release_date_text")
        return {
            **_card(request, found),
            **{name: getattr(found, name) for name in fields},
            "studios": [str(x) for x in found.studios or []],
            "producers": [str(x) for x in found.producers or []],
            "synopsis": found.synopsis,
            "updated_at": found.updated_at,
            "genres": [_genre_ref(request, g) for g in data.genres],
            "episodes": [_episode_ref(request, row) for row in data.episodes],
            "batches": [
                {"title": b.title, "downloads": [_download(link) for link in b.links]}
                for b in data.batches
            ],
        }

    return _respond(request, s.AnimeDetail, f"anime:{version.pk}:{version.version}", build)


@api.get("/episodes/{slug}/", response={200: s.EpisodeDetail, **ERRORS}, url_name="episode")
def episode(request: HttpRequest, slug: str) -> HttpResponse:
    head = sel.episode_head(slug)
    hosts = embed_policy.embed_hosts()
    version = f"episode:{head.pk}:{head.anime.version}:{head.updated_at.timestamp()}"
    version += ":" + " ".join(hosts)

    def embed(url: str) -> str | None:
        # Like the pages: only a URL on an allowed embed host is handed out.
        url = safe_embed_url(url)
        return url if url and embed_policy.host_allowed(url, hosts) else None

    def build() -> dict[str, Any]:
        data = sel.episode_context(head)
        mirrors = [
            {
                "id": link.pk,
                "quality": group.quality,
                "provider": link.provider,
                "is_default": link.is_default,
                "embed_url": embed(link.embed_url),
                "resolve_url": _url(request, "mirror", link.pk),
            }
            for group in data.qualities
            for link in group.links
        ]
        return {
            "slug": head.slug,
            "title": head.title,
            "number": _number(head.number),
            "published_on": head.published_on,
            "updated_at": head.updated_at,
            "anime": {
                "slug": data.anime.slug,
                "title": data.anime.title,
                "url": _url(request, "anime", data.anime.slug),
            },
            "previous": _episode_ref(request, data.previous),
            "next": _episode_ref(request, data.next),
            "default_embed_url": embed(data.default_embed),
            "mirrors": mirrors,
            "downloads": [_download(link) for g in data.downloads for link in g.links],
        }

    return _respond(request, s.EpisodeDetail, version, build)
