"""Site-wide middleware."""

from __future__ import annotations

import functools
import ipaddress
import logging
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.utils.cache import patch_vary_headers

log = logging.getLogger(__name__)


class CookieLocaleMiddleware:
    """Indonesian for everyone unless the viewer picked another language.

    Django's LocaleMiddleware follows the browser's Accept-Language, which would show most
    desktop browsers (en-US) an English site; ours is an Indonesian site with an English
    option, chosen by a cookie (the language switch link sets it).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.available = {code for code, _name in settings.LANGUAGES}

    def __call__(self, request: HttpRequest) -> HttpResponse:
        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        language = chosen if chosen in self.available else settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = language
        response = self.get_response(request)
        patch_vary_headers(response, ("Cookie",))
        response.headers.setdefault("Content-Language", language)
        translation.deactivate()
        return response


class DegradedMiddleware:
    """While the database cannot be reached, answer from what is kept instead of a 500.

    A view that fails with OperationalError/InterfaceError (server down, frozen past its
    read timeout, restarting) gets the page's last good copy with a "data as of" notice, or
    the friendly 503 page with Retry-After (otakusite/errors.py). The broken connection is
    closed at once, so the first request after the database is back opens a new one: no
    restart. Query bugs (ProgrammingError, IntegrityError...) still go to the 500 page.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        from otakusite import errors, resilience  # loads catalog: imported once apps are ready

        # With DEBUG on (`make run`) the developer gets Django's error page instead.
        if settings.DEBUG or not resilience.database_unavailable(exception):
            return None
        resilience.close_broken_connections()
        log.warning("database unavailable for %s %s: %s", request.method, request.path, exception)
        return errors.unavailable(request)


def client_ip(request: HttpRequest) -> str:
    """The viewer's address for limits per client. Behind the shipped nginx
    (BEHIND_PROXY) REMOTE_ADDR is nginx: its X-Real-IP is the client as nginx's realip
    module found it, trusting X-Forwarded-For only from the proxies it lists; nginx sets
    the header on every request, so a client cannot choose it. Without a proxy the header
    is anyone's to fake: the connection's address counts."""
    address = request.META.get("REMOTE_ADDR", "")
    if getattr(settings, "SECURE_PROXY_SSL_HEADER", None):
        return request.headers.get("X-Real-IP", address) or address
    return address


@functools.lru_cache(maxsize=4096)  # on every API request (bench_site "cached API")
def network_of(address: str) -> str:
    """One client per IPv4 address, and per /64 for IPv6: one subscriber's network gets a
    whole /64 and could otherwise take a fresh address for every request."""
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return address.strip()[:64]  # a unix socket, a test client: still one client
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:  # ::ffff:a.b.c.d from a dual-stack socket
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False).network_address)
    return str(ip)


def client_network(request: HttpRequest) -> str:
    """The client as every limit per client counts it (API, mirror reports, push)."""
    return network_of(client_ip(request))
