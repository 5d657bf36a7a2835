from django.contrib import admin
from django.contrib.sitemaps import views as sitemap_views
from django.urls import include, path
from django.utils.translation import gettext_lazy as _

from catalog import views as catalog_views
from catalog.sitemaps import SITEMAPS

admin.site.site_header = _("Admin otakusite")
admin.site.site_title = _("Admin otakusite")

urlpatterns = [
    # The viewer pages first: URLs resolve in order, and they are nearly every request.
    path("", include("catalog.urls")),
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
    path("healthz", catalog_views.healthz, name="healthz"),
]
