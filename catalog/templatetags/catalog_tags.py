"""Small template helpers for the viewer pages."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.dates import MONTHS_3
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language, gettext
from django.utils.translation import gettext_lazy as _

from catalog import pagecache

register = template.Library()

# The schedule stores the origin's Indonesian day names; these make them translatable.
DAY_LABELS = {
    "Senin": _("Senin"),
    "Selasa": _("Selasa"),
    "Rabu": _("Rabu"),
    "Kamis": _("Kamis"),
    "Jumat": _("Jumat"),
    "Sabtu": _("Sabtu"),
    "Minggu": _("Minggu"),
    "": _("Tidak tentu"),
}


@register.filter
def day_label(day: str) -> str:
    return str(DAY_LABELS.get(day, day))


@register.simple_tag(takes_context=True)
def page_url(context: Any, number: int) -> str:
    """The current URL's query string with `page` replaced (keeps ?q= on search pages).

    Cached pages build it from the parameters they were keyed on (pagecache.page's
    `page_query`), not from the request's: a page shared through the cache must not carry
    the first viewer's trackers or cache-busters in its links."""
    request = context["request"]
    page_query = context.get("page_query")
    params = page_query.copy() if page_query is not None else request.GET.copy()
    if number == 1:
        params.pop("page", None)
    else:
        params["page"] = str(number)
    encoded = params.urlencode()
    return f"?{encoded}" if encoded else request.path


@register.filter
def join_names(values: Any) -> str:
    if not values:
        return ""
    if isinstance(values, str):
        return values
    return ", ".join(str(v) for v in values)


@register.filter
def initial(title: str) -> str:
    return (title or "?").strip()[:1].upper()


@register.simple_tag
def elided_pages(page: Any) -> list[Any]:
    return list(page.paginator.get_elided_page_range(page.number, on_each_side=1, on_ends=1))


@register.filter
def download_groups(links: Any) -> list[Any]:
    """Download links as table rows: one per (format, quality), providers side by side."""
    from catalog.selectors import group_downloads

    return group_downloads(links)


@register.filter
def http_url(url: str) -> str:
    """Scraped links become hrefs only when they are http(s) (never javascript:)."""
    from catalog.embed_policy import safe_embed_url

    return safe_embed_url(url) or "#"


# --- Episode list: rendered in Python, cached per anime version and language ------------


@register.simple_tag
def episode_list(episodes: list[Any], anime: Any, current: str = "") -> SafeString:
    """The episode list of `anime`, the current episode marked.

    One fragment per (anime, version, language) serves the anime page and all of its
    episode pages; the version changes with every ingest, so it never goes stale. It is
    built with plain string formatting: a template loop over 1,000 episodes was most of
    an uncached page's time (BENCHMARKS.md, "Site").
    """
    parts = ("eplist", anime.pk, anime.version, get_language())
    html = pagecache.versioned(parts, lambda: render_episode_list(episodes))
    if current:
        item = f'<li data-episode="{escape(current)}">'
        html = html.replace(item, f'{item[:-1]} class="current" aria-current="page">', 1)
    return mark_safe(html)  # noqa: S308 - every value inside was escaped


def render_episode_list(episodes: list[Any]) -> str:
    if not episodes:
        return f'<p class="empty">{escape(gettext("Belum ada episode."))}</p>\n'
    # Same text as the |date:"j M Y" filter (localised month abbreviations).
    months = [""] + [str(MONTHS_3[m]).title() for m in range(1, 13)]
    parts = ['<ol class="episode-list" data-watch-list>\n']
    for ep in episodes:
        number = "SP" if ep.number is None else escape(ep.number_display)
        day = ep.published_on
        when = (
            f'<time datetime="{day.isoformat()}">{day.day} {months[day.month]} {day.year}</time>'
            if day
            else ""
        )
        parts.append(
            f'<li data-episode="{escape(ep.slug)}"><a href="{escape(ep.url)}">'
            f'<span class="ep-num">{number}</span><span class="ep-title">{escape(ep.title)}</span>'
            f'{when}<span class="watched-mark" aria-hidden="true">✓</span></a></li>\n'
        )
    parts.append("</ol>\n")
    return "".join(parts)
