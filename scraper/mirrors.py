"""Stream mirrors: the origin's admin-ajax protocol that turns a mirror's token into the
embed URL a viewer's player loads (nonce, then embed), shared nonce and action names, and
pre-resolving the newest episodes' mirrors so viewers rarely wait for the origin.
"""

from __future__ import annotations

import datetime
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from catalog.models import Episode, ScrapeRun, StreamLink
from scraper import parsers
from scraper.client import (
    BudgetExhausted,
    ClientError,
    FetchError,
    OriginClient,
)
from scraper.client_factory import make_client, make_viewer_client
from scraper.embeds import remember_embed_hosts
from scraper.parsers import ParseError, parse_embed_response, parse_nonce_response
from scraper.parsers.types import EpisodePage

__all__ = [
    "MirrorBusy",
    "MirrorError",
    "current_base_url",
    "remember_mirror_actions",
    "resolve_mirror",
    "resolve_recent",
]

logger = logging.getLogger("scraper.mirrors")

NONCE_TTL = 10 * 60
# The site's own script reuses a nonce; peers cache it ~10 minutes.
STALE_NONCE_STATUSES = frozenset({400, 403})
ACTIONS_TTL = 7 * 24 * 3600
RESOLVED_FRESH_FOR = datetime.timedelta(hours=6)
# One process asks the origin for a new nonce; the others wait this long for its answer.
NONCE_ASK_SECONDS = 10
NONCE_WAIT_SECONDS = 1.0


def current_base_url() -> str:
    """Where the catalogue came from: the last successful crawl's origin (it may have been
    given with --base-url or reached after a domain move), else the configured one."""
    latest = (
        # A partial run (some pages failed) reached the origin all the same.
        ScrapeRun.objects.filter(
            status__in=[ScrapeRun.Status.OK, ScrapeRun.Status.PARTIAL], dry_run=False
        )
        .exclude(base_url="")
        .order_by("-finished_at")
        .values_list("base_url", flat=True)
        .first()
    )
    return latest or settings.OTAKUDESU_BASE_URL


class MirrorError(Exception):
    """A mirror could not be resolved (the message says why)."""


class MirrorBusy(MirrorError):  # noqa: N818 -- a MirrorError; "busy" says what it is
    """The origin's request budget is spent for now: nothing was asked, the mirror is not
    broken. ``retry_after`` seconds until a slot frees; ``cached_url`` is the embed resolved
    earlier (older than RESOLVED_FRESH_FOR), or "" when there is none."""

    def __init__(self, message: str, *, retry_after: float, cached_url: str = "") -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.cached_url = cached_url


def _nonce_key(client: OriginClient) -> str:
    return f"scraper:nonce:{client.base_url}"


def remember_mirror_actions(page: EpisodePage) -> None:
    """Keep the admin-ajax action names read from a crawled episode page's script."""
    if page.actions_from_script:
        cache.set("scraper:mirror-actions", (page.nonce_action, page.embed_action), ACTIONS_TTL)


def _mirror_actions(client: OriginClient, episode: Episode) -> tuple[str, str]:
    actions = cache.get("scraper:mirror-actions")
    if actions:
        return actions[0], actions[1]
    # Not seen lately: read them off the episode page itself.
    page = parsers.parse_episode(client.get(f"/episode/{episode.slug}/").text, episode.slug)
    remember_mirror_actions(page)
    return page.nonce_action, page.embed_action


def _nonce(client: OriginClient, action: str, *, fresh: bool = False) -> tuple[str, bool]:
    """(nonce, whether it came from the cache)."""
    key = _nonce_key(client)
    if not fresh and (nonce := cache.get(key)):
        return nonce, True
    # The nonce is shared through the cache by every process. When it is missing, one
    # process asks the origin and the others wait a moment for its answer: a burst of
    # viewers would otherwise each spend a budget slot on the same nonce.
    asking = f"{key}:asking"
    # (False: another process is asking; None: the cache is down, nobody to wait for.)
    if not fresh and cache.add(asking, 1, NONCE_ASK_SECONDS) is False:
        # A viewer's wait here counts against its limit (client.wait_left).
        left = client.wait_left
        patience = NONCE_WAIT_SECONDS if left is None else min(NONCE_WAIT_SECONDS, left / 2)
        started = time.monotonic()
        try:
            while time.monotonic() - started < patience:
                time.sleep(0.1)
                if nonce := cache.get(key):
                    return nonce, True
        finally:
            client.spend_wait(time.monotonic() - started)
    try:
        nonce = parse_nonce_response(client.post_ajax({"action": action}))
        cache.set(key, nonce, NONCE_TTL)
    finally:
        cache.delete(asking)
    return nonce, False


def _resolve_embed(client: OriginClient, link: StreamLink) -> str:
    nonce_action, embed_action = _mirror_actions(client, link.episode)
    referer = f"/episode/{link.episode.slug}/"
    form = {"id": str(link.token_id), "i": str(link.token_i), "q": link.token_q}
    fresh = False
    while True:
        nonce, cached = _nonce(client, nonce_action, fresh=fresh)
        try:
            body = client.post_ajax(
                {**form, "nonce": nonce, "action": embed_action}, referer=referer
            )
            return parse_embed_response(body)
        except (ParseError, FetchError) as exc:
            # A refused nonce looks like junk data or a 400/403 (WordPress answers a failed
            # nonce check with 403 "-1"). A cached one may simply have expired (peers
            # disagree on its lifetime): ask for a fresh nonce once, then give up.
            refused = isinstance(exc, ParseError) or exc.status in STALE_NONCE_STATUSES
            if not (cached and refused):
                raise
            cache.delete(_nonce_key(client))
            fresh = True


@contextmanager
def _client_or(client: OriginClient | None, *, viewer: bool = False) -> Iterator[OriginClient]:
    if client is not None:
        yield client
        return
    base = current_base_url()
    with make_viewer_client(base) if viewer else make_client(base) as own:
        yield own


def resolve_mirror(*, link_id: int, client: OriginClient | None = None, force: bool = False) -> str:
    """The embed URL of a stream mirror, resolved through the origin's admin-ajax protocol.

    A recent resolution is reused; a failure leaves the stored link as it was (only its
    `last_error` says why) and raises MirrorError. Without a ``client`` this is a viewer
    waiting: a viewer-lane client (see make_viewer_client), and MirrorBusy at once when the
    origin's request budget has no slot for it within SCRAPER_VIEWER_MAX_WAIT.
    """
    link = StreamLink.objects.select_related("episode").filter(pk=link_id).first()
    if link is None:
        raise MirrorError(f"mirror {link_id} does not exist")
    now = timezone.now()
    if (
        not force
        and link.embed_url
        and link.resolved_at
        and now - link.resolved_at < RESOLVED_FRESH_FOR
    ):
        return link.embed_url
    try:
        with _client_or(client, viewer=True) as c:
            url = _resolve_embed(c, link)
    except BudgetExhausted as exc:
        # Not the mirror's fault: its last_error stays as it was.
        logger.info("mirror %s: request budget spent (%s)", link.pk, exc)
        raise MirrorBusy(str(exc), retry_after=exc.retry_after, cached_url=link.embed_url) from exc
    except (ClientError, ParseError) as exc:
        reason = f"{type(exc).__name__}: {exc}"[:500]
        StreamLink.objects.filter(pk=link.pk).update(last_error=reason)
        logger.warning("mirror %s (%s) not resolved: %s", link.pk, link, reason)
        raise MirrorError(reason) from exc
    remember_embed_hosts([url])
    StreamLink.objects.filter(pk=link.pk).update(embed_url=url, resolved_at=now, last_error="")
    return url


def resolve_recent(*, recent: int, client: OriginClient | None = None) -> tuple[int, int]:
    """Pre-resolve the mirrors of the `recent` newest episodes: (resolved, failed)."""
    episode_ids = list(Episode.objects.newest().values_list("pk", flat=True)[:recent])
    link_ids = list(
        StreamLink.objects.filter(episode_id__in=episode_ids, embed_url="").values_list(
            "pk", flat=True
        )
    )
    resolved = failed = streak = 0
    with _client_or(client) as c:
        for link_id in link_ids:
            try:
                resolve_mirror(link_id=link_id, client=c)
                resolved += 1
                streak = 0
            except MirrorError:
                failed += 1
                streak += 1
                if streak >= 5:  # the origin is down or blocking: stop asking
                    logger.warning("5 mirrors failed in a row; stopping")
                    break
    return resolved, failed
