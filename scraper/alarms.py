"""Layout alarms and the origin's health as the crawls see it.

A page the origin served that parses to nothing where something was expected (a ParseError,
a home page without cards, an anime page without episodes) is a layout alarm: the run
counts it, the page's raw HTML is kept for an operator (the latest few per page kind), an
alert goes out, and the crawl goes on as for any failed page (the stored data stays as it
was). At the end of a run, what it saw decides the other alerts: origin unreachable (no
page for ALERT_UNREACHABLE_MINUTES), challenge not solved, and their recoveries.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Iterable

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from catalog.models import LayoutAlarm, ScrapeRun
from scraper import alerts
from scraper.client import ChallengeError, FetchError

__all__ = ["KEEP_PER_KIND", "keep_page", "layout_alert", "watch_run"]

logger = logging.getLogger("scraper.alarms")

KEEP_PER_KIND = 5
MAX_HTML_CHARS = 2_000_000  # the A-Z list is under 1 MB; a runaway page is cut


@transaction.atomic
def keep_page(
    *, run: ScrapeRun | None, kind: str, path: str, reason: str, html: str
) -> LayoutAlarm:
    """Store an alarm with its page; only the newest KEEP_PER_KIND of a kind are kept."""
    alarm = LayoutAlarm.objects.create(
        run=run if run is not None and run.pk else None,
        page_kind=kind[:32],
        path=path[:500],
        reason=reason[:500],
        html=html[:MAX_HTML_CHARS],
    )
    older = LayoutAlarm.objects.filter(page_kind=alarm.page_kind).order_by("-created_at", "-id")
    stale = list(older.values_list("pk", flat=True)[KEEP_PER_KIND:])
    if stale:
        LayoutAlarm.objects.filter(pk__in=stale).delete()
    return alarm


def layout_alert(kind: str, path: str, reason: str) -> None:
    message = _(
        "Alarm tata letak: halaman %(kind)s %(path)s tidak terbaca (%(reason)s). "
        "HTML-nya tersimpan di admin, Kesehatan scraper."
    ) % {"kind": kind, "path": path, "reason": reason}
    alerts.problem(f"layout:{kind}", message)


def _chain(error: BaseException | None) -> list[BaseException]:
    found: list[BaseException] = []
    while error is not None and error not in found:
        found.append(error)
        error = error.__cause__ or error.__context__
    return found


def watch_run(
    run: ScrapeRun,
    error: BaseException | None,
    *,
    challenge_failed: bool,
    parsed_kinds: Iterable[str],
    alarm_kinds: Iterable[str],
) -> None:
    """After a crawl (not a dry run): raise or clear the origin's alerts by what it saw."""
    try:
        _watch(run, error, challenge_failed, set(parsed_kinds) - set(alarm_kinds))
    except Exception:  # an alert must never turn a crawl's result into a crash
        logger.exception("origin health alerts after run #%s failed", run.pk)


def _watch(
    run: ScrapeRun, error: BaseException | None, challenge_failed: bool, healthy: set[str]
) -> None:
    base = run.base_url
    if challenge_failed:
        alerts.problem(
            "challenge",
            _("Tantangan Cloudflare di %(base)s tidak terpecahkan: %(error)s")
            % {"base": base, "error": error},
        )
    elif run.pages_fetched:
        alerts.recovered("challenge")
    causes = _chain(error)
    unreachable = (
        not run.pages_fetched
        and any(isinstance(e, FetchError) for e in causes)
        and not any(isinstance(e, ChallengeError) for e in causes)
    )
    if unreachable:
        minutes = float(settings.ALERT_UNREACHABLE_MINUTES)
        alerts.problem(
            "unreachable",
            _("Origin %(base)s tidak terjangkau lebih dari %(minutes)s menit: %(error)s")
            % {"base": base, "minutes": f"{minutes:g}", "error": error},
            after=datetime.timedelta(minutes=minutes),
        )
    elif run.pages_fetched:
        alerts.recovered("unreachable")
    for kind in sorted(healthy):
        alerts.recovered(f"layout:{kind}")
