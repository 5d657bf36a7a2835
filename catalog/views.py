"""Viewer pages. Views stay thin: reads live in catalog.selectors, caching in
catalog.pagecache, markup in templates/."""

from __future__ import annotations

import os
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.db import connection
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers, patch_cache_control
from django.utils.csp import CSP
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import check_for_language
from django.utils.translation import gettext as _

from catalog import embed_policy, nearcache, pagecache, seo, sitestatus
from catalog import search as search_reads
from catalog import selectors as sel
from catalog.models import Anime, Episode
from otakusite import replica, resilience


def home(request: HttpRequest) -> HttpResponse:
    if sel.catalogue_is_empty():
        return render(request, "catalog/empty.html", {"site_status": sitestatus.read()})
    return pagecache.page(
        request,
        "catalog/home.html",
        lambda: {
            "episodes": sel.newest_episodes(),
            "completed": list(sel.completed_anime()[: sel.HOME_COMPLETED]),
            "today": sel.today_schedule(),
            "today_name": sel.today_name(),
            "share": seo.home_card(seo.site_origin(request)),
        },
        version=sel.catalogue_version(),
    )


def _card_list(request: HttpRequest, qs: QuerySet[Anime], title: str, **extra: Any) -> HttpResponse:
    number = pagecache.page_number(request)
    origin = seo.site_origin(request)
    return pagecache.page(
        request,
        "catalog/card_list.html",
        lambda: {
            "page": sel.paginate(qs, str(number)),
            "heading": title,
            "share": seo.list_card(
                origin, title, request.path, page=number, genre=extra.get("genre")
            ),
            **extra,
        },
        # The heading too: a genre renamed in the admin changes no anime's version.
        version=f"{sel.catalogue_version()}|{title}",
        params=pagecache.page_params(number),
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
    return pagecache.page(
        request,
        "catalog/az.html",
        lambda: {
            "groups": sel.az_groups(),
            "nav": "az",
            "share": _list_share(request, _("Daftar anime A–Z")),
        },
        version=sel.catalogue_version(),
    )


def genre_index(request: HttpRequest) -> HttpResponse:
    return pagecache.page(
        request,
        "catalog/genres.html",
        lambda: {
            "genres": sel.genres_with_counts(),
            "nav": "genres",
            "share": _list_share(request, _("Daftar genre")),
        },
        version=sel.catalogue_version(),
    )


def jadwal(request: HttpRequest) -> HttpResponse:
    return pagecache.page(
        request,
        "catalog/jadwal.html",
        lambda: {
            "days": sel.schedule(),
            "today_name": sel.today_name(),
            "nav": "jadwal",
            "share": _list_share(request, _("Jadwal rilis")),
        },
        version=sel.catalogue_version(),
    )


def _list_share(request: HttpRequest, title: str) -> seo.ShareCard:
    return seo.list_card(seo.site_origin(request), title, request.path)


def search(request: HttpRequest) -> HttpResponse:
    params = search_reads.SearchParams.from_request(request)
    # Without a query or filter the page only invites a search: one page whatever ?page says.
    number = pagecache.page_number(request) if params.active else 1
    version = sel.catalogue_version()
    key = params.key(number)
    share_url = reverse("catalog:search") + (f"?{urlencode(sorted(key.items()))}" if key else "")
    share = seo.search_card(seo.site_origin(request), params.query, share_url)
    return pagecache.page(
        request,
        "catalog/search.html",
        lambda: {**search_reads.page_data(params, number, version), "share": share},
        version=f"{version}|{int(params.too_long)}",
        params=key,
    )


def random_anime(request: HttpRequest) -> HttpResponseRedirect:
    """The "Acak" link: a random anime among those the search parameters find (any
    without them); never cached, each visit picks again."""
    params = search_reads.SearchParams.from_request(request)
    slug = search_reads.random_slug(params)
    target = reverse("catalog:anime", args=[slug]) if slug else params.url()
    response = HttpResponseRedirect(target)
    add_never_cache_headers(response)
    return response


def anime_detail(request: HttpRequest, slug: str) -> HttpResponse:
    version = sel.anime_version(slug)  # the only query of a cached page

    def build() -> dict[str, Any]:
        anime = sel.anime_by_pk(version.pk)
        data = sel.anime_context(anime)
        share = seo.anime_card(seo.site_origin(request), anime, data.genres)
        return {"data": data, "anime": anime, "share": share}

    return pagecache.page(
        request,
        "catalog/anime.html",
        build,
        version=f"anime:{version.pk}:{version.version}",
        last_modified=version.updated_at,
    )


def episode_detail(request: HttpRequest, slug: str) -> HttpResponse:
    episode = sel.episode_head(slug)
    hosts = embed_policy.embed_hosts()
    anime = episode.anime
    response = pagecache.page(
        request,
        "catalog/episode.html",
        lambda: _episode_page_data(episode, [*hosts, request.get_host().lower()], request),
        # mirrors_version: the order of its mirrors (reports, health check) changes this page
        # alone (catalog/mirror_reports.py).
        version=f"episode:{episode.pk}:{anime.version}:{episode.mirrors_version}:{' '.join(hosts)}",
        last_modified=max(anime.updated_at, episode.updated_at),
    )
    # frame-src: this site plus the allowed embed hosts (EMBED_HOSTS_ALLOWED or approved in
    # the admin) that the scraper found; a host the origin names is pending until then.
    response._csp_config = {**settings.SECURE_CSP, "frame-src": [CSP.SELF, *hosts]}  # type: ignore[attr-defined]
    return response


def _episode_page_data(
    episode: Episode, allowed_hosts: list[str], request: HttpRequest
) -> dict[str, Any]:
    data = sel.episode_context(episode)
    # An embed the page's CSP would block (a pending host) is not shown: the page says so
    # and the viewer picks a mirror instead.
    allowed = embed_policy.host_allowed(data.default_embed, allowed_hosts)
    src = data.default_embed if allowed else ""
    return {
        "data": data,
        "anime": episode.anime,
        "player_src": src,
        "player_blocked": bool(data.default_embed and not src),
        "frame_hosts": allowed_hosts,
        "share": seo.episode_card(seo.site_origin(request), episode, episode.anime),
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
    # A random redirect on every visit: nothing for an index but duplicate fetches.
    lines.append("Disallow: /acak/")
    return HttpResponse("\n".join([*lines, f"Sitemap: {sitemap}", ""]), content_type="text/plain")


def favicon(request: HttpRequest) -> HttpResponse:
    """Browsers ask /favicon.ico wherever a page names no icon (the admin, a JSON answer
    opened in a tab): the site's icon, not a 404 in every log. Not permanent: the icon's
    file name changes with its content."""
    response = HttpResponseRedirect(static("img/icon-192.png"))
    patch_cache_control(response, public=True, max_age=86400)
    return response


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
    status = _database_status(checks)
    dependencies = _dependencies(database_up=checks["database"])
    checks["cache"] = dependencies["cache"] == "up"
    checks.update(_freshness(status))
    checks["near_cache"] = dependencies["near_cache"]
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


def _database_status(checks: dict[str, Any]) -> sitestatus.SiteStatus | None:
    """The site status when the database answers (`checks` says whether it did)."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = True
        return sitestatus.read()
    except Exception as exc:
        checks["database_error"] = str(exc)[:200]
        resilience.close_broken_connections()
        return None


def _dependencies(*, database_up: bool) -> dict[str, str]:
    dependencies = {"database": "up" if database_up else "down"}
    if (replica_state := replica.health()) != "off":
        # Down: viewers' reads go to the primary (otakusite/replica.py), so only degraded.
        dependencies["database_replica"] = replica_state
    for alias in settings.CACHES:
        up = _cache_answers(alias)
        dependencies["cache" if alias == "default" else f"cache_{alias}"] = "up" if up else "down"
    # Whether this process may trust its in-memory versions (catalog/nearcache.py).
    near = nearcache.current()
    if near is nearcache.OFF:
        dependencies["near_cache"] = "off"
    else:
        dependencies["near_cache"] = "live" if near.live else "down"
    return dependencies


def _freshness(status: sitestatus.SiteStatus | None) -> dict[str, Any]:
    age = status.age if status else None
    return {
        "last_update": status.last_ok_at.isoformat() if status and status.last_ok_at else None,
        "last_update_age_seconds": int(age.total_seconds()) if age else None,
        "stale": bool(status and status.is_stale),
        "now": timezone.now().isoformat(),
    }


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
