"""Viewer pages for following anime (the list lives in the browser: static/js/follow.js)
and the release calendar feed. Each answer depends only on its URL and the catalogue, so
every one of them is cacheable like the other pages."""

from __future__ import annotations

import hashlib

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from catalog import follows, ics, pagecache, seo
from catalog import selectors as sel


def diikuti(request: HttpRequest) -> HttpResponse:
    """The shell of the follow list; static/js/follow.js fills it from localStorage."""
    return pagecache.page(
        request, "catalog/diikuti.html", lambda: {"nav": "diikuti"}, version="diikuti:v1"
    )


def followed_episodes(request: HttpRequest) -> HttpResponse:
    """`?anime=a,b,c`: those anime (unknown slugs listed as missing) with their newest
    episodes, as JSON for the Diikuti page and the home page's rail."""
    try:
        slugs = follows.parse_slugs(request.GET.get("anime", ""))
    except follows.BadSlugsError as exc:
        return HttpResponseBadRequest(str(exc), content_type="text/plain; charset=utf-8")
    response = JsonResponse(follows.followed(slugs))
    return _revalidated(response, "follow", sel.catalogue_version(), follows.slugs_key(slugs))


def calendar(request: HttpRequest) -> HttpResponse:
    """The release schedule as .ics: every ongoing anime, or `?anime=a,b,c` only."""
    raw = request.GET.get("anime")
    try:
        slugs = None if raw is None else follows.parse_slugs(raw)
    except follows.BadSlugsError as exc:
        return HttpResponseBadRequest(str(exc), content_type="text/plain; charset=utf-8")
    site = seo.site_origin(request)
    name = _("Jadwal rilis otakusite") if slugs is None else _("Anime diikuti (otakusite)")
    key = "all" if slugs is None else follows.slugs_key(slugs)
    version = sel.catalogue_version()

    def load() -> bytes:
        anime = follows.calendar_anime(slugs)
        return ics.build(anime, follows.release_times(anime, timezone.now()), site=site, name=name)

    body = pagecache.versioned(("ics:v1", version, get_language(), site, key), load)
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="otakusite-jadwal.ics"'
    return _revalidated(response, "ics", version, site, key)


def _revalidated(response: HttpResponse, *parts: str) -> HttpResponse:
    """Like the pages: revalidated every time, answered 304 while nothing changed."""
    tag = "|".join([*parts, get_language() or ""])
    response["ETag"] = f'"{hashlib.sha256(tag.encode()).hexdigest()[:32]}"'
    response["Cache-Control"] = "no-cache"
    return response
