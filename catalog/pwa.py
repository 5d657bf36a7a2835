"""Installable site and Web Push: the manifest, the service worker (served from the root so
its scope is the whole site), the offline page, and the push subscription endpoint."""

from __future__ import annotations

import functools
import hashlib
import json
import re

from django.conf import settings
from django.contrib.staticfiles import finders
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.loader import get_template
from django.templatetags.static import static
from django.urls import reverse
from django.utils.cache import patch_cache_control
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from catalog import clients, push, seo

THEME = "#0f1117"
# Static files the service worker keeps for offline use besides what base.html loads
# (shell_assets() reads those from the template, so a script added there is kept too).
SHELL_ASSETS = ("img/icon-192.png",)
RATE_LIMIT = 30  # subscription changes per client and window: a follow spree fits
RATE_WINDOW = 600


@functools.cache
def shell_assets() -> tuple[str, ...]:
    """The static files base.html loads ({% static '...' %}), then SHELL_ASSETS."""
    source = get_template("base.html").template.source  # type: ignore[attr-defined]
    names = re.findall(r"""{%\s*static\s+['"]([^'"]+)['"]\s*%}""", source)
    return tuple(dict.fromkeys([*names, *SHELL_ASSETS]))


def _static_or_none(name: str) -> str | None:
    """The file's URL, or None when there is no such file: one missing file would make the
    worker's whole install fail (cache.addAll)."""
    if not finders.find(name):
        return None
    try:
        return static(name)
    except ValueError:  # not in the hashed manifest: collectstatic has not run since
        return None


@require_GET
def manifest(request: HttpRequest) -> HttpResponse:
    icons = [
        {"src": static("img/icon-192.png"), "sizes": "192x192", "type": "image/png"},
        {"src": static("img/icon-512.png"), "sizes": "512x512", "type": "image/png"},
        {
            "src": static("img/icon-maskable-512.png"),
            "sizes": "512x512",
            "type": "image/png",
            "purpose": "maskable",
        },
        {"src": static("img/icon.svg"), "sizes": "any", "type": "image/svg+xml"},
    ]
    data = {
        "name": _("otakusite: nonton anime subtitle Indonesia"),
        "short_name": "otakusite",
        "description": _("Episode terbaru, jadwal rilis, dan anime yang kamu ikuti."),
        "lang": request.LANGUAGE_CODE,
        "id": "/",
        "start_url": "/",
        "scope": "/",
        "display": "standalone",
        "background_color": THEME,
        "theme_color": THEME,
        "icons": icons,
    }
    body = json.dumps(data, ensure_ascii=False, indent=1)
    return HttpResponse(body, content_type="application/manifest+json; charset=utf-8")


@require_GET
def service_worker(request: HttpRequest) -> HttpResponse:
    assets = [url for name in shell_assets() if (url := _static_or_none(name))]
    offline = reverse("catalog:offline")
    # New static names (hashed in production) give a new script, so browsers install the
    # new worker and drop the old caches.
    version = hashlib.sha256(" ".join([offline, *assets]).encode()).hexdigest()[:12]
    context = {
        "config": json.dumps({"version": version, "offline": offline, "assets": assets}),
    }
    response = render(request, "pwa/sw.js", context, content_type="text/javascript")
    # Browsers check for a new worker at most daily anyway; never a stale copy beyond that.
    patch_cache_control(response, no_cache=True, max_age=0)
    return response


def offline(request: HttpRequest) -> HttpResponse:
    return render(request, "catalog/offline.html", {"nav": "offline"})


@require_GET
def push_key(request: HttpRequest) -> JsonResponse:
    """The VAPID public key push.js subscribes with. Without keys: enabled false, still a
    200 (a 404 would be a console error on every Diikuti page, and Lighthouse counts it)."""
    if not push.enabled():
        return JsonResponse({"enabled": False})
    return JsonResponse({"enabled": True, "publicKey": settings.VAPID_PUBLIC_KEY})


@csrf_exempt  # no cookie involved: same-origin is checked below (pages stay cacheable)
@require_POST
def push_subscription(request: HttpRequest) -> JsonResponse:
    """Store, update or (with an empty anime list) remove this browser's subscription."""
    if not push.enabled():
        return _no_store({"ok": False, "error": _("Notifikasi tidak tersedia.")}, 404)
    if not _same_origin(request) or request.content_type != "application/json":
        return _no_store({"ok": False, "error": _("Permintaan ditolak.")}, 403)
    if _rate_limited(request):
        return _no_store({"ok": False, "error": _("Terlalu sering. Coba lagi nanti.")}, 429)
    try:
        data = push.parse_request(request.body)
    except push.SubscriptionError as exc:
        return _no_store({"ok": False, "error": str(exc)}, 400)
    kept = push.save_subscription(request=data)
    return _no_store({"ok": True, "anime": kept}, 200)


def _no_store(data: dict[str, object], status: int) -> JsonResponse:
    response = JsonResponse(data, status=status)
    patch_cache_control(response, no_store=True, private=True)
    return response


def _same_origin(request: HttpRequest) -> bool:
    """Browsers send Origin with every fetch POST; a page elsewhere cannot fake it."""
    origin = request.headers.get("Origin", "")
    own = seo.site_origin(request)
    return bool(origin) and (origin == own or origin in settings.CSRF_TRUSTED_ORIGINS)


def _rate_limited(request: HttpRequest) -> bool:
    # In the coordination store like the mirror reports' limit: the page cache evicts, and
    # a flood of new pages must not reset a client's count.
    return clients.rate_limited(
        "push", clients.client_network(request), limit=RATE_LIMIT, window=RATE_WINDOW
    )
