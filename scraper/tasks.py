"""django-q2 task functions: the scheduled and queued work of the worker (qcluster).

Tasks take only simple, picklable arguments (they travel through Redis or the ORM
broker) and delegate to the crawls and the mirror resolver. Every call leaves a ScrapeRun, also when
it skips because the same work is already running (the skip names that run, since when
and its owner): an operator reading the admin sees each scheduled tick and what became of
it. The exception is the planned update's minute tick (freshness_tick_task): a tick that
finds no update due leaves nothing, the update it starts leaves its run as any other.
Who may run, liveness and stop requests: scraper.runs.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.utils import timezone

from catalog.models import ScrapeRun, StreamLink
from scraper import runs

if TYPE_CHECKING:
    from scraper.crawl import CrawlResult

__all__ = [
    "check_mirrors_task",
    "check_reported_mirrors_task",
    "crawl_task",
    "freshness_tick_task",
    "resolve_recent_task",
]

logger = logging.getLogger("scraper.tasks")

# Reported mirrors verified per half-hourly run at most (a wave of reports waits a run).
REPORTED_CHECK_LIMIT = 100


def _max_age(options: dict[str, Any]) -> datetime.timedelta | None:
    """``max_age`` as a timedelta or seconds, or ``max_age_hours``: schedules store
    their arguments as literals, so numbers are the portable spelling."""
    if "max_age_hours" in options:
        hours = options.pop("max_age_hours")
        return None if hours is None else datetime.timedelta(hours=float(hours))
    value = options.pop("max_age", None)
    if value is None or isinstance(value, datetime.timedelta):
        return value
    return datetime.timedelta(seconds=float(value))


def _finished(kind: str, arguments: dict[str, Any], status: str, message: str) -> ScrapeRun:
    now = timezone.now()
    logger.info("%s: %s", kind, message)
    return ScrapeRun.objects.create(
        kind=kind,
        arguments=arguments,
        base_url=arguments.get("base_url") or settings.OTAKUDESU_BASE_URL,
        started_at=now,
        finished_at=now,
        status=status,
        errors=message,
        error_count=int(status == ScrapeRun.Status.FAILED),
        owner=runs.owner_id(),
    )


def _skip(kind: str, arguments: dict[str, Any], reason: str) -> ScrapeRun:
    return _finished(kind, arguments, ScrapeRun.Status.SKIPPED, reason)


def skip_message(kind: str, blocker: str) -> str:
    """``skipped: another ongoing crawl is already running (run #12 since …, owner …)``."""
    return f"skipped: another {kind} crawl is already running ({blocker})"


class RunResult(int):
    """A crawl task's result: the ScrapeRun id (callers look the run up with it) whose
    text names the run's outcome, so django-q's task list tells a partial run (some pages
    failed) from an ok one without opening the run."""

    status: str
    error_count: int

    def __new__(cls, crawl: CrawlResult) -> RunResult:
        return _run_result(crawl.run_id or 0, crawl.status, crawl.error_count)

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled into the broker and the task table: rebuilt from plain values.
        return (_run_result, (int(self), self.status, self.error_count))

    def __str__(self) -> str:
        return f"run #{int(self)} {self.status} ({self.error_count} errors)"

    __repr__ = __str__


def _run_result(pk: int, status: str, error_count: int) -> RunResult:
    result = int.__new__(RunResult, pk)
    result.status, result.error_count = status, error_count
    return result


def crawl_task(kind: str, **options: Any) -> int | None:
    """Run crawl ``kind`` unless one of the same kind is running; returns the ScrapeRun id.

    ``options``: ``base_url``, ``slug``, ``limit``, ``max_age`` (seconds) or
    ``max_age_hours``, ``dry_run``. A fatal crawl error is re-raised after the crawl has
    marked its run failed, so django-q lists the task as failed too. A crawl stopped by
    SIGTERM (the worker stopping) returns normally: its run says ``interrupted``.
    """
    from scraper.crawl import CrawlStopped, run_crawl

    options = dict(options)
    max_age = _max_age(options)
    slug = options.get("slug")
    arguments = {k: v for k, v in options.items() if v is not None}
    if max_age is not None:
        arguments["max_age"] = max_age.total_seconds()
    if kind in {"anime", "episode"} and not slug:
        # A schedule with bad arguments: still leave a trace the admin shows.
        message = f"fatal: crawl {kind} needs a slug"
        _finished(kind, arguments, ScrapeRun.Status.FAILED, message)
        raise ValueError(message)
    claim = runs.claim(
        kind,
        lock=runs.lock_name(kind, slug),
        arguments=arguments,
        base_url=options.get("base_url") or "",
        slug=slug,
    )
    if claim.run is None:
        return _skip(kind, arguments, skip_message(kind, claim.blocker or "")).pk
    with claim.alive():
        try:
            result = run_crawl(
                kind, max_age=max_age, run=claim.run, should_stop=claim.stop_reason, **options
            )
        except CrawlStopped as exc:
            logger.warning("%s crawl stopped: %s", kind, exc)
            return exc.result.run_id if exc.result is not None else claim.run.pk
        except Exception as exc:
            # Bad arguments of a schedule, or a bug: the run still says what happened
            # (a CrawlError has already been recorded by the crawl itself).
            if claim.run.status == ScrapeRun.Status.RUNNING:
                _close(claim.run, ScrapeRun.Status.FAILED, f"fatal: {exc}")
            raise
    logger.info(
        "%s crawl finished: %s (%d created, %d updated, %d errors)",
        kind,
        result.status,
        result.created,
        result.updated,
        result.error_count,
    )
    if result.status == ScrapeRun.Status.PARTIAL:
        logger.warning("%s crawl partial: %s", kind, result.errors[:2000])
    if result.run_id is not None:
        from scraper.posters import queue_after_crawl

        # Posters still missing (new ones, or stored by `manage.py scrape`): their own task.
        queue_after_crawl()
    return RunResult(result)


def freshness_tick_task() -> int | None:
    """The planned ongoing update's tick (every minute): asks the planner
    (:mod:`scraper.freshness`, from what the database knows) whether an update is due and
    runs it when it is; returns its ScrapeRun id, or None when none was due. A tick that
    is not due leaves no ScrapeRun (one a minute would bury the real runs), only a debug
    log line; two workers ticking at once meet at the ongoing crawl's lock as before."""
    from scraper.freshness_state import decide_now

    decision = decide_now()
    if not decision.due:
        logger.debug("ongoing update not due (%s) until %s", decision.reason, decision.next_at)
        return None
    logger.info("ongoing update due: %s", decision.reason)
    return crawl_task("ongoing")


def _close(run: ScrapeRun, status: str, message: str) -> None:
    run.status = status
    run.error_count += 1
    run.errors = "\n".join(filter(None, [run.errors, message]))
    run.finished_at = timezone.now()
    runs.save_record(run, final=True)


@contextmanager
def recorded_run(run: ScrapeRun) -> Iterator[ScrapeRun]:
    """Around non-crawl work in a claimed ``run``: ok when the block ends, failed (with
    the error text) when it raises. The block may set the run's counts and errors."""
    try:
        yield run
    except BaseException as exc:
        status = (
            ScrapeRun.Status.INTERRUPTED
            if isinstance(exc, KeyboardInterrupt)
            else ScrapeRun.Status.FAILED
        )
        _close(run, status, f"fatal: {type(exc).__name__}: {exc}")
        raise
    if run.status == ScrapeRun.Status.RUNNING:
        run.status = ScrapeRun.Status.OK
    run.finished_at = timezone.now()
    run.heartbeat_at = run.finished_at
    runs.save_record(run, final=True)


def _locked(kind: str, arguments: dict[str, Any], work: Callable[[ScrapeRun], None]) -> int:
    claim = runs.claim(kind, lock=kind, arguments=arguments)
    if claim.run is None:
        return _skip(kind, arguments, f"skipped: {kind} is already running ({claim.blocker})").pk
    with claim.alive(), recorded_run(claim.run) as run:
        work(run)
    return run.pk


def resolve_recent_task(recent: int = 50) -> int:
    """Pre-resolve the stream mirrors of the ``recent`` newest episodes, so viewers of new
    episodes never wait for the origin. Returns the ScrapeRun id."""
    from scraper.mirrors import resolve_recent

    def work(run: ScrapeRun) -> None:
        result = resolve_recent(recent=recent)
        resolved, failed = result if isinstance(result, tuple) else (result, 0)
        run.updated = resolved
        run.error_count = failed
        if failed:
            run.errors = f"{failed} mirror(s) could not be resolved (see each link's last error)"

    return _locked("resolve_recent", {"recent": recent}, work)


def check_mirrors_task(limit: int | None = None) -> int:
    """Check that resolved embeds still answer (:mod:`scraper.health`). Returns the
    ScrapeRun id; ``updated`` counts links whose state changed."""
    from scraper.health import check_mirrors

    def work(run: ScrapeRun) -> None:
        summary = check_mirrors(limit=limit)
        run.pages_fetched = summary.checked
        run.requests_made = summary.requests
        run.updated = summary.changed
        run.unchanged = summary.checked - summary.changed
        run.error_count = summary.dead
        run.errors = summary.describe()

    arguments = {"limit": limit} if limit is not None else {}
    return _locked("check_mirrors", arguments, work)


def check_reported_mirrors_task(limit: int = REPORTED_CHECK_LIMIT) -> int | None:
    """Verify the mirrors viewers reported broken since their last check (every half
    hour): a false report then demotes a working mirror for minutes, not until the daily
    check, and a true one marks it dead. Returns the ScrapeRun id; None, and no run
    recorded, when nothing new was reported."""
    from catalog.mirror_reports import reported_first
    from scraper.health import check_mirrors

    resolved = StreamLink.objects.exclude(embed_url="")
    if not reported_first(resolved, unchecked_only=True).exists():
        return None

    def work(run: ScrapeRun) -> None:
        summary = check_mirrors(limit=limit, reported_only=True)
        run.pages_fetched = summary.checked
        run.requests_made = summary.requests
        run.updated = summary.changed + summary.cleared
        run.unchanged = summary.checked - summary.changed
        run.error_count = summary.dead
        run.errors = summary.describe()

    return _locked("check_reported_mirrors", {"limit": limit}, work)
