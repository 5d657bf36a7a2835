"""Viewer pages. Views stay thin: reads live in catalog.selectors, markup in templates/."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
)
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import get_conditional_response, patch_cache_control
from django.utils.csp import CSP
from django.utils.http import http_date, url_has_allowed_host_and_scheme
from django.utils.translation import check_for_language, get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from catalog import nearcache
from catalog import selectors as sel
from catalog.models import StreamLink
from scraper import services

PAGE_CACHE_SECONDS = 3600
MIRROR_OK_SECONDS = 3600
# A failing mirror is retried soon, but not on every click of every viewer.
MIRROR_FAIL_SECONDS = 30


def cached_page(
    request: HttpRequest,
    template: str,
    stamp: str,
    build: Callable[[], dict[str, Any]],
    *,
    last_modified: datetime | None = None,
) -> HttpResponse:
    """Render `template` once per (URL, language, data stamp); answer 304 when unchanged.

    `stamp` must change whenever the data shown changes (Anime.version for an anime and
    its episodes, the catalogue aggregate for lists), so new episodes show up at once.
    """
    near = nearcache.current()
    digest = _digest(f"{request.get_full_path()}|{get_language()}|{stamp}")
    key = f"page:{digest}"
    status, token, entry = _lookup(near, key)
    etag = f'"{_digest(f"{digest}|{token}")}"'
    if not_modified := get_conditional_response(request, etag=etag):
        return not_modified
    if entry is None or entry[0] != token:
        context = {"site_status": status, **build()}
        # Kept encoded: a hit then hands its bytes over without encoding them again.
        entry = (token, render_to_string(template, context, request).encode())
        cache.set(key, entry, PAGE_CACHE_SECONDS)
        near.keep_page(key, entry, len(entry[1]))
    response = HttpResponse(entry[1])
    response["ETag"] = etag
    if last_modified:
        response["Last-Modified"] = _http_date(last_modified)
    # Browsers revalidate every time (cheap 304s), so a new episode is never hidden. Set
    # directly: the response is new, there is nothing for patch_cache_control to merge.
    response["Cache-Control"] = "no-cache"
    return response


def _lookup(near: nearcache.NearCache, key: str) -> tuple[sel.SiteStatus, str, Any]:
    """The site status, its cache token, and the cached (token, page) under `key` if any.

    The page is cached under a key without the status token and stored with it, so one
    cache round trip fetches both; this process's near copies of both spare even that.
    """
    kept = near.recent(sel.SITE_STATUS_KEY)  # (status, token): the token costs a clock read
    entry = near.page(key)
    if kept is None or entry is None:
        hits = cache.get_many([sel.SITE_STATUS_KEY, key])
        if kept is None:
            status = hits.get(sel.SITE_STATUS_KEY) or sel.site_status()
            kept = (status, status.cache_token)
            near.keep_recent(sel.SITE_STATUS_KEY, kept, sel.NEAR_RECENT_SECONDS)
        if entry is None and (entry := hits.get(key)) is not None:
            near.keep_page(key, entry, len(entry[1]))
    return kept[0], kept[1], entry


@functools.lru_cache(maxsize=4096)
def _http_date(value: datetime) -> str:
    # Cached: a page's Last-Modified stays the same for every request until it changes.
    return http_date(value.timestamp())


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def home(request: HttpRequest) -> HttpResponse:
    stamp = sel.catalogue_stamp()
    if stamp.startswith("0."):
        status = sel.site_status(use_cache=False)
        return render(request, "catalog/empty.html", {"site_status": status})
    return cached_page(
        request,
        "catalog/home.html",
        stamp,
        lambda: {
            "episodes": sel.newest_episodes(),
            "completed": list(sel.completed_anime()[: sel.HOME_COMPLETED]),
            "today": sel.today_schedule(),
            "today_name": sel.today_name(),
        },
    )


def _card_list(request: HttpRequest, qs: Any, title: str, **extra: Any) -> HttpResponse:
    page_param = request.GET.get("page")
    return cached_page(
        request,
        "catalog/card_list.html",
        # The heading too: a genre renamed in the admin changes no anime's version.
        f"{sel.catalogue_stamp()}|{title}",
        lambda: {"page": sel.paginate(qs, page_param), "heading": title, **extra},
    )


def ongoing(request: HttpRequest) -> HttpResponse:
    return _card_list(request, sel.ongoing_anime(), _("Anime sedang tayang"), nav="ongoing")


def completed(request: HttpRequest) -> HttpResponse:
    return _card_list(request, sel.completed_anime(), _("Anime tamat"), nav="completed")


def genre_detail(request: HttpRequest, slug: str) -> HttpResponse:
    genre = sel.genre_or_404(slug)
    heading = _("Genre %(name)s") % {"name": genre.name}
    return _card_list(request, sel.genre_anime(genre), heading, genre=genre, nav="genres")


def anime_index(request: HttpRequest) -> HttpResponse:
    return cached_page(
        request,
        "catalog/az.html",
        sel.catalogue_stamp(),
        lambda: {"groups": sel.az_groups(), "nav": "az"},
    )


def genre_index(request: HttpRequest) -> HttpResponse:
    return cached_page(
        request,
        "catalog/genres.html",
        sel.catalogue_stamp(),
        lambda: {"genres": sel.genres_with_counts(), "nav": "genres"},
    )


def jadwal(request: HttpRequest) -> HttpResponse:
    return cached_page(
        request,
        "catalog/jadwal.html",
        sel.catalogue_stamp(),
        lambda: {"days": sel.schedule(), "today_name": sel.today_name(), "nav": "jadwal"},
    )


def search(request: HttpRequest) -> HttpResponse:
    query = sel.clean_query(request.GET.get("q"))
    page_param = request.GET.get("page")
    return cached_page(
        request,
        "catalog/search.html",
        sel.catalogue_stamp(),
        lambda: {
            "query": query,
            "too_long": len(request.GET.get("q", "")) > sel.MAX_QUERY_LENGTH,
            "page": sel.paginate(sel.search_anime(query), page_param) if query else None,
        },
    )


def anime_detail(request: HttpRequest, slug: str) -> HttpResponse:
    head = sel.anime_stamp(slug)  # the only query of a cached page

    def build() -> dict[str, Any]:
        anime = sel.anime_by_pk(head.pk)
        return {"data": sel.anime_page(anime), "anime": anime}

    return cached_page(
        request,
        "catalog/anime.html",
        f"anime:{head.pk}:{head.version}",
        build,
        last_modified=head.updated_at,
    )


def episode_detail(request: HttpRequest, slug: str) -> HttpResponse:
    episode = sel.episode_head(slug)
    hosts = sel.embed_hosts()
    anime = episode.anime
    response = cached_page(
        request,
        "catalog/episode.html",
        f"episode:{episode.pk}:{anime.version}:{' '.join(hosts)}",
        lambda: _episode_context(episode, [*hosts, request.get_host().lower()]),
        last_modified=max(anime.updated_at, episode.updated_at),
    )
    # frame-src: this site plus the embed hosts the scraper found, nothing else.
    response._csp_config = {**settings.SECURE_CSP, "frame-src": [CSP.SELF, *hosts]}  # type: ignore[attr-defined]
    return response


def _episode_context(episode: Any, allowed_hosts: list[str]) -> dict[str, Any]:
    data = sel.episode_page(episode)
    # An embed the page's CSP would block is not shown: the viewer picks a mirror instead.
    src = data.default_embed if sel.host_allowed(data.default_embed, allowed_hosts) else ""
    return {"data": data, "anime": episode.anime, "player_src": src, "frame_hosts": allowed_hosts}


@require_GET
def mirror(request: HttpRequest, link_id: int) -> JsonResponse:
    """Resolve one mirror server-side (through the pipeline's service) for the player."""
    if not StreamLink.objects.filter(pk=link_id).exists():
        return JsonResponse({"ok": False, "error": _("Mirror tidak ditemukan.")}, status=404)
    key = f"mirror:{link_id}"
    data = cache.get(key)
    if data is None:
        try:
            url = sel.safe_embed_url(services.resolve_mirror(link_id=link_id))
            data = {"ok": bool(url), "url": url} if url else {"ok": False, "detail": "bad url"}
        except services.MirrorError as exc:
            data = {"ok": False, "detail": str(exc)[:300]}
        sel.forget_embed_hosts()
        cache.set(key, data, MIRROR_OK_SECONDS if data["ok"] else MIRROR_FAIL_SECONDS)
    if not data["ok"]:
        data = {**data, "error": _("Mirror ini gagal dimuat.")}
    response = JsonResponse(data, status=200 if data["ok"] else 502)
    patch_cache_control(response, private=True, max_age=60 if data["ok"] else 0)
    return response


def set_language(request: HttpRequest, code: str) -> HttpResponseRedirect:
    """Switch language with a plain link: pages stay cacheable (no per-user CSRF form)."""
    if not check_for_language(code) or code not in dict(settings.LANGUAGES):
        raise Http404("unknown language")
    target = request.GET.get("next", "/")
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        target = "/"
    response = HttpResponseRedirect(target)
    response.set_cookie(settings.LANGUAGE_COOKIE_NAME, code, max_age=365 * 86400, samesite="Lax")
    return response


def robots_txt(request: HttpRequest) -> HttpResponse:
    sitemap = request.build_absolute_uri(reverse("sitemap"))
    lines = ["User-agent: *", "Disallow: /admin/", "Disallow: /api/", "Disallow: /bahasa/"]
    return HttpResponse("\n".join([*lines, f"Sitemap: {sitemap}", ""]), content_type="text/plain")


def healthz(request: HttpRequest) -> JsonResponse:
    checks: dict[str, Any] = {"database": False, "cache": False}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = True
        status = sel.site_status(use_cache=False)
    except Exception:
        status = None
    try:
        cache.set("healthz:probe", "1", 10)
        checks["cache"] = cache.get("healthz:probe") == "1"
    except Exception:
        checks["cache"] = False
    age = status.age if status else None
    checks["last_update"] = status.last_ok_at.isoformat() if status and status.last_ok_at else None
    checks["last_update_age_seconds"] = int(age.total_seconds()) if age else None
    checks["stale"] = bool(status and status.is_stale)
    checks["now"] = timezone.now().isoformat()
    # Whether this process may trust its in-memory versions (catalog/nearcache.py).
    near = nearcache.current()
    checks["near_cache"] = "off" if near is nearcache.OFF else ("live" if near.live else "down")
    checks["ok"] = checks["database"] and checks["cache"]
    response = JsonResponse(checks, status=200 if checks["ok"] else 503)
    patch_cache_control(response, no_store=True)
    return response
