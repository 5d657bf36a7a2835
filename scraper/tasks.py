"""django-q2 task functions: the scheduled and queued work of the worker (qcluster).

Tasks take only simple, picklable arguments (they travel through Redis or the ORM
broker) and delegate to the crawls and services. Every call leaves a ScrapeRun, also when
it skips because the same work is already running: an operator reading the admin sees
each scheduled tick and what became of it.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.utils import timezone

from catalog.models import ScrapeRun
from scraper import locks

__all__ = [
    "check_mirrors_task",
    "crawl_lock_name",
    "crawl_lock_timeout",
    "crawl_task",
    "resolve_recent_task",
]

logger = logging.getLogger("scraper.tasks")

# Lock lifetimes: long enough for a normal run (the crawl refreshes its lock on every
# page anyway), short enough that a dead worker blocks the next runs only briefly.
_LOCK_TIMEOUTS = {"ongoing": 3600, "anime": 1800, "episode": 900}
RESOLVE_LOCK_TIMEOUT = 3600
CHECK_LOCK_TIMEOUT = 3 * 3600


def crawl_lock_name(kind: str, slug: str | None = None) -> str:
    return f"crawl:{kind}:{slug}" if slug else f"crawl:{kind}"


def crawl_lock_timeout(kind: str) -> int:
    """A full crawl may legitimately take as long as django-q lets a task live."""
    if kind == "full":
        return int(settings.Q_CLUSTER.get("timeout") or 6 * 3600)
    return _LOCK_TIMEOUTS.get(kind, 3600)


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
    )


def _skip(kind: str, arguments: dict[str, Any], reason: str) -> ScrapeRun:
    return _finished(kind, arguments, ScrapeRun.Status.SKIPPED, reason)


def _running_elsewhere(kind: str, timeout: int) -> ScrapeRun | None:
    """A recent run of ``kind`` still marked running: a manual ``manage.py scrape`` or,
    with the per-process local-memory cache, a crawl in another worker process."""
    since = timezone.now() - datetime.timedelta(seconds=timeout)
    return (
        ScrapeRun.objects.filter(kind=kind, status=ScrapeRun.Status.RUNNING, started_at__gte=since)
        .order_by("-started_at")
        .first()
    )


def crawl_task(kind: str, **options: Any) -> int | None:
    """Run crawl ``kind`` unless one of the same kind is running; returns the ScrapeRun id.

    ``options``: ``base_url``, ``slug``, ``limit``, ``max_age`` (seconds) or
    ``max_age_hours``, ``dry_run``. A fatal crawl error is re-raised after the crawl has
    marked its run failed, so django-q lists the task as failed too.
    """
    from scraper.crawl import run_crawl

    options = dict(options)
    max_age = _max_age(options)
    slug = options.get("slug")
    arguments = {k: v for k, v in options.items() if v is not None}
    if max_age is not None:
        arguments["max_age"] = max_age.total_seconds()
    name, timeout = crawl_lock_name(kind, slug), crawl_lock_timeout(kind)
    lock = locks.acquire(name, timeout=timeout)
    if lock is None:
        return _skip(kind, arguments, f"skipped: another {kind} crawl is already running").pk
    try:
        if not slug:
            other = _running_elsewhere(kind, timeout)
            if other is not None:
                return _skip(
                    kind,
                    arguments,
                    f"skipped: another {kind} crawl is already running "
                    f"(run #{other.pk} since {other.started_at:%Y-%m-%d %H:%M})",
                ).pk

        def heartbeat(_event: object) -> None:
            lock.refresh()

        try:
            run = run_crawl(kind, max_age=max_age, progress=heartbeat, **options)
        except (ValueError, TypeError) as exc:
            # A schedule with bad arguments: still leave a trace the admin shows.
            _finished(kind, arguments, ScrapeRun.Status.FAILED, f"fatal: {exc}")
            raise
        logger.info(
            "%s crawl finished: %s (%d created, %d updated, %d errors)",
            kind,
            run.status,
            run.created,
            run.updated,
            run.error_count,
        )
        return run.pk
    finally:
        lock.release()


@contextmanager
def recorded_run(kind: str, arguments: dict[str, Any]) -> Iterator[ScrapeRun]:
    """A ScrapeRun around non-crawl work: ok when the block ends, failed (with the error
    text) when it raises. The block may set the run's counts and errors."""
    run = ScrapeRun.objects.create(
        kind=kind, arguments=arguments, base_url=settings.OTAKUDESU_BASE_URL
    )
    try:
        yield run
    except BaseException as exc:
        run.status = (
            ScrapeRun.Status.INTERRUPTED
            if isinstance(exc, KeyboardInterrupt)
            else ScrapeRun.Status.FAILED
        )
        run.error_count += 1
        run.errors = "\n".join(filter(None, [run.errors, f"fatal: {type(exc).__name__}: {exc}"]))
        run.finished_at = timezone.now()
        run.save()
        raise
    if run.status == ScrapeRun.Status.RUNNING:
        run.status = ScrapeRun.Status.OK
    run.finished_at = timezone.now()
    run.save()


def _locked(
    kind: str, timeout: int, arguments: dict[str, Any], work: Callable[[ScrapeRun], None]
) -> int:
    lock = locks.acquire(kind, timeout=timeout)
    if lock is None:
        return _skip(kind, arguments, f"skipped: {kind} is already running").pk
    try:
        with recorded_run(kind, arguments) as run:
            work(run)
        return run.pk
    finally:
        lock.release()


def resolve_recent_task(recent: int = 50) -> int:
    """Pre-resolve the stream mirrors of the ``recent`` newest episodes, so viewers of new
    episodes never wait for the origin. Returns the ScrapeRun id."""
    from scraper.services import resolve_recent

    def work(run: ScrapeRun) -> None:
        result = resolve_recent(recent=recent)
        resolved, failed = result if isinstance(result, tuple) else (result, 0)
        run.updated = resolved
        run.error_count = failed
        if failed:
            run.errors = f"{failed} mirror(s) could not be resolved (see each link's last error)"

    return _locked("resolve_recent", RESOLVE_LOCK_TIMEOUT, {"recent": recent}, work)


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
    return _locked("check_mirrors", CHECK_LOCK_TIMEOUT, arguments, work)
