"""`/api/v1/mirrors/<id>/` of the public API: one stream mirror resolved through the origin
(scraper.mirrors, within the shared request budget), as /api/mirror/<id>/ does for the
player. It lives in the scraper so the catalogue never imports it; otakusite/api.py mounts
this router on the catalogue's API."""

from __future__ import annotations

import math

from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_cache_control
from ninja import Router

from catalog import api_schemas as s
from catalog import embed_policy
from catalog.models import StreamLink
from otakusite.api_edge import json_error
from scraper import mirrors, views

router = Router(tags=["mirrors"])
# Ids are 64-bit: a bigger number is simply no mirror (the database would refuse it).
MAX_ID = 2**63 - 1


@router.get(
    "/mirrors/{link_id}/",
    response={
        200: s.ResolvedMirror,
        **dict.fromkeys((400, 403, 404, 429, 502, 503), s.Error),
    },
    url_name="mirror",
    summary="Resolve satu mirror",
)
def mirror(request: HttpRequest, link_id: int) -> HttpResponse:
    """The embed URL of mirror `link_id` (the `id` of an episode's mirror), resolved
    through the origin when no recent resolution is kept; 503 with Retry-After while the
    origin's request budget has no slot for it."""
    if not 1 <= link_id <= MAX_ID or not StreamLink.objects.filter(pk=link_id).exists():
        return json_error(404, "not_found", "Mirror tidak ditemukan.")
    try:
        data = views.resolve_cached(link_id)
    except mirrors.MirrorBusy as exc:
        return _busy(link_id, exc)
    if not data["ok"]:
        return json_error(502, "mirror_failed", "Mirror ini gagal dimuat.")
    if not embed_policy.embed_url_allowed(data["url"]):
        return json_error(403, "host_not_approved", "Host mirror belum disetujui.")
    response = _resolved(link_id, data["url"], stale=False)
    # Resolutions are kept a while anyway (scraper/views.py): a minute in caches is fine.
    patch_cache_control(response, public=True, max_age=60)
    return response


def _busy(link_id: int, exc: mirrors.MirrorBusy) -> HttpResponse:
    """No request slot toward the origin soon: the URL resolved earlier when there is an
    allowed one (marked stale, as the player gets it), else 503 with Retry-After."""
    retry = max(1, math.ceil(exc.retry_after))
    url = embed_policy.safe_embed_url(exc.cached_url)
    if url and embed_policy.embed_url_allowed(url):
        response = _resolved(link_id, url, stale=True)
        patch_cache_control(response, no_store=True)
        return response
    message = f"Server sumber sedang sibuk. Coba lagi dalam {retry} detik."
    return json_error(503, "busy", message, Retry_After=str(retry))


def _resolved(link_id: int, url: str, *, stale: bool) -> HttpResponse:
    body = s.ResolvedMirror(id=link_id, url=url, stale=stale).model_dump_json()
    return HttpResponse(body, content_type="application/json")
