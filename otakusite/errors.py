"""Answers for when something is down: the last good page, the 503 page, the 500 page.

None of these may touch the database: they run because it failed. The templates extend
base.html, whose context processors are lazy (the user and messages are only read when a
template asks, and ours do not), so rendering them needs no query.
"""

from __future__ import annotations

import logging
import sys

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils.csp import CSP
from django.utils.translation import gettext as _
from django.views import defaults

from catalog import pagecache
from otakusite.resilience import close_broken_connections, database_unavailable

log = logging.getLogger(__name__)

# Says what a degraded answer is, for operators and tests (curl -I shows it).
DEGRADED_HEADER = "X-Otakusite-Degraded"


def unavailable(request: HttpRequest) -> HttpResponse:
    """What a request gets while the database cannot be reached: the page's last good copy
    (200, with the "data as of ..." notice) when one was kept, else the 503 page."""
    if request.method in {"GET", "HEAD"} and not request.path.startswith(("/api/", "/admin/")):
        try:
            page = pagecache.recall_stale(request)
            if page is not None:
                response = HttpResponse(pagecache.with_stale_notice(page, request))
                response[DEGRADED_HEADER] = "database; stale copy"
                # Revalidated on every view, so the fresh page shows as soon as it is back.
                response["Cache-Control"] = "no-cache"
                if page.frame_hosts:  # an episode page's player, as the view allows it
                    response._csp_config = {  # type: ignore[attr-defined]
                        **settings.SECURE_CSP,
                        "frame-src": [CSP.SELF, *page.frame_hosts],
                    }
                return response
        except Exception:
            log.exception("serving the stale copy of %s failed; answering 503", request.path)
    return service_unavailable(request)


def service_unavailable(request: HttpRequest) -> HttpResponse:
    retry_after = settings.DEGRADED_RETRY_AFTER
    if request.path.startswith("/api/"):
        response: HttpResponse = JsonResponse(
            {"ok": False, "error": _("Layanan sedang gangguan, coba lagi sebentar lagi.")},
            status=503,
        )
    else:
        try:
            body: str = render_to_string("503.html", {"retry_after": retry_after}, request)
        except Exception:  # the last resort must answer whatever else is broken
            log.exception("rendering 503.html failed")
            body = _("Layanan sedang gangguan, coba lagi sebentar lagi.")
        response = HttpResponse(body, status=503)
    response["Retry-After"] = str(retry_after)
    response["Cache-Control"] = "no-store"
    response[DEGRADED_HEADER] = "database"
    return response


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: a database outage that escaped the middleware (raised outside a view)
    is a 503 like the others; anything else is the 500 page in the site's look."""
    error = sys.exc_info()[1]
    if error is not None and database_unavailable(error):
        close_broken_connections()
        return unavailable(request)
    try:
        return HttpResponse(render_to_string("500.html", {}, request), status=500)
    except Exception:
        log.exception("rendering 500.html with the request failed")
        return defaults.server_error(request)
