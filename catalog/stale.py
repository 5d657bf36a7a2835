"""The last good copy of each rendered page, served while the database cannot be reached.

A cached page is keyed on its data's stamp (an anime's version, the catalogue aggregate),
and reading the stamp needs the database: with the database down no fresh key can be
built, so every page would fail. Each time a page is rendered, a second copy is therefore
kept under a key built from the page's identity alone (path, the parameters it reads,
language), for STALE_PAGE_SECONDS (days, not the hour a fresh copy lives). While the
database is unreachable, otakusite.middleware.DegradedMiddleware answers with that copy,
marked with the "data as of ..." notice; a page never rendered gets the 503 page.

Only written when a page is rendered (rare: pages are cached), one key per page, replaced
in place: it does not grow with versions. On the cache Redis, which evicts the least used
keys under memory pressure, a copy nobody asked for in days is the first to go.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import get_language

KEY_PREFIX = "stale:v1:"
# The notice goes right after the site's header; an existing "data as of" notice (the
# origin's updates are late) is replaced by this one, which says more.
_HEADER_END = b"</header>"
_OLD_NOTICE = re.compile(
    rb'<div class="notice notice-stale" role="status">.*?</div></div>\n?', re.DOTALL
)


@dataclass(frozen=True)
class StalePage:
    as_of: datetime  # the data's age: the last successful update when it was rendered
    body: bytes
    frame_hosts: tuple[str, ...]  # an episode page's embed hosts, for its CSP frame-src


def identity(path: str, params: dict[str, str] | None) -> str:
    """What a page is, without its data's stamp: the same for every version of it."""
    query = urlencode(sorted(params.items())) if params else ""
    text = f"{path}?{query}|{get_language()}"
    return KEY_PREFIX + hashlib.sha256(text.encode()).hexdigest()[:32]


def request_params(request: HttpRequest) -> dict[str, str]:
    """The page parameters of `request`, normalised as the views normalise them (page 1 is
    no parameter; the search query cleaned and case-folded), so `/ongoing/?page=02&utm=x`
    finds the copy of `/ongoing/?page=2`."""
    from catalog import selectors as sel  # here: keeps this module light to import

    params: dict[str, str] = {}
    raw_page = request.GET.get("page") or "1"
    if raw_page.isdigit() and len(raw_page) <= 6 and int(raw_page) > 1:
        params["page"] = str(int(raw_page))
    query = sel.clean_query(request.GET.get("q")).casefold()
    if query:
        params["q"] = query
    elif "page" in params and request.path.rstrip("/").endswith("search"):
        params.pop("page")  # a search without a query is one page whatever ?page says
    return params


def remember(
    key: str, body: bytes, *, as_of: datetime | None, frame_hosts: Iterable[str] = ()
) -> None:
    page = StalePage(as_of or timezone.now(), body, tuple(frame_hosts))
    cache.set(key, page, settings.STALE_PAGE_SECONDS)


def recall(request: HttpRequest) -> StalePage | None:
    """The last good copy of the page `request` asks for, if one was kept (and the cache
    answers: with Redis down too there is nothing to serve)."""
    try:
        page = cache.get(identity(request.path, request_params(request)))
    except Exception:  # a cache backend that raises (not django-redis): nothing to serve
        return None
    return page if isinstance(page, StalePage) else None


def with_notice(page: StalePage, request: HttpRequest) -> bytes:
    """The copy's HTML with the "data as of ..." notice after the header."""
    notice = render_to_string("includes/stale_notice.html", {"as_of": page.as_of}, request)
    body = _OLD_NOTICE.sub(b"", page.body, count=1)
    head, found, tail = body.partition(_HEADER_END)
    if not found:  # not a page of ours after all: still say it, at the very top
        return notice.encode() + body
    return head + found + b"\n" + notice.encode() + tail
