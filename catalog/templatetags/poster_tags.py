"""``{% poster anime %}``: an anime's poster from our domain (WebP with a JPEG fallback, in
the widths the pages show), or the placeholder when none is stored (catalog/posters.py)."""

from __future__ import annotations

from typing import Any

from django import template

from catalog import posters

register = template.Library()


@register.inclusion_tag("includes/poster.html")
def poster(anime: Any, alt: str = "", kind: str = "card") -> dict[str, Any]:
    key = anime.poster_key if posters.poster_src(anime) else ""
    return {
        "key": key,
        "title": anime.title,
        "alt": alt,
        "webp": posters.srcset(key, "webp") if key else "",
        "jpg": posters.srcset(key, "jpg") if key else "",
        "src": posters.poster_src(anime, posters.WIDTHS[0]),
        "sizes": posters.DETAIL_SIZES if kind == "detail" else posters.CARD_SIZES,
        "width": posters.ASPECT[0],
        "height": posters.ASPECT[1],
        # The anime page's poster is at the top: fetched at once, not lazily.
        "lazy": kind != "detail",
    }


@register.simple_tag
def poster_src(anime: Any) -> str:
    """Our JPEG URL of the poster ("" without one): for data attributes and share cards."""
    return posters.poster_src(anime, posters.WIDTHS[-1])
