"""RSS of new episodes: site-wide and per anime."""

from __future__ import annotations

from datetime import datetime, time

from django.contrib.syndication.views import Feed
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from catalog import selectors as sel
from catalog.models import Anime, Episode


def _pubdate(episode: Episode) -> datetime:
    if episode.published_on:
        return timezone.make_aware(datetime.combine(episode.published_on, time(0, 0)))
    return episode.created_at


class LatestEpisodesFeed(Feed):
    def title(self) -> str:
        return _("otakusite: episode terbaru")

    def description(self) -> str:
        return _("Episode anime terbaru dengan subtitle Indonesia.")

    def link(self) -> str:
        return reverse("catalog:home")

    def items(self) -> list[Episode]:
        return sel.newest_episodes(sel.FEED_ITEMS, ongoing_only=False)

    def item_title(self, item: Episode) -> str:
        return item.title

    def item_description(self, item: Episode) -> str:
        return item.anime.title

    def item_pubdate(self, item: Episode) -> datetime:
        return _pubdate(item)


class AnimeEpisodesFeed(Feed):
    def get_object(self, request: HttpRequest, slug: str) -> Anime:
        return sel.anime_head(slug)

    def title(self, obj: Anime) -> str:
        return _("%(title)s: episode terbaru") % {"title": obj.title}

    def description(self, obj: Anime) -> str:
        return obj.synopsis[:300]

    def link(self, obj: Anime) -> str:
        return obj.get_absolute_url()

    def items(self, obj: Anime) -> list[Episode]:
        qs = (
            Episode.objects.filter(anime=obj)
            .newest()
            .only("id", "slug", "title", "published_on", "created_at")
        )
        return list(qs[: sel.FEED_ITEMS])

    def item_title(self, item: Episode) -> str:
        return item.title

    def item_description(self, item: Episode) -> str:
        return item.title

    def item_pubdate(self, item: Episode) -> datetime:
        return _pubdate(item)
