"""Viewer pages. Views stay thin: reads live in catalog.selectors, markup in templates/."""

from __future__ import annotations

import functools
import hashlib
import os
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.cache import cache, caches
from django.db import connection
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
    QueryDict,
)
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import get_conditional_response, patch_cache_control
from django.utils.csp import CSP
from django.utils.http import http_date, url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import check_for_language, get_language
from django.utils.translation import gettext as _

from catalog import nearcache, stale
from catalog import selectors as sel
from otakusite import resilience

PAGE_CACHE_SECONDS = 3600


def cached_page(
    request: HttpRequest,
    template: str,
    stamp: str,
    build: Callable[[], dict[str, Any]],
    *,
    params: dict[str, str] | None = None,
    last_modified: datetime | None = None,
) -> HttpResponse:
    """Render `template` once per (path, page parameters, language, data stamp); answer 304
    when unchanged.

    `stamp` must change whenever the data shown changes (Anime.version for an anime and
    its episodes, the catalogue aggregate for lists), so new episodes show up at once.
    `params` are the query parameters the page reads, already normalised by the view: the
    key is built from them and the path only, never from the raw query string, so
    `?v=1`, `?v=2`, ... (cache-busters, trackers) share one entry instead of each minting
    a new one. The page is rendered from the same parameters (links, language switch), so
    what one viewer put in the query string never shows up in the page others get.
    """
    near = nearcache.current()
    query = urlencode(sorted(params.items())) if params else ""
    canonical = f"{request.path}?{query}" if query else request.path
    digest = _digest(f"{canonical}|{get_language()}|{stamp}")
    key = f"page:{digest}"
    status, token, entry = _lookup(near, key)
    etag = f'"{_digest(f"{digest}|{token}")}"'
    if not_modified := get_conditional_response(request, etag=etag):
        return not_modified
    if entry is None or entry[0] != token:
        # One build per page per process at a time: when a crawl changes the catalogue
        # every few seconds, every thread asking for the home page at that moment would
        # otherwise render it (a load test saw p99 1.7 s and timeouts). A thread that
        # waited finds the page its neighbour just built. The wait is bounded: behind a
        # build stuck on a frozen database, a thread goes ahead on its own as before.
        lock = _BUILD_LOCKS[hash(key) % len(_BUILD_LOCKS)]
        waited = lock.acquire(timeout=BUILD_WAIT_SECONDS)
        try:
            if waited:
                status, token, entry = _lookup(near, key)
            if entry is None or entry[0] != token:
                entry = _build_page(
                    request, template, key=key, build=build, status=status, params=params
                )
        finally:
            if waited:
                lock.release()
        etag = f'"{_digest(f"{digest}|{entry[0]}")}"'  # the status may have moved meanwhile
    response = HttpResponse(entry[1])
    response["ETag"] = etag
    if last_modified:
        response["Last-Modified"] = _http_date(last_modified)
    # Browsers revalidate every time (cheap 304s), so a new episode is never hidden. Set
    # directly: the response is new, there is nothing for patch_cache_control to merge.
    response["Cache-Control"] = "no-cache"
    return response


# Striped: a lock per page would need bookkeeping; 64 make unrelated pages rarely wait.
_BUILD_LOCKS = [threading.Lock() for _ in range(64)]
# A normal build takes milliseconds; one that takes longer is stuck, not worth waiting for.
BUILD_WAIT_SECONDS = 1.0


def _build_page(
    request: HttpRequest,
    template: str,
    *,
    key: str,
    build: Callable[[], dict[str, Any]],
    status: sel.SiteStatus,
    params: dict[str, str] | None,
) -> tuple[str, bytes]:
    """Render a page, cache it (Redis and this process's near copy) and return the entry."""
    near = nearcache.current()
    query = urlencode(sorted(params.items())) if params else ""
    canonical = f"{request.path}?{query}" if query else request.path
    context = {
        "site_status": status,
        "page_path": canonical,
        "page_query": QueryDict(query),
        **build(),
    }
    # Kept encoded: a hit then hands its bytes over without encoding them again.
    entry = (status.cache_token, render_to_string(template, context, request).encode())
    cache.set(key, entry, PAGE_CACHE_SECONDS)
    near.keep_page(key, entry, len(entry[1]))
    # And its last good copy, found without the database while that is down.
    stale.remember(
        stale.identity(request.path, params),
        entry[1],
        as_of=status.last_ok_at,
        frame_hosts=context.get("frame_hosts", ()),
    )
    return entry


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


def _page_number(request: HttpRequest) -> int:
    """`?page=` as a number: 1 when absent; anything but digits is a 404 right away (never
    a cache entry). Pages past the last are a 404 from sel.paginate, also never cached."""
    raw = request.GET.get("page") or "1"
    if not raw.isdigit() or len(raw) > 6 or int(raw) < 1:
        raise Http404("bad page")
    return int(raw)


def _page_params(number: int, **extra: str) -> dict[str, str]:
    # Page 1 is the page without the parameter: `?page=1`, `?page=01` and none share a key.
    return {**extra, "page": str(number)} if number > 1 else extra


def _card_list(request: HttpRequest, qs: Any, title: str, **extra: Any) -> HttpResponse:
    number = _page_number(request)
    return cached_page(
        request,
        "catalog/card_list.html",
        # The heading too: a genre renamed in the admin changes no anime's version.
        f"{sel.catalogue_stamp()}|{title}",
        lambda: {"page": sel.paginate(qs, str(number)), "heading": title, **extra},
        params=_page_params(number),
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
    # Search ignores case (catalog.models.fold_text), so the key and the page do too:
    # "Naruto", " naruto " and "NARUTO" share one entry.
    query = sel.clean_query(request.GET.get("q")).casefold()
    too_long = len(request.GET.get("q", "")) > sel.MAX_QUERY_LENGTH
    number = _page_number(request) if query else 1
    return cached_page(
        request,
        "catalog/search.html",
        f"{sel.catalogue_stamp()}|{int(too_long)}",
        lambda: {
            "query": query,
            "too_long": too_long,
            "page": sel.paginate(sel.search_anime(query), str(number)) if query else None,
        },
        params=_page_params(number, q=query) if query else None,
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
    # frame-src: this site plus the allowed embed hosts (EMBED_HOSTS_ALLOWED or approved in
    # the admin) that the scraper found; a host the origin names is pending until then.
    response._csp_config = {**settings.SECURE_CSP, "frame-src": [CSP.SELF, *hosts]}  # type: ignore[attr-defined]
    return response


def _episode_context(episode: Any, allowed_hosts: list[str]) -> dict[str, Any]:
    data = sel.episode_page(episode)
    # An embed the page's CSP would block (a pending host) is not shown: the page says so
    # and the viewer picks a mirror instead.
    src = data.default_embed if sel.host_allowed(data.default_embed, allowed_hosts) else ""
    return {
        "data": data,
        "anime": episode.anime,
        "player_src": src,
        "player_blocked": bool(data.default_embed and not src),
        "frame_hosts": allowed_hosts,
    }


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


def healthz_live(request: HttpRequest) -> JsonResponse:
    """Liveness: this process answers requests. No dependency is checked on purpose: a
    container restarted because the database is down would come back to the same outage,
    and meanwhile it serves cached pages (container health checks use this)."""
    response = JsonResponse({"ok": True, "status": "alive"})
    patch_cache_control(response, no_store=True)
    return response


def healthz(request: HttpRequest) -> JsonResponse:
    """Readiness (`/healthz`, `/healthz/ready`): 200 while the site can serve its pages.

    The database is required (503 without it: only stale copies and the 503 page are left).
    Redis is not: without it pages are built from the database, so a Redis outage is
    reported ("status": "degraded", "cache": false) but the answer stays 200, and no load
    balancer takes a working site out of rotation for it. Each check is bounded by the
    connection timeouts (DB_*_TIMEOUT, REDIS_*), so this answers within seconds.
    """
    checks: dict[str, Any] = {"database": False, "cache": False}
    status = None
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = True
        status = sel.site_status(use_cache=False)
    except Exception as exc:
        checks["database_error"] = str(exc)[:200]
        resilience.close_broken_connections()
    dependencies = {"database": "up" if checks["database"] else "down"}
    for alias in settings.CACHES:
        up = _cache_answers(alias)
        dependencies["cache" if alias == "default" else f"cache_{alias}"] = "up" if up else "down"
    checks["cache"] = dependencies["cache"] == "up"
    age = status.age if status else None
    checks["last_update"] = status.last_ok_at.isoformat() if status and status.last_ok_at else None
    checks["last_update_age_seconds"] = int(age.total_seconds()) if age else None
    checks["stale"] = bool(status and status.is_stale)
    checks["now"] = timezone.now().isoformat()
    # Whether this process may trust its in-memory versions (catalog/nearcache.py).
    near = nearcache.current()
    checks["near_cache"] = "off" if near is nearcache.OFF else ("live" if near.live else "down")
    dependencies["near_cache"] = checks["near_cache"]
    checks["dependencies"] = dependencies
    checks["ok"] = checks["database"]
    if not checks["ok"]:
        checks["status"] = "unavailable"
    elif any(state == "down" for state in dependencies.values()):
        checks["status"] = "degraded"
    else:
        checks["status"] = "ok"
    response = JsonResponse(checks, status=200 if checks["ok"] else 503)
    patch_cache_control(response, no_store=True)
    return response


def _cache_answers(alias: str) -> bool:
    """Whether cache `alias` stores and returns a value (django-redis answers a failure with
    a miss, so a round trip is the only honest check)."""
    store = caches[alias]
    probe = f"healthz:probe:{os.getpid()}"
    try:
        store.set(probe, "1", 10)
        return store.get(probe) == "1"
    except Exception:
        return False
