"""Small template helpers for the viewer pages."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.translation import gettext_lazy as _

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
    """The current URL's query string with `page` replaced (keeps ?q= on search pages)."""
    request = context["request"]
    params = request.GET.copy()
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
    from catalog.selectors import safe_embed_url

    return safe_embed_url(url) or "#"
