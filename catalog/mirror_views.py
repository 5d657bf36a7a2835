"""The "Lapor rusak" button: a viewer reports the mirror playing as broken
(catalog/mirror_reports.py).

Episode pages are cached whole, so they carry no CSRF token: the player's script asks
`/api/token/` for one when the viewer first reports (it also sets the CSRF cookie), then
POSTs with it in X-CSRFToken. Django's CSRF middleware checks both, and the Origin."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.middleware.csrf import get_token
from django.utils.cache import patch_cache_control
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from catalog import clients, mirror_reports
from catalog.models import StreamLink


def _answer(data: dict[str, object], status: int = 200) -> JsonResponse:
    response = JsonResponse(data, status=status)
    patch_cache_control(response, no_store=True, private=True)
    return response


@require_GET
def csrf_token(request: HttpRequest) -> JsonResponse:
    return _answer({"token": get_token(request)})


@require_POST
def report_mirror(request: HttpRequest, link_id: int) -> JsonResponse:
    network = clients.client_network(request)
    limited = clients.rate_limited(
        "mirror-report",
        network,
        limit=mirror_reports.REPORTS_PER_WINDOW,
        window=mirror_reports.REPORT_RATE_SECONDS,
    )
    if limited:
        response = _answer(
            {"ok": False, "error": _("Terlalu sering melapor. Coba lagi beberapa menit lagi.")},
            429,
        )
        response["Retry-After"] = str(mirror_reports.REPORT_RATE_SECONDS)
        return response
    try:
        outcome = mirror_reports.report_mirror(link_id=link_id, network=network)
    except StreamLink.DoesNotExist:
        return _answer({"ok": False, "error": _("Mirror tidak ditemukan.")}, 404)
    message = (
        _("Terima kasih, laporanmu kami terima. Mirror ini akan diperiksa.")
        if outcome.counted
        else _("Kamu sudah melaporkan mirror ini hari ini. Terima kasih.")
    )
    return _answer({"ok": True, "counted": outcome.counted, "message": message})
