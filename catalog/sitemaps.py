"""sitemap.xml: an index of sections; episodes are split into pages of 5,000."""

from __future__ import annotations

from datetime import datetime

from django.contrib.sitemaps import Sitemap
from django.db.models import QuerySet
from django.urls import reverse

from catalog.models import Anime, Episode, Genre


class StaticSitemap(Sitemap):
    changefreq = "hourly"
    priority = 0.8

    def items(self) -> list[str]:
        return [
            "catalog:home",
            "catalog:ongoing",
            "catalog:completed",
            "catalog:anime_index",
            "catalog:genres",
            "catalog:jadwal",
        ]

    def location(self, item: str) -> str:
        return reverse(item)


class AnimeSitemap(Sitemap):
    changefreq = "daily"
    priority = 0.7
    limit = 5000

    def items(self) -> QuerySet[Anime]:
        return Anime.objects.order_by("id").only("slug", "updated_at")

    def lastmod(self, item: Anime) -> datetime:
        return item.updated_at


class EpisodeSitemap(Sitemap):
    changefreq = "weekly"
    priority = 0.5
    limit = 5000

    def items(self) -> QuerySet[Episode]:
        return Episode.objects.order_by("id").only("slug", "updated_at")

    def lastmod(self, item: Episode) -> datetime:
        return item.updated_at


class GenreSitemap(Sitemap):
    changefreq = "weekly"
    priority = 0.4

    def items(self) -> QuerySet[Genre]:
        return Genre.objects.order_by("id").only("slug")


SITEMAPS: dict[str, type[Sitemap]] = {
    "static": StaticSitemap,
    "anime": AnimeSitemap,
    "genres": GenreSitemap,
    "episodes": EpisodeSitemap,
}
