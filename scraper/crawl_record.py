"""A crawl's record: its ScrapeRun kept current while it runs (so the admin shows progress
and liveness) and the result handed back when it ends."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from catalog.models import ScrapeRun
from scraper import runs
from scraper.alarms import keep_page
from scraper.client import OriginClient
from scraper.ingest import Counts
from scraper.locks import owner_id

__all__ = ["CrawlResult", "RunRecorder"]

logger = logging.getLogger("scraper.crawl")
SUMMARY_COUNTS = (
    "pages_fetched",
    "requests_made",
    "created",
    "updated",
    "unchanged",
    "error_count",
)


@dataclass(frozen=True)
class CrawlResult:
    """What a crawl did, as recorded in its ScrapeRun (``run_id`` None in a dry run, which
    records nothing). ``errors`` holds one line per failed page; ``changes`` one line per
    anime a dry run would change."""

    run_id: int | None
    kind: str
    status: str
    base_url: str
    pages_fetched: int
    requests_made: int
    created: int
    updated: int
    unchanged: int
    error_count: int
    errors: str
    changes: tuple[str, ...] = ()
    layout_alarms: int = 0

    @classmethod
    def from_run(cls, run: ScrapeRun, changes: Iterable[str] = ()) -> CrawlResult:
        return cls(
            run_id=run.pk,
            kind=run.kind,
            status=str(run.status),
            base_url=run.base_url,
            pages_fetched=run.pages_fetched,
            requests_made=run.requests_made,
            created=run.created,
            updated=run.updated,
            unchanged=run.unchanged,
            error_count=run.error_count,
            errors=run.errors,
            changes=tuple(changes),
            layout_alarms=run.layout_alarms,
        )


@dataclass
class RunRecorder:
    """Keeps the ScrapeRun of a crawl current (saved every few pages for the admin)."""

    kind: str
    arguments: dict[str, Any]
    base_url: str
    dry_run: bool
    counts: Counts = field(default_factory=Counts)
    errors: list[str] = field(default_factory=list)
    # The running ScrapeRun a caller already created when it claimed the work
    # (scraper.runs.claim); otherwise the recorder creates one.
    run: ScrapeRun | None = None
    # Set when a save found the run closed by another process (which took it for dead):
    # the crawl stops at its next check (Crawler.check_stop).
    lost: str | None = None

    def __post_init__(self) -> None:
        if self.run is None:
            self.run = ScrapeRun(kind=self.kind, owner=owner_id())
        self.run.arguments, self.run.base_url = self.arguments, self.base_url
        self.run.dry_run = self.dry_run
        self._save()

    def _save(self, *, final: bool = False) -> None:
        run = self.run
        assert run is not None
        # A save from the crawl is a sign of life too (and must not write back the start's
        # heartbeat over the ones the heartbeat thread wrote meanwhile).
        run.heartbeat_at = timezone.now()
        run.created, run.updated, run.unchanged = (
            self.counts.created,
            self.counts.updated,
            self.counts.unchanged,
        )
        run.error_count = len(self.errors)
        run.errors = "\n".join(self.errors)
        if self.dry_run:  # a dry run writes nothing, its own record included
            return
        lost = runs.save_record(run, final=final)
        self.lost = self.lost or lost

    def page(self, client: OriginClient) -> None:
        assert self.run is not None
        self.run.pages_fetched += 1
        self.run.requests_made = client.request_count
        if self.run.pages_fetched % 20 == 0:
            self._save()

    def error(self, message: str) -> None:
        logger.warning("%s", message)
        self.errors.append(message)

    def alarm(self, kind: str, path: str, missing: str, html: str | None) -> None:
        """A layout alarm: counted on the run, an error line like any failed page's, and
        ``html`` (the page, when it is the run's first of its kind) kept for an operator."""
        assert self.run is not None
        self.run.layout_alarms += 1
        logger.warning("layout alarm: %s page %s has no %s", kind, path, missing)
        if html is not None and not self.dry_run:
            if self.run.pk is None:
                self._save()
            keep_page(run=self.run, kind=kind, path=path, reason=f"missing {missing}", html=html)

    def finish(self, status: str, client: OriginClient | None = None) -> ScrapeRun:
        assert self.run is not None
        self.run.status = status
        self.run.finished_at = timezone.now()
        if client is not None:
            self.run.requests_made = client.request_count
            self.run.base_url = client.base_url
        self._save(final=True)
        run = self.run
        # The crawl's summary, as fields too: LOG_FORMAT=json makes them one searchable line.
        logger.info(
            "%s crawl run #%s %s: %d pages, %d created, %d updated, %d errors",
            run.kind,
            run.pk,
            status,
            run.pages_fetched,
            run.created,
            run.updated,
            run.error_count,
            extra={
                "event": "crawl",
                "run_id": run.pk,
                "kind": run.kind,
                "status": str(status),
                "dry_run": self.dry_run,
                "counts": {name: getattr(run, name) for name in SUMMARY_COUNTS},
            },
        )
        return run
