"""Share cards and search-engine hints of the viewer pages: OpenGraph and Twitter card
tags, the canonical URL and JSON-LD (schema.org), built as plain data from what the page
shows; templates/includes/share.html prints them.

Absolute URLs start from ``site_origin(request)``: the scheme and host the viewer used,
which behind the proxy are those nginx forwards (``BEHIND_PROXY``); the page cache keys
on the same origin, so a page never carries another host's links.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.http import HttpRequest
from django.templatetags.static import static
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from catalog import posters
from catalog.models import Anime, Episode, Genre

SITE_NAME = "otakusite"
# Search engines show about this much of a description; longer ones are cut mid-word.
DESCRIPTION_LENGTH = 160
# The site's own picture where a page has no poster (scripts/make_share_image.py draws
# it at the size share cards show large).
DEFAULT_IMAGE = ("img/share.jpg", 1200, 630, "image/jpeg")
SCHEMA = "https://schema.org"
_LOCALES = {"id": "id_ID", "en": "en_US"}
# What json_script escapes: a title holding "</script>" or "<!--" stays inside its block.
_JSON_ESCAPES = {ord("<"): "\\u003C", ord(">"): "\\u003E", ord("&"): "\\u0026"}


def site_origin(request: HttpRequest) -> str:
    """``https://host`` as the viewer reached the site (the one way absolute URLs start)."""
    return f"{request.scheme}://{request.get_host()}"


@dataclass(frozen=True)
class ShareImage:
    url: str
    width: int
    height: int
    type: str
    alt: str


@dataclass(frozen=True)
class ShareCard:
    title: str
    description: str
    url: str  # og:url: the page as shared (a search keeps its query)
    canonical: str  # "" on pages that ask not to be indexed
    image: ShareImage
    og_type: str = "website"
    noindex: bool = False
    # More OpenGraph properties, e.g. ("video:series", url) on an episode.
    og_extra: tuple[tuple[str, str], ...] = ()
    json_ld: tuple[dict[str, Any], ...] = field(default=())

    @property
    def twitter_card(self) -> str:
        """The large card for a wide picture; a portrait poster would be cut to a strip
        there, so it gets the square thumbnail card."""
        wide = self.image.width >= 1.5 * self.image.height
        return "summary_large_image" if wide else "summary"

    @property
    def locale(self) -> str:
        return _LOCALES.get((get_language() or "id")[:2], "id_ID")

    @property
    def json_ld_blocks(self) -> list[SafeString]:
        return [json_ld_text(item) for item in self.json_ld]


def json_ld_text(data: dict[str, Any]) -> SafeString:
    """``data`` as JSON safe inside <script type="application/ld+json">: <, > and & are
    escaped the way django.utils.html.json_script does."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return mark_safe(text.translate(_JSON_ESCAPES))  # noqa: S308 -- escaped just above


def summary(text: str, limit: int = DESCRIPTION_LENGTH) -> str:
    """``text`` on one line, cut at a word boundary to at most ``limit`` characters."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat[: limit - 1]
    if " " in cut:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,.;:-–") + "…"


def site_description() -> str:
    return _(
        "Nonton dan unduh anime subtitle Indonesia: episode terbaru, jadwal rilis, "
        "dan daftar anime A–Z."
    )


def _default_image(origin: str) -> ShareImage:
    path, width, height, kind = DEFAULT_IMAGE
    return ShareImage(origin + static(path), width, height, kind, SITE_NAME)


def _poster_image(origin: str, anime: Anime, shape: str) -> ShareImage | None:
    """Our JPEG copy of the poster (share scrapers read JPEG everywhere, not always WebP),
    or None while none is stored."""
    if not posters.poster_src(anime):
        return None
    width = posters.WIDTHS[-1]
    url = posters.url(anime.poster_key, width, "jpg", shape)
    alt = _("Poster %(title)s") % {"title": anime.title}
    return ShareImage(origin + url, width, posters.height_for(width, shape), "image/jpeg", alt)


def _crumbs(origin: str, items: Sequence[tuple[str, str]]) -> dict[str, Any]:
    return {
        "@context": SCHEMA,
        "@type": "BreadcrumbList",
        "itemListElement": [
            {"@type": "ListItem", "position": n, "name": name, "item": origin + path}
            for n, (name, path) in enumerate(items, start=1)
        ],
    }


def _home_crumb() -> tuple[str, str]:
    return (_("Beranda"), reverse("catalog:home"))


def _status_crumb(anime: Anime) -> tuple[str, str]:
    ongoing = anime.status == Anime.Status.ONGOING
    return (
        str(anime.get_status_display()),
        reverse(f"catalog:{'ongoing' if ongoing else 'completed'}"),
    )


def home_card(origin: str) -> ShareCard:
    url = origin + reverse("catalog:home")
    website = {
        "@context": SCHEMA,
        "@type": "WebSite",
        "name": SITE_NAME,
        "url": url,
        "inLanguage": get_language() or "id",
        # The sitelinks search box: our search page takes the words in ?q=.
        "potentialAction": {
            "@type": "SearchAction",
            "target": {
                "@type": "EntryPoint",
                "urlTemplate": f"{origin}{reverse('catalog:search')}?q={{search_term_string}}",
            },
            "query-input": "required name=search_term_string",
        },
    }
    return ShareCard(
        title=_("Nonton anime subtitle Indonesia"),
        description=site_description(),
        url=url,
        canonical=url,
        image=_default_image(origin),
        json_ld=(website,),
    )


def anime_card(origin: str, anime: Anime, genres: Sequence[Genre]) -> ShareCard:
    url = origin + anime.get_absolute_url()
    poster = _poster_image(origin, anime, "p")
    description = summary(anime.synopsis) or _("Nonton %(title)s subtitle Indonesia.") % {
        "title": anime.title
    }
    series: dict[str, Any] = {
        "@context": SCHEMA,
        "@type": "TVSeries",
        "name": anime.title,
        "url": url,
        "description": description,
        "genre": [g.name for g in genres],
    }
    if poster:
        series["image"] = poster.url
    if anime.title_japanese:
        series["alternateName"] = anime.title_japanese
    if anime.total_episodes:
        series["numberOfEpisodes"] = anime.total_episodes
    if anime.release_date:
        series["startDate"] = anime.release_date.isoformat()
    if anime.studios:
        series["productionCompany"] = [
            {"@type": "Organization", "name": str(name)} for name in anime.studios
        ]
    # No aggregateRating: the score comes without a count of ratings, which schema.org's
    # consumers require; a rating without it is reported as an error.
    crumbs = _crumbs(
        origin, [_home_crumb(), _status_crumb(anime), (anime.title, anime.get_absolute_url())]
    )
    return ShareCard(
        title=anime.title,
        description=description,
        url=url,
        canonical=url,
        image=poster or _default_image(origin),
        og_type="video.tv_show",
        json_ld=(series, crumbs),
    )


def episode_card(origin: str, episode: Episode, anime: Anime) -> ShareCard:
    url = origin + episode.get_absolute_url()
    series_url = origin + anime.get_absolute_url()
    poster = _poster_image(origin, anime, "w")
    lead = _("Nonton %(title)s subtitle Indonesia.") % {"title": episode.title}
    description = summary(f"{lead} {anime.synopsis}")
    item: dict[str, Any] = {
        "@context": SCHEMA,
        "@type": "TVEpisode",
        "name": episode.title,
        "url": url,
        "description": description,
        "partOfSeries": {"@type": "TVSeries", "name": anime.title, "url": series_url},
    }
    if poster:
        item["image"] = poster.url
    if episode.number is not None:
        number = episode.number
        integral = number == number.to_integral()
        item["episodeNumber"] = int(number) if integral else episode.number_display
    if episode.published_on:
        item["datePublished"] = episode.published_on.isoformat()
    crumbs = _crumbs(
        origin,
        [
            _home_crumb(),
            (anime.title, anime.get_absolute_url()),
            (episode.title, episode.get_absolute_url()),
        ],
    )
    return ShareCard(
        title=episode.title,
        description=description,
        url=url,
        canonical=url,
        image=poster or _default_image(origin),
        og_type="video.episode",
        og_extra=(("video:series", series_url),),
        json_ld=(item, crumbs),
    )


def list_card(
    origin: str, title: str, path: str, *, page: int = 1, genre: Genre | None = None
) -> ShareCard:
    """A list page (ongoing, completed, a genre, A–Z, genres, schedule). Page 2 onwards is
    its own canonical page (?page=N): it lists other anime, and pointing it at page 1 would
    hide them from search engines."""
    url = origin + path + (f"?page={page}" if page > 1 else "")
    if page > 1:
        title = f"{title} · {_('Halaman %(n)s') % {'n': page}}"
    json_ld: tuple[dict[str, Any], ...] = ()
    description = site_description()
    if genre is not None:
        description = _("Daftar anime genre %(name)s subtitle Indonesia.") % {"name": genre.name}
        json_ld = (
            _crumbs(
                origin,
                [
                    _home_crumb(),
                    (_("Genre"), reverse("catalog:genres")),
                    (genre.name, genre.get_absolute_url()),
                ],
            ),
        )
    return ShareCard(
        title=title,
        description=description,
        url=url,
        canonical=url,
        image=_default_image(origin),
        json_ld=json_ld,
    )


def search_card(origin: str, query: str, path: str) -> ShareCard:
    """Search results: not indexed (endless combinations of words and filters, each a
    near copy of the anime pages it links to), but followed to those pages. No canonical:
    pointing at another URL would contradict the noindex; og:url keeps the query so a
    shared link previews the same search."""
    title = _("Hasil pencarian “%(query)s”") % {"query": query} if query else _("Cari anime")
    return ShareCard(
        title=title,
        description=site_description(),
        url=origin + path,
        canonical="",
        image=_default_image(origin),
        noindex=True,
    )
