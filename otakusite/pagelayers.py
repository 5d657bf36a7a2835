"""The middleware only the site's pages need, skipped for the JSON answers of /api/v1/.

Sessions, the signed-in user, messages, the chosen language, the CSRF cookie, CSP and
X-Frame-Options mean nothing to an anonymous, read-only JSON answer (the API's texts are
stored Indonesian, never translated; a JSON body is not a document a browser frames or runs).
Each of these layers still costs every request its calls; skipped, a cached API answer is
cheaper than the cached page it mirrors, which is the API's throughput goal (BENCHMARKS.md,
"Site": cached API). The API's HTML documentation page keeps every layer.

Each class is Django's own middleware with that one bypass, so the admin's checks (which
look for these middleware or subclasses of them) and the handler's process_view /
process_exception hooks (CSRF's among them) work as before; the API's views are
csrf_exempt, so CSRF's process_view lets them through without the cookie.
"""

from __future__ import annotations

from django.contrib.auth import middleware as auth
from django.contrib.messages import middleware as messages
from django.contrib.sessions import middleware as sessions
from django.http import HttpRequest, HttpResponse
from django.middleware import clickjacking, csp, csrf

from otakusite import middleware as site

API_PREFIX = "/api/v1/"
API_DOCS = "/api/v1/docs/"


def json_api(request: HttpRequest) -> bool:
    """A request for one of the API's JSON answers (everything under /api/v1/ but the docs)."""
    path = request.path
    return path.startswith(API_PREFIX) and not path.startswith(API_DOCS)


class _PagesOnly:
    def __call__(self, request: HttpRequest) -> HttpResponse:
        if json_api(request):
            return self.get_response(request)  # type: ignore[attr-defined]
        return super().__call__(request)  # type: ignore[misc]


class SessionMiddleware(_PagesOnly, sessions.SessionMiddleware):
    pass


class CookieLocaleMiddleware(_PagesOnly, site.CookieLocaleMiddleware):
    pass


class CsrfViewMiddleware(_PagesOnly, csrf.CsrfViewMiddleware):
    pass


class AuthenticationMiddleware(_PagesOnly, auth.AuthenticationMiddleware):
    pass


class MessageMiddleware(_PagesOnly, messages.MessageMiddleware):
    pass


class XFrameOptionsMiddleware(_PagesOnly, clickjacking.XFrameOptionsMiddleware):
    pass


class ContentSecurityPolicyMiddleware(_PagesOnly, csp.ContentSecurityPolicyMiddleware):
    pass
