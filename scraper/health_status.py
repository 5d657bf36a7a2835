"""What the admin's "Kesehatan scraper" page shows (reads only): the last successful update,
the last day's runs and failures by crawl kind, layout alarms with their kept pages, the
alert causes, the origin's current base and its moves, the requests spent against the
budget, and the last database backup."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db.models import Count, F, Q, Sum
from django.utils import timezone

from catalog.models import AlertState, LayoutAlarm, OriginMove, ScrapeRun
from scraper.budget import booked_ahead
from scraper.origin import current_base_url

__all__ = ["BudgetUse", "health_summary"]

_DONE = [ScrapeRun.Status.OK, ScrapeRun.Status.PARTIAL]


@dataclass(frozen=True)
class BudgetUse:
    """Requests the crawls made in a window against what SCRAPER_RATE_LIMIT allows."""

    label: str
    requests: int
    allowed: int | None  # None: no rate limit

    @property
    def percent(self) -> int | None:
        return None if not self.allowed else round(100 * self.requests / self.allowed)


def _budget(now: datetime.datetime) -> list[BudgetUse]:
    rate = float(settings.SCRAPER_RATE_LIMIT or 0)
    uses = []
    for label, window in (("1h", datetime.timedelta(hours=1)), ("24h", datetime.timedelta(1))):
        spent = ScrapeRun.objects.filter(started_at__gte=now - window).aggregate(
            n=Sum("requests_made")
        )["n"]
        allowed = round(rate * window.total_seconds()) if rate else None
        uses.append(BudgetUse(label, int(spent or 0), allowed))
    return uses


def _runs_by_kind(since: datetime.datetime) -> list[Any]:
    return list(
        ScrapeRun.objects.filter(started_at__gte=since, dry_run=False)
        .values("kind")
        .annotate(
            runs=Count("id"),
            ok=Count("id", filter=Q(status=ScrapeRun.Status.OK)),
            partial=Count("id", filter=Q(status=ScrapeRun.Status.PARTIAL)),
            failed=Count("id", filter=Q(status=ScrapeRun.Status.FAILED)),
            interrupted=Count("id", filter=Q(status=ScrapeRun.Status.INTERRUPTED)),
            page_errors=Sum("error_count"),
            layout_alarms=Sum("layout_alarms"),
        )
        .order_by("kind")
    )


def _last_backup() -> Any:
    try:
        from otakusite.backups import last_backup_status
    except ImportError:  # pragma: no cover - a deployment without the backup module
        return None
    try:
        return last_backup_status()
    except (OSError, ValueError):
        return None


def _budget_host(base: str) -> str:
    """The request budget's name for the origin's host (``name:port``, as the client)."""
    parts = urlsplit(base)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{(parts.hostname or '').lower()}:{port}"


def health_summary(*, now: datetime.datetime | None = None) -> dict[str, Any]:
    now = now or timezone.now()
    since = now - datetime.timedelta(days=1)
    done = ScrapeRun.objects.filter(status__in=_DONE, dry_run=False).order_by("-finished_at")
    base = current_base_url()
    return {
        "last_update": done.filter(kind="ongoing").first(),
        "last_success": done.first(),
        "runs_by_kind": _runs_by_kind(since),
        "alarms": LayoutAlarm.objects.select_related("run").defer("html")[:30],
        "alerts": AlertState.objects.order_by(F("since").desc(nulls_last=True), "cause"),
        "origin_base": base,
        "origin_host": urlsplit(base).netloc,
        "configured_base": settings.OTAKUDESU_BASE_URL,
        "moves": OriginMove.objects.all()[:20],
        "budget": _budget(now),
        "rate_limit": settings.SCRAPER_RATE_LIMIT,
        "booked_ahead": booked_ahead(_budget_host(base)),
        "backup": _last_backup(),
    }
