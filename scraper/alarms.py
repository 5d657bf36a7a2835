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
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from catalog.models import Episode, LayoutAlarm, ScrapeRun
from scraper import alerts, origin, parsers
from scraper.client import ChallengeError, FetchedPage, FetchError, OriginClient
from scraper.parsers import ParseError
from scraper.parsers.types import AnimeDetail, HomePage

__all__ = ["KEEP_PER_KIND", "PageWatch", "keep_page", "layout_alert", "watch_run"]

T = TypeVar("T")

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
    try:
        alerts.problem(f"layout:{kind}", message)
    except Exception:  # an alert must never stop the crawl that raised it
        logger.exception("layout alert for %s %s failed", kind, path)


def _has_cards(home: HomePage) -> bool:
    return bool(home.ongoing or home.completed)


def _has_episodes(detail: AnimeDetail) -> bool:
    """An anime may be listed before its first episode; one whose page shows no episode
    after we stored some has lost its list."""
    if detail.episodes or detail.batch:
        return True
    return not Episode.objects.filter(anime__slug=detail.slug).exists()


# What a page must hold beyond what its parser demands: parsed but empty is a changed
# layout too (a home without cards, an anime page that lost its episode list).
# Parser -> (page kind, what is missing, the check).
_EXPECTED: dict[Callable[..., Any], tuple[str, str, Callable[[Any], bool]]] = {
    parsers.parse_home: ("home", "anime cards", _has_cards),
    parsers.parse_detail: ("detail", "episode list", _has_episodes),
}

# The page kind a parser's ParseError names, where it differs from the parser's name.
_ALARM_KINDS: dict[Callable[..., Any], str] = {
    parsers.parse_list_page: "list",
    parsers.parse_anime_list: "anime-list",
}

# Entry pages whose canonical link and notice may say the origin moved (scraper.origin).
_HINT_PATHS = frozenset({"/", "/anime-list/"})


class _Recorder(Protocol):  # scraper.crawl_record.RunRecorder
    run: ScrapeRun | None

    def alarm(self, kind: str, path: str, missing: str, html: str | None) -> None: ...


@dataclass
class PageWatch:
    """What one crawl sees of the origin's health: the pages it reads (layout alarms,
    move hints on entry pages), whether a challenge beat it; ``finish`` turns that into
    alerts and recoveries (not for a dry run, which writes nothing)."""

    recorder: _Recorder
    dry_run: bool = False
    challenge_failed: bool = False
    parsed_kinds: set[str] = field(default_factory=set)  # read fine: their alarms clear
    alarm_kinds: set[str] = field(default_factory=set)

    def read(
        self, client: OriginClient, path: str, page: FetchedPage, parser: Callable[[str, str], T]
    ) -> T:
        """Parse a fetched page. An entry page may say the origin moved (followed once
        verified); a page that parses to nothing expected is a layout alarm (recorded,
        then its ParseError goes on like any failed page's)."""
        if path in _HINT_PATHS and not self.dry_run:
            origin.follow_page_hints(client, page.text)
        url = client.origin_url(path)
        try:
            result = parser(page.text, url)
            kind, missing, holds = _EXPECTED.get(parser, ("", "", bool))
            if kind and not holds(result):
                raise ParseError(kind, url, missing)
        except ParseError as exc:
            self._alarm(exc, path, page.text)
            raise
        name = getattr(parser, "__name__", "").removeprefix("parse_")
        self.parsed_kinds.add(_ALARM_KINDS.get(parser, name))
        return result

    def _alarm(self, exc: ParseError, path: str, html: str) -> None:
        first = exc.kind not in self.alarm_kinds
        self.alarm_kinds.add(exc.kind)
        # The first page of a kind in a run is kept: one changed layout fails them all.
        self.recorder.alarm(exc.kind, path, exc.missing, html if first else None)
        if first and not self.dry_run:
            layout_alert(exc.kind, path, exc.missing)

    def finish(self, error: BaseException | None) -> None:
        run = self.recorder.run
        if self.dry_run or run is None:
            return
        watch_run(
            run,
            error,
            challenge_failed=self.challenge_failed,
            parsed_kinds=self.parsed_kinds,
            alarm_kinds=self.alarm_kinds,
        )


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
            # The failing requests began with the run, not when its retries gave up: a
            # run that spent the whole threshold failing alerts at its end.
            began=run.started_at,
        )
    elif run.pages_fetched:
        alerts.recovered("unreachable")
    for kind in sorted(healthy):
        alerts.recovered(f"layout:{kind}")
