from django.contrib import admin
from django.contrib.sitemaps import views as sitemap_views
from django.urls import include, path, re_path
from django.utils.translation import gettext_lazy as _

from catalog import posters
from catalog import views as catalog_views
from catalog.sitemaps import SITEMAPS
from otakusite import api

admin.site.site_header = _("Admin otakusite")
admin.site.site_title = _("Admin otakusite")

urlpatterns = [
    # The public JSON API (catalog/api.py) before the pages: URLs resolve in order, and
    # its one prefix costs a page one failed match where the pages' ~30 patterns would
    # cost every API request (bench/bench_site.py, "cached API").
    path("api/v1/", api.urls),
    # The viewer pages next: they are nearly every request.
    path("", include("catalog.urls")),
    path("", include("scraper.urls")),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path(
        "sitemap.xml",
        sitemap_views.index,
        {"sitemaps": SITEMAPS, "sitemap_url_name": "sitemap-section"},
        name="sitemap",
    ),
    path(
        "sitemap-<section>.xml",
        sitemap_views.sitemap,
        {"sitemaps": SITEMAPS},
        name="sitemap-section",
    ),
    path("robots.txt", catalog_views.robots_txt, name="robots"),
    path("favicon.ico", catalog_views.favicon, name="favicon"),
    # Posters re-encoded by the worker (nginx serves the same files in Compose).
    path("media/posters/<str:name>", posters.serve, name="poster-file"),
    # Liveness (the process answers) for container health checks; readiness (the database
    # answers; Redis reported, not required) for load balancers and monitoring. With or
    # without the trailing slash: probes are configured by hand.
    re_path(r"^healthz/live/?$", catalog_views.healthz_live, name="healthz-live"),
    re_path(r"^healthz/ready/?$", catalog_views.healthz, name="healthz-ready"),
    re_path(r"^healthz/?$", catalog_views.healthz, name="healthz"),
]

# Error pages in the site's look; a database outage outside a view is a 503, not a 500.
handler500 = "otakusite.errors.server_error"
