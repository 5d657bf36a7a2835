"""Caching of the viewer pages, in one place: keys, versions, timeouts, the last good copy
and the validators browsers revalidate with.

A page is cached under a key made of what it shows: its path, the query parameters it
reads (normalised), the language and the version of its data (an anime's version, the
catalogue's). Versions are read from the database and kept in each web process until a
change is announced (catalog/nearcache.py), so a cached page costs no round trip.
"""

from __future__ import annotations

import hashlib
import re
import threading
import unicodedata
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.http import http_date, urlencode
from django.utils.translation import get_language

from catalog import nearcache, seo, sitestatus
from otakusite import replica

PAGE_SECONDS = 3600
# Entries keyed on a version never go stale: their timeout only frees memory.
VERSIONED_SECONDS = 3600
SITE_STATUS_SECONDS = 15
# How long a web process reuses a "recent" value (site status, embed hosts) without asking
# the shared cache: both already lag by design.
NEAR_RECENT_SECONDS = 5
# A normal build takes milliseconds; one that takes longer is stuck, not worth waiting for.
BUILD_WAIT_SECONDS = 1.0
# Longer search queries are cut: no title is that long, and it bounds the work per request.
MAX_QUERY_LENGTH = 100
SITE_STATUS_KEY = "site:status:v2"
STALE_KEY_PREFIX = "stale:v2:"
# Striped: a lock per page would need bookkeeping; 64 make unrelated pages rarely wait.
_BUILD_LOCKS = [threading.Lock() for _ in range(64)]


# --- Cached reads -----------------------------------------------------------------


def until_change[T](key: Hashable, load: Callable[[], T]) -> T:
    """`load()`, kept in this process until the next announced change (catalog/nearcache.py);
    loaded every time where nothing is announced (no Redis).

    These are the versions pages are keyed on: with a read replica they are read on the
    primary, kept with the primary's position at that moment, and the request's replica
    reads must have reached that position (otakusite/replica.py), so a page is never
    built from data older than its version."""
    value, position = nearcache.current().memo(key, lambda: replica.read_on_primary(load))
    replica.require(position)
    return value


def versioned[T](
    parts: tuple[object, ...], load: Callable[[], T], seconds: int = VERSIONED_SECONDS
) -> T:
    """`load()`, shared by every process under a key made of `parts`, which must name the
    data's version (and the language when the value is text shown to viewers)."""
    key = ":".join(map(str, parts))
    value = cache.get(key)
    if value is None:
        value = load()
        cache.set(key, value, seconds)
    return value


def shared_body(key: str, load: Callable[[], tuple[str, bytes]]) -> tuple[str, bytes]:
    """An API answer (its ETag, its body) under `key`, which must name the data's version:
    from this process's near copy, else the shared cache, else `load()`. Like a page, a
    cached answer then costs no round trip (bench/bench_site.py, "cached API")."""
    near = nearcache.current()
    entry: tuple[str, bytes] | None = near.page(key)
    if entry is None:
        entry = cache.get(key)
        if entry is None:
            entry = load()
            cache.set(key, entry, VERSIONED_SECONDS)
        near.keep_page(key, entry, len(entry[1]))
    return entry


def recent[T](key: str, load: Callable[[], T], seconds: int) -> T:
    """`load()`, shared for `seconds` and reused by this process for NEAR_RECENT_SECONDS."""
    near = nearcache.current()
    if (hit := near.recent(key)) is not None:
        return hit
    value = cache.get(key)
    if value is None:
        value = load()
        cache.set(key, value, seconds)
    near.keep_recent(key, value, min(seconds, NEAR_RECENT_SECONDS))
    return value


def forget_recent(key: str) -> None:
    cache.delete(key)
    nearcache.current().drop_recent(key)


def announce_change() -> None:
    """The catalogue changed (after commit): versions kept in web processes are forgotten."""
    nearcache.announce_change()


# --- Keys: only what a page reads, normalised ---------------------------------------


def clean_query(raw: str | None) -> str:
    """A search query safe to store in a cache key and echo back: no control characters."""
    text = "".join(ch for ch in (raw or "") if unicodedata.category(ch)[0] != "C")
    return " ".join(text.split())[:MAX_QUERY_LENGTH]


def search_query(request: HttpRequest) -> tuple[str, bool]:
    """`?q=` cleaned and case-folded (search ignores case, so "Naruto", " naruto " and
    "NARUTO" share one entry), and whether it was cut for being too long."""
    raw = request.GET.get("q", "")
    return clean_query(raw).casefold(), len(raw) > MAX_QUERY_LENGTH


def page_number(request: HttpRequest) -> int:
    """`?page=` as a number: 1 when absent; anything but digits is a 404 right away (never
    a cache entry). Pages past the last are a 404 from the paginator, also never cached."""
    raw = request.GET.get("page") or "1"
    if not raw.isdigit() or len(raw) > 6 or int(raw) < 1:
        raise Http404("bad page")
    return int(raw)


def page_params(number: int = 1, **extra: str) -> dict[str, str]:
    """The parameters a page is keyed on. Page 1 is the page without the parameter:
    `?page=1`, `?page=01` and none share a key."""
    params = {name: value for name, value in extra.items() if value}
    return {**params, "page": str(number)} if number > 1 else params


def _query(params: dict[str, str] | None) -> str:
    return urlencode(sorted(params.items())) if params else ""


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


# --- Pages --------------------------------------------------------------------------


def page(
    request: HttpRequest,
    template: str,
    build: Callable[[], dict[str, Any]],
    *,
    version: str,
    params: dict[str, str] | None = None,
    last_modified: datetime | None = None,
) -> HttpResponse:
    """`template` rendered once per (path, `params`, language, `version`) and served from
    the cache until one of them changes.

    `version` must change whenever the data shown changes, so new episodes show at once.
    `params` (from `page_params`) are the query parameters the page reads: the key and the
    page's own links are built from them, never from the raw query string, so `?v=1`,
    `?v=2`... share one entry and a stranger's trackers never show in others' pages.
    Browsers revalidate every time with the ETag and Last-Modified set here; Django's
    ConditionalGetMiddleware answers 304 when they match.
    """
    # The origin too: pages carry absolute URLs (canonical, share cards) of the host and
    # scheme they were asked on.
    path_key = f"{_identity(request, params)}|{version}"
    key = f"page:{_digest(path_key)}"
    near = nearcache.current()
    status, token, entry = lookup(near, key)
    if entry is None or entry[0] != token:
        entry = _build_once(request, template, build, key=key, status=status, params=params)
    response = HttpResponse(entry[1])
    response["ETag"] = f'"{_digest(f"{key}|{entry[0]}")}"'
    if last_modified:
        response["Last-Modified"] = http_date(last_modified.timestamp())
    # Revalidated on every view (cheap 304s), so a new episode is never hidden.
    response["Cache-Control"] = "no-cache"
    return response


def lookup(near: nearcache.NearCache, key: str) -> tuple[sitestatus.SiteStatus, str, Any]:
    """The site status, its page token, and the cached (token, page) under `key` if any.

    A page is cached under a key without the status token and stored with it, so one
    cache round trip fetches both; this process's near copies of both spare even that.
    """
    # (status, token): the token costs a clock read.
    kept: tuple[sitestatus.SiteStatus, str] | None = near.recent(SITE_STATUS_KEY)
    entry = near.page(key)
    hits: dict[str, Any] = {}
    if kept is None or entry is None:
        hits = cache.get_many([SITE_STATUS_KEY, key])
    if kept is None:
        status = hits.get(SITE_STATUS_KEY)
        if status is None:
            status = sitestatus.read()
            cache.set(SITE_STATUS_KEY, status, SITE_STATUS_SECONDS)
        kept = (status, status.page_token)
        near.keep_recent(SITE_STATUS_KEY, kept, NEAR_RECENT_SECONDS)
    if entry is None:
        entry = hits.get(key)
        if entry is not None:
            near.keep_page(key, entry, len(entry[1]))
    return kept[0], kept[1], entry


def _build_once(
    request: HttpRequest,
    template: str,
    build: Callable[[], dict[str, Any]],
    *,
    key: str,
    status: sitestatus.SiteStatus,
    params: dict[str, str] | None,
) -> tuple[str, bytes]:
    """One build per page per process at a time: when a crawl changes the catalogue every
    few seconds, every thread asking for the home page at that moment would otherwise
    render it (a load test saw p99 1.7 s). A thread that waited finds the page its
    neighbour built; behind a build stuck on a frozen database it goes ahead on its own."""
    lock = _BUILD_LOCKS[hash(key) % len(_BUILD_LOCKS)]
    waited = lock.acquire(timeout=BUILD_WAIT_SECONDS)
    try:
        if waited:
            status, token, entry = lookup(nearcache.current(), key)
            if entry is not None and entry[0] == token:
                return entry
        return _render(request, template, build(), key=key, status=status, params=params)
    finally:
        if waited:
            lock.release()


def _render(
    request: HttpRequest,
    template: str,
    data: dict[str, Any],
    *,
    key: str,
    status: sitestatus.SiteStatus,
    params: dict[str, str] | None,
) -> tuple[str, bytes]:
    """Render a page, cache it (Redis, this process's near copy, the last good copy)."""
    query = _query(params)
    context = {
        "site_status": status,
        "page_path": f"{request.path}?{query}" if query else request.path,
        "page_query": QueryDict(query),
        **data,
    }
    # Kept encoded: a hit then hands its bytes over without encoding them again.
    entry = (status.page_token, render_to_string(template, context, request).encode())
    cache.set(key, entry, PAGE_SECONDS)
    nearcache.current().keep_page(key, entry, len(entry[1]))
    copy = (status.last_ok_at or timezone.now(), entry[1], tuple(data.get("frame_hosts", ())))
    cache.set(_stale_key(request, params), copy, settings.STALE_PAGE_SECONDS)
    return entry


# --- The last good copy, for when the database is down -----------------------------
# Reading a page's version needs the database: with it down no fresh key can be built.
# So each rendered page is also kept under a key of its identity alone (path, parameters,
# language) for STALE_PAGE_SECONDS (days), replaced in place at each render; while the
# database is unreachable otakusite/errors.py serves it with a "data as of" notice.

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


def _identity(request: HttpRequest, params: dict[str, str] | None) -> str:
    """What a page is, whatever its data's version: origin, path, parameters, language."""
    return f"{seo.site_origin(request)}{request.path}?{_query(params)}|{get_language()}"


def _stale_key(request: HttpRequest, params: dict[str, str] | None) -> str:
    return STALE_KEY_PREFIX + _digest(_identity(request, params))


def _lenient_params(request: HttpRequest) -> dict[str, str]:
    """The page parameters of `request` as the views key them, without their 404s:
    `/ongoing/?page=02&utm=x` finds the copy of `/ongoing/?page=2`."""
    try:
        number = page_number(request)
    except Http404:
        number = 1
    if request.path.rstrip("/").endswith("search"):
        from catalog.search import SearchParams  # it builds on this module

        params = SearchParams.from_request(request)
        # A search without a query or filter is one page whatever ?page says.
        return params.key(number if params.active else 1)
    query, _too_long = search_query(request)
    return page_params(number, q=query)


def recall_stale(request: HttpRequest) -> StalePage | None:
    """The last good copy of the page `request` asks for, if one was kept (and the cache
    answers: with Redis down too there is nothing to serve)."""
    try:
        kept = cache.get(_stale_key(request, _lenient_params(request)))
    except Exception:  # a cache backend that raises (not django-redis): nothing to serve
        return None
    if not (isinstance(kept, tuple) and len(kept) == 3):
        return None
    return StalePage(*kept)


def with_stale_notice(copy: StalePage, request: HttpRequest) -> bytes:
    """The copy's HTML with the "data as of ..." notice after the header."""
    notice = render_to_string("includes/stale_notice.html", {"as_of": copy.as_of}, request)
    body = _OLD_NOTICE.sub(b"", copy.body, count=1)
    head, found, tail = body.partition(_HEADER_END)
    if not found:  # not a page of ours after all: still say it, at the very top
        return notice.encode() + body
    return head + found + b"\n" + notice.encode() + tail
