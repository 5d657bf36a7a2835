"""Mirror health check: do the resolved stream embeds still answer?

Embed hosts delete videos all the time. Once a day the worker fetches each resolved
embed URL (oldest check first) and records ``StreamLink.ok`` / ``checked_at`` /
``last_error``; the site lists live mirrors first. Mirrors viewers reported broken
("Lapor rusak", catalog/mirror_reports.py) are checked first, whenever they were last
checked: a verdict of alive clears their reports. Only allowed embed hosts (an
``EmbedHost`` an admin approved, or one listed in ``EMBED_HOSTS_ALLOWED``) are ever
contacted, through the one HTTP client and its allowlist; a pending host is skipped. A
check that is inconclusive (the host shows a challenge, the URL is not an embed host)
leaves ``ok`` as it was: only a clear answer marks a mirror dead.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from catalog import mirror_reports
from catalog.embed_policy import allowed_hosts_q
from catalog.models import EmbedHost, StreamLink
from catalog.safe_urls import url_host
from scraper.client import ChallengeError, ClientError, FetchError, OriginClient

__all__ = ["CheckSummary", "check_mirrors"]

logger = logging.getLogger("scraper.health")

DEFAULT_LIMIT = 1000
# Players that answer 200 with a "video is gone" page instead of a 404.
_GONE_MARKERS = re.compile(
    r"file (?:was|has been) (?:deleted|removed)|video (?:not found|has been removed|"
    r"is (?:no longer|not) available)|file not found|file does not exist",
    re.IGNORECASE,
)
_MAX_REPORTED = 50


@dataclass
class CheckSummary:
    checked: int = 0  # links fetched
    alive: int = 0
    dead: int = 0
    inconclusive: int = 0  # fetched but no clear answer (challenge, redirect elsewhere)
    skipped: int = 0  # host not an allowed embed host (unknown or pending): not contacted
    changed: int = 0  # links whose ok flag changed
    reported: int = 0  # links viewers reported, checked first
    cleared: int = 0  # reported links found alive: their reports cleared
    requests: int = 0
    problems: list[str] = field(default_factory=list)

    def describe(self) -> str:
        head = (
            f"{self.checked} checked: {self.alive} alive, {self.dead} dead, "
            f"{self.inconclusive} inconclusive; {self.skipped} skipped (host not allowed); "
            f"{self.reported} reported by viewers, {self.cleared} of them cleared"
        )
        lines = [head, *self.problems[:_MAX_REPORTED]]
        if len(self.problems) > _MAX_REPORTED:
            lines.append(f"... and {len(self.problems) - _MAX_REPORTED} more")
        return "\n".join(lines)


def _health_client() -> OriginClient:
    """Few retries: a dead embed must not cost minutes of backoff, and tomorrow's check
    will look again. No cookie file: embed hosts' cookies are none of the crawl's business."""
    return OriginClient(
        settings.OTAKUDESU_BASE_URL,
        rate=settings.SCRAPER_RATE_LIMIT or None,
        timeout=min(settings.SCRAPER_TIMEOUT, 15),
        retries=1,
        cookie_path=None,
    )


def _verdict(client: OriginClient, url: str) -> tuple[bool | None, str]:
    """(ok, reason): True alive, False dead, None inconclusive."""
    try:
        page = client.fetch_embed(url)
    except ChallengeError as exc:
        return None, f"challenge: {exc}"
    except FetchError as exc:
        # 4xx: the host says the player is gone; 5xx / timeouts after a retry: down now.
        return False, str(exc)
    except ClientError as exc:  # redirected to a host outside the allowlist, closed client
        return None, str(exc)
    if _GONE_MARKERS.search(page.text[:20000]):
        return False, f"HTTP {page.status} but the player says the video is gone"
    return True, ""


def _links_to_check(
    limit: int, *, reported_only: bool
) -> list[tuple[int, int, str, bool | None, bool]]:
    """(pk, episode id, embed URL, ok, reported): reported mirrors first (most reports
    first), then the least recently checked; with `reported_only`, those reported since
    their last check alone."""
    resolved = StreamLink.objects.exclude(embed_url="")
    fields = ("pk", "episode_id", "embed_url", "ok")
    first = mirror_reports.reported_first(resolved, unchecked_only=reported_only)
    reported = [(*row, True) for row in first.values_list(*fields)[:limit]]
    if reported_only:
        return reported
    seen = [row[0] for row in reported]
    rest = (
        resolved.exclude(pk__in=seen)
        .order_by(F("checked_at").asc(nulls_first=True), "pk")
        .values_list(*fields)[: max(0, limit - len(reported))]
    )
    return [*reported, *((*row, False) for row in rest)]


def _rerank(cleared: list[int], changed_episodes: set[int]) -> None:
    """Pages whose mirror order changed are re-rendered (one announcement for the run)."""
    mirror_reports.clear_reports(link_ids=cleared)
    mirror_reports.prune_reports()
    mirror_reports.bump_mirror_order(episode_ids=changed_episodes)


def check_mirrors(
    *, limit: int | None = None, client: OriginClient | None = None, reported_only: bool = False
) -> CheckSummary:
    """Check up to ``limit`` resolved mirrors (default ``MIRROR_CHECK_LIMIT``, 1000):
    those viewers reported first, then the least recently checked. ``reported_only``:
    only mirrors reported since their last check (the half-hourly run)."""
    if limit is None:
        limit = int(getattr(settings, "MIRROR_CHECK_LIMIT", DEFAULT_LIMIT))
    summary = CheckSummary()
    # Only allowed hosts (approved in the admin or listed in EMBED_HOSTS_ALLOWED): a host
    # the origin named but nobody approved is pending, and is not contacted either.
    known = {
        h.lower()
        for h in EmbedHost.objects.filter(allowed_hosts_q()).values_list("host", flat=True)
    }
    links = _links_to_check(limit, reported_only=reported_only)
    cleared: list[int] = []
    changed_episodes: set[int] = set()
    own_client = client is None
    http = client or _health_client()
    start_requests = http.request_count
    try:
        for pk, episode_id, url, was_ok, reported in links:
            summary.reported += reported
            # EmbedHost stores the netloc (host[:port]) the scraper saw in embed URLs.
            host = url_host(url)
            if not host or host not in known:
                summary.skipped += 1
                continue
            http.allow_host(host)
            ok, reason = _verdict(http, url)
            summary.checked += 1
            now = timezone.now()
            if ok is None:
                summary.inconclusive += 1
                summary.problems.append(f"link {pk} {url}: inconclusive: {reason}")
                # ok stays as it was; checked_at moves on so the next run tries others first.
                StreamLink.objects.filter(pk=pk, embed_url=url).update(
                    checked_at=now, last_error=reason[:500]
                )
                continue
            if ok:
                summary.alive += 1
                if reported:
                    cleared.append(pk)
            else:
                summary.dead += 1
                summary.problems.append(f"link {pk} {url}: dead: {reason}")
            if ok != was_ok:
                summary.changed += 1
            if (ok is False) != (was_ok is False):  # dead <-> not dead: the order changes
                changed_episodes.add(episode_id)
            # update(), not save(): a viewer may re-resolve this link meanwhile, and the
            # check must never overwrite its new embed URL.
            StreamLink.objects.filter(pk=pk, embed_url=url).update(
                ok=ok, checked_at=now, last_error=reason[:500]
            )
    finally:
        summary.requests = http.request_count - start_requests
        if own_client:
            http.close()
    summary.cleared = len(cleared)
    _rerank(cleared, changed_episodes)
    logger.info("mirror check: %s", summary.describe().splitlines()[0])
    return summary
