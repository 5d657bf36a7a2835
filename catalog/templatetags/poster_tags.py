"""``{% poster anime %}``: an anime's poster from our domain (WebP with a JPEG fallback, in
the widths the pages show), or the placeholder when none is stored (catalog/posters.py)."""

from __future__ import annotations

from typing import Any

from django import template

from catalog import posters

register = template.Library()


# Cards of a list shown with a normal srcset; later ones wait for static/js/posters.js.
EAGER_CARDS = 4


@register.inclusion_tag("includes/poster.html", takes_context=True)
def poster(context: Any, anime: Any, alt: str = "", kind: str = "card") -> dict[str, Any]:
    """``kind``: "card" (portrait, lazy), "wide" (an episode card's 16:10 crop, lazy) or
    "detail" (the anime page's portrait, at the top: fetched at once). Cards after the
    first ``EAGER_CARDS`` of their list load when scrolled near (static/js/posters.js)."""
    loop = context.get("forloop")
    key = anime.poster_key if posters.poster_src(anime) else ""
    shape = "w" if kind == "wide" else "p"
    sizes = {"detail": posters.DETAIL_SIZES, "wide": posters.WIDE_SIZES}
    width = posters.WIDTHS[-1]
    return {
        "key": key,
        "title": anime.title,
        "alt": alt,
        "webp": posters.srcset(key, "webp", shape) if key else "",
        "jpg": posters.srcset(key, "jpg", shape) if key else "",
        "src": posters.url(key, posters.WIDTHS[0], "jpg", shape) if key else "",
        "sizes": sizes.get(kind, posters.CARD_SIZES),
        "width": width,
        "height": posters.height_for(width, shape),
        "lazy": kind != "detail",
        "deferred": kind != "detail" and loop is not None and loop["counter"] > EAGER_CARDS,
    }


@register.simple_tag
def poster_src(anime: Any) -> str:
    """Our JPEG URL of the poster ("" without one): for data attributes and share cards."""
    return posters.poster_src(anime, posters.WIDTHS[-1])
