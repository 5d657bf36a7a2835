"""Mirrors viewers report broken ("Lapor rusak"), and how reports and the health check's
verdict rank an episode's mirrors.

- A report counts once per client, mirror and day (MirrorReport's unique constraint); a
  mirror with at least REPORT_THRESHOLD reports of the last REPORT_WINDOW is *reported*.
- Within its quality group a mirror ranks: working, then reported, then dead (the health
  check's last clear verdict was "gone"); the player starts on a working one.
- The health check re-verifies reported mirrors first (scraper/health.py). A verdict of
  "alive" clears the reports (deleted: the check is the stronger signal, and deleting lets
  those viewers report again should it break later); "dead" keeps them until they age out.
- Pages: an episode page is keyed on Episode.mirrors_version. Only a change of rank bumps
  it (the report that makes a mirror reported, a verdict that changes ok, a clear), never
  every click, and nothing else is touched: the anime page and the lists keep their
  copies. No change is announced for a report (a burst of reports must not make every
  web process re-read its versions): processes see the new version within the near
  cache's MEMO_SECONDS (catalog/nearcache.py). The health check announces once per run.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Max, Q, QuerySet
from django.utils import timezone

from catalog import pagecache
from catalog.models import Episode, MirrorReport, StreamLink

REPORT_WINDOW = datetime.timedelta(days=3)
REPORT_THRESHOLD = 1
# Per client: a viewer reports the two or three mirrors of an episode that fail; a script
# reporting every mirror of the site does not get far.
REPORTS_PER_WINDOW = 10
REPORT_RATE_SECONDS = 600

WORKING, REPORTED, DEAD = 0, 1, 2


def cutoff(now: datetime.datetime | None = None) -> datetime.datetime:
    return (now or timezone.now()) - REPORT_WINDOW


def open_reports_q(now: datetime.datetime | None = None, prefix: str = "") -> Q:
    return Q(**{f"{prefix}reports__created_at__gte": cutoff(now)})


def with_report_counts(
    qs: QuerySet[StreamLink], now: datetime.datetime | None = None
) -> QuerySet[StreamLink]:
    """`qs` with `open_reports`: the reports of the last REPORT_WINDOW."""
    return qs.annotate(open_reports=Count("reports", filter=open_reports_q(now)))


def rank(link: StreamLink) -> int:
    """WORKING, REPORTED or DEAD; `link` annotated by with_report_counts()."""
    if link.ok is False:
        return DEAD
    if getattr(link, "open_reports", 0) >= REPORT_THRESHOLD:
        return REPORTED
    return WORKING


def client_key(network: str, day: datetime.date) -> str:
    """Keyed with SECRET_KEY and the day: equal for one client within a day only."""
    message = f"mirror-report|{network}|{day.isoformat()}".encode()
    return hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).hexdigest()[:32]


@dataclass(frozen=True)
class ReportOutcome:
    counted: bool  # False: this client had already reported this mirror today
    reports: int  # open reports of the mirror now
    rank_changed: bool  # this report made the mirror "reported": its page changed


@transaction.atomic
def report_mirror(
    *, link_id: int, network: str, now: datetime.datetime | None = None
) -> ReportOutcome:
    """Record one client's report. Raises StreamLink.DoesNotExist for an unknown id."""
    now = now or timezone.now()
    # The row lock orders concurrent reports of one mirror: exactly one of them sees the
    # count reach the threshold and bumps the page.
    link = StreamLink.objects.select_for_update().only("pk", "episode_id", "ok").get(pk=link_id)
    day = timezone.localdate(now)
    try:
        with transaction.atomic():
            MirrorReport.objects.create(
                link=link, client=client_key(network, day), day=day, created_at=now
            )
        counted = True
    except IntegrityError:
        counted = False
    reports = MirrorReport.objects.filter(link=link, created_at__gte=cutoff(now)).count()
    changed = counted and reports == REPORT_THRESHOLD and link.ok is not False
    if changed:
        bump_mirror_order(episode_ids=[link.episode_id], announce=False)
    return ReportOutcome(counted=counted, reports=reports, rank_changed=changed)


def bump_mirror_order(*, episode_ids: Iterable[int], announce: bool = True) -> None:
    ids = set(episode_ids)
    if ids:
        # updated_at too: the page's Last-Modified (a client revalidating by date alone
        # must not get a 304 for the old order) and the sitemap's lastmod.
        Episode.objects.filter(pk__in=ids).update(
            mirrors_version=F("mirrors_version") + 1, updated_at=timezone.now()
        )
    if ids and announce:
        transaction.on_commit(pagecache.announce_change)


@transaction.atomic
def clear_reports(*, link_ids: Iterable[int]) -> int:
    """Delete the reports of these mirrors (an admin's action, or the health check found
    them alive); their episodes' pages re-rank. Returns the reports deleted."""
    ids = set(link_ids)
    reported = StreamLink.objects.filter(pk__in=ids, reports__isnull=False)
    episode_ids = set(reported.values_list("episode_id", flat=True))
    deleted, _ = MirrorReport.objects.filter(link_id__in=ids).delete()
    bump_mirror_order(episode_ids=episode_ids)
    return deleted


@transaction.atomic
def prune_reports(*, now: datetime.datetime | None = None) -> int:
    """Delete reports older than REPORT_WINDOW (they no longer count); the pages of
    mirrors that thereby stop being reported re-rank."""
    old = MirrorReport.objects.filter(created_at__lt=cutoff(now))
    link_ids = set(old.values_list("link_id", flat=True))
    deleted, _ = old.delete()
    still = set(MirrorReport.objects.filter(link_id__in=link_ids).values_list("link_id", flat=True))
    gone = StreamLink.objects.filter(pk__in=link_ids - still)
    bump_mirror_order(episode_ids=gone.values_list("episode_id", flat=True))
    return deleted


def reported_first(
    qs: QuerySet[StreamLink], now: datetime.datetime | None = None, *, unchecked_only: bool = False
) -> Any:
    """Mirrors of `qs` with open reports, the most reported first (the health check's
    first batch); `unchecked_only`: only those reported since their last check."""
    counted = with_report_counts(qs, now).filter(Q(open_reports__gte=REPORT_THRESHOLD))
    if unchecked_only:
        counted = counted.annotate(last_report=Max("reports__created_at")).filter(
            Q(checked_at__isnull=True) | Q(checked_at__lt=F("last_report"))
        )
    return counted.order_by(F("open_reports").desc(), "pk")
