"""The production URLconf plus baseline views, used only by `bench/bench_site.py`.

`/bench-hello/` is the baseline a cached page is compared with; `/bench-sql/` and
`/bench-redis/` add one database query or one cache read to it, so the report can show
what a single round trip costs next to the goal; `/bench-hello-<n>/` answers `n` bytes, to
show what a page's size alone costs. None of this is in the production URLconf.
"""

from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.urls import path

from otakusite.urls import urlpatterns as site_urlpatterns


def hello(request: HttpRequest) -> HttpResponse:
    # Same middleware stack as every page: the ratio measures our view, not Django.
    return HttpResponse("Hello, world!")


def hello_sql(request: HttpRequest) -> HttpResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return HttpResponse("Hello, world!")


def hello_redis(request: HttpRequest) -> HttpResponse:
    cache.get("bench:nothing")
    return HttpResponse("Hello, world!")


def hello_sized(request: HttpRequest, size: int) -> HttpResponse:
    return HttpResponse(b"x" * min(size, 1_000_000))


urlpatterns = [
    path("bench-hello/", hello),
    path("bench-hello-<int:size>/", hello_sized),
    path("bench-sql/", hello_sql),
    path("bench-redis/", hello_redis),
    *site_urlpatterns,
]
