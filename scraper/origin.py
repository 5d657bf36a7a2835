"""Where the origin lives, and following it when it moves.

otakudesu changes domains (.best, .blog, .cloud, ...) and says so itself: a permanent
redirect of the old domain, the canonical/``og:url`` links of its pages, the notice on its
home page. A candidate base found that way is adopted only after it serves the same
catalogue (its home page parses and most of a few stored anime read back with the same
title), whatever its host name; a candidate that fails is recorded as rejected and not
tried again for a while. Moves are OriginMove rows (the admin lists them): the current
base is the newest adopted one while OTAKUDESU_BASE_URL still has the value it had then,
so an operator who changes the variable takes over again.
"""

from __future__ import annotations

import datetime
import logging
from urllib.parse import urlsplit

from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone
from django.utils.translation import gettext as _

from catalog.models import Anime, OriginMove, fold_text
from scraper import alerts, parsers
from scraper.client import ClientError, OriginClient
from scraper.client_factory import make_client
from scraper.parsers import ParseError
from scraper.parsers.hints import parse_origin_hints

__all__ = [
    "VERIFY_SLUGS",
    "consider_move",
    "current_base_url",
    "follow_page_hints",
    "former_bases",
    "is_adopted",
    "verify_candidate",
    "verify_redirect",
]

logger = logging.getLogger("scraper.origin")

VERIFY_SLUGS = 3  # stored anime read back from a candidate
REJECTED_FOR = datetime.timedelta(hours=6)  # a rejected candidate is not tried again before


def _norm(base: str) -> str:
    return base.strip().rstrip("/").lower()


def current_base_url() -> str:
    """The origin to crawl: the newest adopted move made under the current
    OTAKUDESU_BASE_URL, else that variable."""
    configured = settings.OTAKUDESU_BASE_URL
    try:
        moved = (
            OriginMove.objects.filter(adopted=True, configured_base=configured)
            .order_by("-created_at", "-id")
            .values_list("new_base", flat=True)
            .first()
        )
    except DatabaseError:  # no database yet (a script, a fresh install): the variable
        return configured
    return moved or configured


def former_bases() -> list[str]:
    """The bases the origin moved away from (under the current OTAKUDESU_BASE_URL)."""
    configured = settings.OTAKUDESU_BASE_URL
    try:
        return list(
            OriginMove.objects.filter(adopted=True, configured_base=configured)
            .values_list("old_base", flat=True)
            .distinct()
        )
    except DatabaseError:
        return []


def is_adopted(_old_base: str, new_base: str) -> bool:
    """A redirect is followed without verification only toward the adopted base."""
    return _norm(new_base) == _norm(current_base_url())


def verify_redirect(old_base: str, new_base: str) -> bool:
    """The client's ``verify_move``: a permanent redirect to another base."""
    return consider_move(old_base, new_base, via=OriginMove.Via.REDIRECT)


def _base_of(address: str, scheme: str) -> str | None:
    """``scheme://host[:port]`` of a URL or of a bare ``host[:port]`` (the page's own
    scheme then), or None when it is not an address."""
    text = address.strip()
    parts = urlsplit(text if "://" in text else f"{scheme}://{text}")
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        return None
    return f"{parts.scheme}://{parts.netloc.lower()}"


def follow_page_hints(client: OriginClient, html: str) -> str | None:
    """Look at an entry page's notice and canonical links; a verified new base is adopted
    by ``client`` (and stored). Returns the new base, or None."""
    current = urlsplit(client.base_url)
    hints = parse_origin_hints(html, client.base_url)
    candidates = [(OriginMove.Via.ANNOUNCEMENT, a) for a in hints.announced]
    candidates += [(OriginMove.Via.CANONICAL, a) for a in (hints.canonical, hints.og_url) if a]
    for via, address in candidates:
        base = _base_of(address, current.scheme)
        if base is None or urlsplit(base).netloc == current.netloc.lower():
            continue
        if consider_move(client.base_url, base, via=via):
            client.adopt_base(base)
            logger.warning("origin moved: %s -> %s (%s)", current.geturl(), base, via)
            return base
    return None


def consider_move(old_base: str, candidate: str, *, via: str) -> bool:
    """Adopt ``candidate`` if it serves our catalogue (recorded either way; an alert
    when adopted). True when it is the origin from now on."""
    candidate = candidate.rstrip("/")
    if _norm(candidate) == _norm(current_base_url()):
        return True  # adopted already (by another process, or a second hint)
    since = timezone.now() - REJECTED_FOR
    rejected = OriginMove.objects.filter(new_base=candidate, adopted=False, created_at__gte=since)
    if rejected.exists():
        return False
    ok, detail = verify_candidate(candidate)
    OriginMove.objects.create(
        old_base=old_base,
        new_base=candidate,
        via=via,
        adopted=ok,
        detail=detail[:2000],
        configured_base=settings.OTAKUDESU_BASE_URL,
    )
    if not ok:
        logger.warning("origin candidate %s (%s) rejected: %s", candidate, via, detail)
        return False
    via_text = OriginMove.Via(via).label
    message = _(
        "Origin pindah: %(old)s → %(new)s (terdeteksi dari: %(via)s). Sudah diverifikasi "
        "(%(detail)s) dan dipakai mulai sekarang."
    ) % {"old": old_base, "new": candidate, "via": via_text, "detail": detail}
    alerts.event(f"move:{candidate}", message)
    return True


def _never(_old: str, _new: str) -> bool:
    return False


def verify_candidate(candidate: str) -> tuple[bool, str]:
    """(serves our catalogue?, what was seen). Its home page must list anime; then most
    of a few stored anime must read back with their stored titles."""
    known = list(
        Anime.objects.exclude(title="")
        .order_by("-last_scraped_at", "pk")
        .values_list("slug", "title")[:VERIFY_SLUGS]
    )
    try:
        with make_client(candidate, verify_move=_never, retries=1) as client:
            home = parsers.parse_home(client.get("/").text, client.origin_url("/"))
            if not (home.ongoing or home.completed):
                return False, "its home page lists no anime"
            if not known:
                return True, "its home page parses; no stored catalogue to compare"
            matched = [slug for slug, title in known if _same_anime(client, slug, title)]
    except (ClientError, ParseError, ValueError) as exc:
        return False, f"{type(exc).__name__}: {exc}"
    detail = f"{len(matched)} of {len(known)} stored anime match: {', '.join(matched) or '-'}"
    return 2 * len(matched) > len(known), detail


def _same_anime(client: OriginClient, slug: str, title: str) -> bool:
    path = f"/anime/{slug}/"
    try:
        detail = parsers.parse_detail(client.get(path).text, client.origin_url(path))
    except (ClientError, ParseError):
        return False
    return detail.slug == slug and fold_text(detail.title) == fold_text(title)
