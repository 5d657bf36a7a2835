"""Where a page says the site lives: its canonical and ``og:url`` links, and the home page's
own notice (``.infoupdate``: "Situs resmi Otakudesu hanya otakudesu.best, selain dari ini
adalah situs palsu."). The scraper compares them with the base it crawls to notice a
domain move (scraper/origin.py verifies a candidate before it is used).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .common import attr, head_value, load_document, node_text

__all__ = ["OriginHints", "parse_origin_hints"]

# A URL, a host name with a letter TLD, or an IPv4 address; an optional port either way.
_ADDRESS = re.compile(
    r"(?:(?P<scheme>https?)://)?"
    r"(?P<host>(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,24}|\d{1,3}(?:\.\d{1,3}){3})"
    r"(?::(?P<port>\d{1,5}))?(?![a-z0-9-]|\.[a-z0-9])",
    re.IGNORECASE,
)
_NOTICE_SELECTORS = (".infoupdate",)
# Only a notice about where the site lives names candidates ("Situs resmi ... hanya x",
# "pindah ke domain baru"), not one that links a chat group or a partner site.
_ABOUT_THE_ADDRESS = re.compile(r"resmi|pindah|domain|alamat|official|moved", re.IGNORECASE)
_MAX_ANNOUNCED = 5


@dataclass(frozen=True, slots=True)
class OriginHints:
    canonical: str | None
    og_url: str | None
    # Addresses the site's notice names, as written ("otakudesu.best", "http://x:8001"),
    # in the order they appear, at most a few.
    announced: tuple[str, ...] = ()


def parse_origin_hints(html: str, url: str = "") -> OriginHints:
    """Never raises: a page without hints gives empty ones."""
    doc = load_document(html, "hints", url)
    found: list[str] = []
    for selector in _NOTICE_SELECTORS:
        for notice in doc.tree.css(selector):
            if not _ABOUT_THE_ADDRESS.search(node_text(notice)):
                continue
            texts = [node_text(notice)]
            texts += [attr(link, "href") or "" for link in notice.css("a")]
            for text in texts:
                for match in _ADDRESS.finditer(text):
                    address = match.group(0).rstrip(".").lower()
                    if address not in found:
                        found.append(address)
    return OriginHints(
        canonical=head_value(doc, 'link[rel="canonical"]', "href"),
        og_url=head_value(doc, 'meta[property="og:url"]', "content"),
        announced=tuple(found[:_MAX_ANNOUNCED]),
    )
