"""What every request under /api/v1/ goes through before and after its view: the rate
limit per client, CORS, HEAD, and errors as JSON of one shape whoever produced them.

Past this middleware the JSON endpoints go through a chain of their own,
``settings.API_MIDDLEWARE``, not the rest of ``MIDDLEWARE``: sessions, the language cookie,
CSRF, authentication, messages, X-Frame-Options and the Content-Security-Policy belong to
HTML pages, and they made a cached API answer cost more than a cached page (issue 16's
goal: at least as fast; bench/bench_site.py counts the instructions). The page middleware
stays in ``MIDDLEWARE`` under Django's own paths, so ``check --deploy`` still checks it;
the API's HTML documentation page goes through all of it.

The views (catalog/api.py, scraper/api.py) answer their own errors in that shape; Django
answers the rest (an unknown path, a wrong method from django-ninja, a failure outside a
view, the 503 of a database outage) with HTML or another body, rewritten here, so an app
parsing the API never meets HTML. The old /api/mirror/<id>/ of the site's own player is
left alone.
"""

from __future__ import annotations

import json
import logging
import math
import threading
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.handlers.base import BaseHandler
from django.core.handlers.exception import convert_exception_to_response
from django.http import HttpRequest, HttpResponse
from django.utils.module_loading import import_string

from otakusite import coordination
from otakusite.middleware import client_network

PREFIX = "/api/v1/"
# HTML under the prefix: the whole page middleware (CSP, X-Frame-Options...) applies.
PAGES = frozenset({f"{PREFIX}docs/"})
log = logging.getLogger(__name__)

# The codes of the error shape, by status; anything else is "error".
CODES = {
    400: "bad_request",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    429: "rate_limited",
    500: "server_error",
    502: "bad_gateway",
    503: "unavailable",
}
MESSAGES = {
    400: "Permintaan tidak valid.",
    403: "Tidak diizinkan.",
    404: "Tidak ditemukan.",
    405: "Metode tidak didukung: API ini hanya-baca (GET).",
    429: "Terlalu banyak permintaan. Coba lagi nanti.",
    500: "Terjadi kesalahan di server.",
    503: "Layanan sedang gangguan, coba lagi sebentar lagi.",
}
# What a browser app may read of our answers, and send in a preflighted GET.
EXPOSED = "ETag, Retry-After, X-RateLimit-Limit, X-RateLimit-Remaining"
PREFLIGHT_SECONDS = 86400
# Headers a preflight may ask for: anything, but not an unbounded echo.
MAX_REQUESTED_HEADERS = 500
# A client's budget: a minute of requests, usable as one burst.
RATE_PERIOD = 60.0


def json_error(
    status: int, code: str | None = None, message: str | None = None, **headers: str
) -> HttpResponse:
    """The one error shape of the API: {"error": {"code", "message"}}."""
    body = {
        "error": {
            "code": code or CODES.get(status, "error"),
            "message": message or MESSAGES.get(status, "Permintaan gagal."),
        }
    }
    response = HttpResponse(json.dumps(body), status=status, content_type="application/json")
    # A 404 may turn into a page a minute later (a new episode): never kept unrevalidated.
    response["Cache-Control"] = "no-store" if status == 429 or status >= 500 else "no-cache"
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    response.api_error = True  # type: ignore[attr-defined]
    return response


# --------------------------------------------------------------------------- rate limit

# A busy client's slots are booked on Redis a few at a time (coordination.Leases): at most
# this share of its limit per batch, and this many slots, held this long.
LEASE_SHARE = 20
LEASE_MAX = 64
LEASE_SECONDS = 10.0

_slots_lock = threading.Lock()
_local = coordination.LocalSlots()
_shared: dict[int, coordination.LocalSlots | coordination.Leases] = {}


def _slots(limit: int) -> coordination.LocalSlots | coordination.Leases:
    """This process's slots without Redis (make run); else the coordination Redis's, booked
    through leases (this process's slots while Redis fails). Decided once per limit: the
    settings do not change while a process runs (tests change the limit)."""
    slots = _shared.get(limit)
    if slots is not None:
        return slots
    with _slots_lock:
        _shared.clear()  # the limit changed (tests): no lease of the old one is kept
        if not coordination.redis_configured():
            slots = _local
        else:
            connection, key = coordination.redis_parts()
            redis = coordination.RedisSlots(connection, key=key, fallback=_local, log=log)
            batch = min(LEASE_MAX, limit // LEASE_SHARE)
            slots = coordination.Leases(redis, max_batch=batch, hold=LEASE_SECONDS)
        _shared[limit] = slots
        return slots


def rate_limit(request: HttpRequest) -> tuple[HttpResponse | None, dict[str, str]]:
    """(the 429 answer or None, the X-RateLimit headers). API_RATE_LIMIT requests a
    minute per client, on the shared slots (Redis when configured, else this process)."""
    limit = int(settings.API_RATE_LIMIT)
    if limit <= 0:
        return None, {}
    interval = RATE_PERIOD / limit
    tolerance = RATE_PERIOD - interval
    key = f"api:rate:{client_network(request)}"
    slot = _slots(limit).reserve(key, interval=interval, tolerance=tolerance)
    if not slot.granted:
        retry = str(max(1, math.ceil(slot.ahead)))
        headers = {"X-RateLimit-Limit": str(limit), "X-RateLimit-Remaining": "0"}
        return json_error(429, Retry_After=retry), headers
    remaining = max(0, math.floor((RATE_PERIOD - slot.ahead) / interval + 1e-9))
    return None, {"X-RateLimit-Limit": str(limit), "X-RateLimit-Remaining": str(remaining)}


# --------------------------------------------------------------------------- middleware


class ApiEdgeMiddleware:
    """Rate limit, CORS (GET and its preflight, any origin: the API is anonymous and
    read-only), HEAD as GET without a body, and the JSON error shape for /api/v1/."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.get_json = middleware_chain(settings.API_MIDDLEWARE)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(PREFIX):
            return self.get_response(request)
        if request.method == "OPTIONS":
            return _cors(_preflight(request))
        refused, limits = rate_limit(request)
        head = request.method == "HEAD"
        if head:
            request.method = "GET"
        inner = self.get_response if request.path in PAGES else self.get_json
        response = refused or inner(request)
        if response.status_code >= 400 and not getattr(response, "api_error", False):
            response = _as_json(response)
        for name, value in limits.items():
            response[name] = value
        if head:
            request.method = "HEAD"
            response.content = b""
        return _cors(response)


def middleware_chain(paths: list[str]) -> Callable[[HttpRequest], HttpResponse]:
    """Django's handler (URL resolution, the view, its exceptions turned into answers)
    wrapped in the middleware `paths` only: BaseHandler.load_middleware for another list
    than settings.MIDDLEWARE, synchronous (the site runs under WSGI; an ASGI server adapts
    this middleware as a whole)."""
    # Any: django-stubs leave out the handler's private attributes this sets, as Django does.
    handler: Any = BaseHandler()
    handler._view_middleware = []
    handler._template_response_middleware = []
    handler._exception_middleware = []
    chain: Any = convert_exception_to_response(handler._get_response)
    for path in reversed(paths):
        layer = import_string(path)(chain)
        if hasattr(layer, "process_view"):
            handler._view_middleware.insert(0, layer.process_view)
        if hasattr(layer, "process_template_response"):
            handler._template_response_middleware.append(layer.process_template_response)
        if hasattr(layer, "process_exception"):
            handler._exception_middleware.append(layer.process_exception)
        chain = convert_exception_to_response(layer)
    handler._middleware_chain = chain
    return chain


def _preflight(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(status=204)
    response["Access-Control-Allow-Methods"] = "GET, HEAD, OPTIONS"
    asked = request.headers.get("Access-Control-Request-Headers", "")
    if asked and len(asked) <= MAX_REQUESTED_HEADERS:
        response["Access-Control-Allow-Headers"] = asked
    response["Access-Control-Max-Age"] = str(PREFLIGHT_SECONDS)
    response["Allow"] = "GET, HEAD, OPTIONS"
    return response


def _cors(response: HttpResponse) -> HttpResponse:
    response["Access-Control-Allow-Origin"] = "*"
    response["Access-Control-Expose-Headers"] = EXPOSED
    return response


def _as_json(response: HttpResponse) -> HttpResponse:
    """Django's answer (HTML 404/500, a bare 405, the outage 503) in the API's shape,
    with the headers that matter to a client kept."""
    kept = {
        name.replace("-", "_"): response[name]
        for name in ("Allow", "Retry-After", "X-Otakusite-Degraded")
        if response.has_header(name)
    }
    return json_error(response.status_code, **kept)
