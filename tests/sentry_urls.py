"""The site's URLs plus /boom/, a view with a bug (tests/test_sentry.py)."""

from django.http import HttpRequest, HttpResponse
from django.urls import path

from otakusite.urls import handler500
from otakusite.urls import urlpatterns as site_urlpatterns

__all__ = ["handler500", "urlpatterns"]


class SentryProbeError(RuntimeError):
    pass


def boom(request: HttpRequest) -> HttpResponse:
    raise SentryProbeError("a bug in a view (tests/test_sentry.py)")


urlpatterns = [path("boom/", boom), *site_urlpatterns]
