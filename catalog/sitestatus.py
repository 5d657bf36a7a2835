"""How fresh the catalogue is: the last successful crawl and the state of the latest run.

Pages show it (the "data as of" notice, the empty home page) and /healthz reports it;
catalog/pagecache.py keeps it for a few seconds, as a notice may lag that much.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Subquery
from django.utils import timezone

from catalog.models import ScrapeRun


@dataclass(frozen=True)
class SiteStatus:
    last_ok_at: datetime | None
    latest_status: str | None
    latest_errors: str

    @property
    def age(self) -> timedelta | None:
        return None if self.last_ok_at is None else timezone.now() - self.last_ok_at

    @property
    def is_stale(self) -> bool:
        age = self.age
        return age is not None and age > timedelta(minutes=settings.STALE_AFTER_MINUTES)

    @property
    def origin_unreachable(self) -> bool:
        # Only meaningful on an empty catalogue: a failed run with nothing stored means
        # the origin could not be reached, and the useful advice is the offline demo.
        return self.latest_status == ScrapeRun.Status.FAILED

    @property
    def crawl_running(self) -> bool:
        return self.latest_status == ScrapeRun.Status.RUNNING

    @property
    def page_token(self) -> str:
        """What a cached page shows of this status: a page rendered under another token
        is rendered again (its notice would be wrong)."""
        finished = self.last_ok_at.isoformat() if self.last_ok_at else "-"
        return f"{finished}:{int(self.is_stale)}"


def read() -> SiteStatus:
    """The status from the database (one query): the newest run, with the newest
    successful finish as a subquery."""
    last_ok = (
        # A partial run (some pages failed) still brought the catalogue up to date.
        ScrapeRun.objects.filter(
            status__in=[ScrapeRun.Status.OK, ScrapeRun.Status.PARTIAL], finished_at__isnull=False
        )
        .order_by("-finished_at")
        .values("finished_at")[:1]
    )
    latest = (
        ScrapeRun.objects.order_by("-started_at", "-id")
        .annotate(last_ok=Subquery(last_ok))
        .values("status", "errors", "last_ok")
        .first()
    )
    return SiteStatus(
        last_ok_at=latest["last_ok"] if latest else None,
        latest_status=latest["status"] if latest else None,
        latest_errors=(latest["errors"] if latest else "")[:500],
    )
