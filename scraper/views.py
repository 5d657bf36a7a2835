"""The scraper's one viewer-facing endpoint: `/api/mirror/<id>/` resolves a stream mirror
through the origin (scraper.mirrors) for the player. It lives here so the catalogue's
pages never import the scraper."""

from __future__ import annotations

import math
from typing import Any

from django.core.cache import cache
from django.http import HttpRequest, JsonResponse
from django.utils.cache import patch_cache_control
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from catalog import embed_policy
from catalog.models import StreamLink
from scraper import mirrors

MIRROR_OK_SECONDS = 3600
# A failing mirror is retried soon, but not on every click of every viewer.
MIRROR_FAIL_SECONDS = 30


def _mirror_busy(exc: mirrors.MirrorBusy) -> JsonResponse:
    """The origin's request budget has no slot for this viewer soon: answer at once (503 +
    Retry-After) rather than queue them, with the embed resolved earlier when there is one
    the page may show (the player plays it: "ok" is true then)."""
    retry = max(1, math.ceil(exc.retry_after))
    url = embed_policy.safe_embed_url(exc.cached_url)
    if url and not embed_policy.embed_url_allowed(url):
        url = ""
    message = _(
        "Server sumber sedang sibuk. Coba lagi dalam %(seconds)d detik atau pilih mirror lain."
    ) % {"seconds": retry}
    data: dict[str, Any] = {"ok": bool(url), "busy": True, "retry_after": retry, "error": message}
    if url:
        data.update(url=url, stale=True)
    response = JsonResponse(data, status=503)
    response["Retry-After"] = str(retry)
    patch_cache_control(response, no_store=True)
    return response


def resolve_cached(link_id: int) -> dict[str, Any]:
    """{"ok", "url"} or {"ok": False, "detail"} for one mirror, resolved through the origin
    (within the shared request budget: MirrorBusy when it has no slot) and kept a while.
    Shared by /api/mirror/<id>/ and the public API's /api/v1/mirrors/<id>/."""
    key = f"mirror:{link_id}"
    data: dict[str, Any] | None = cache.get(key)
    if data is None:
        try:
            url = embed_policy.safe_embed_url(mirrors.resolve_mirror(link_id=link_id))
            data = {"ok": bool(url), "url": url} if url else {"ok": False, "detail": "bad url"}
        except mirrors.MirrorBusy:
            raise  # not cached: a slot may be free in a second
        except mirrors.MirrorError as exc:
            data = {"ok": False, "detail": str(exc)[:300]}
        embed_policy.forget_embed_hosts()
        cache.set(key, data, MIRROR_OK_SECONDS if data["ok"] else MIRROR_FAIL_SECONDS)
    return data


@require_GET
def mirror(request: HttpRequest, link_id: int) -> JsonResponse:
    """Resolve one mirror server-side (scraper.mirrors.resolve_mirror) for the player."""
    if not StreamLink.objects.filter(pk=link_id).exists():
        return JsonResponse({"ok": False, "error": _("Mirror tidak ditemukan.")}, status=404)
    try:
        data = resolve_cached(link_id)
    except mirrors.MirrorBusy as exc:
        return _mirror_busy(exc)  # not cached: a slot may be free in a second
    if data["ok"] and not embed_policy.embed_url_allowed(data["url"]):
        # Judged on every answer, not cached: an admin's approval applies at once. The URL
        # of a host nobody approved is not handed out (the page's CSP would block it).
        blocked = {"ok": False, "blocked": True, "detail": "embed host not approved"}
        response = JsonResponse(
            {**blocked, "error": _("Host mirror ini belum disetujui situs. Pilih mirror lain.")},
            status=403,
        )
        patch_cache_control(response, private=True, max_age=0)
        return response
    if not data["ok"]:
        data = {**data, "error": _("Mirror ini gagal dimuat.")}
    response = JsonResponse(data, status=200 if data["ok"] else 502)
    patch_cache_control(response, private=True, max_age=60 if data["ok"] else 0)
    return response
