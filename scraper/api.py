"""`/api/v1/mirrors/<id>/` of the public API: one stream mirror resolved through the origin
(scraper.mirrors, within the shared request budget), as /api/mirror/<id>/ does for the
player. It lives in the scraper so the catalogue never imports it; catalog/api.py's API
mounts this router (otakusite/urls.py)."""

from __future__ import annotations

import math

from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_cache_control
from ninja import Router

from catalog import api_schemas as s
from catalog import embed_policy
from catalog.api import error_response
from catalog.models import StreamLink
from scraper import mirrors, views

router = Router(tags=["mirrors"])


@router.get(
    "/mirrors/{link_id}/",
    response={200: s.ResolvedMirror, 403: s.Error, 404: s.Error, 502: s.Error, 503: s.Error},
    url_name="mirror",
    summary="Resolve satu mirror",
)
def mirror(request: HttpRequest, link_id: int) -> HttpResponse | dict[str, object]:
    """The embed URL of mirror `link_id` (the `id` of an episode's mirror)."""
    if link_id < 1 or not StreamLink.objects.filter(pk=link_id).exists():
        return error_response(request, 404, "not_found", "Mirror tidak ditemukan.")
    try:
        data = views.resolve_cached(link_id)
    except mirrors.MirrorBusy as exc:
        retry = max(1, math.ceil(exc.retry_after))
        response = error_response(
            request, 503, "busy", f"Server sumber sedang sibuk. Coba lagi dalam {retry} detik."
        )
        response["Retry-After"] = str(retry)
        return response
    if not data["ok"]:
        return error_response(request, 502, "mirror_failed", "Mirror ini gagal dimuat.")
    if not embed_policy.embed_url_allowed(data["url"]):
        return error_response(request, 403, "host_not_approved", "Host mirror belum disetujui.")
    response = HttpResponse(
        s.ResolvedMirror(id=link_id, url=data["url"]).model_dump_json(),
        content_type="application/json",
    )
    patch_cache_control(response, public=True, max_age=60)
    return response
