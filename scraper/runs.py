"""Who runs a piece of background work, whether it is still alive, and how it is stopped
(README.md, "Operating it").

A running ScrapeRun names its owner (``host:pid``) and a heartbeat thread refreshes its
``heartbeat_at`` and its lock. It is dead when its owner on this host is gone, or its
heartbeat is older than ``SCRAPER_RUN_STALE_SECONDS``; every run closes the dead ones it
finds as ``interrupted`` and takes over their locks, so a killed crawl blocks the next one
for minutes at most. A stop request (SIGTERM) sets a flag shared by the cluster's
processes; the crawl checks it before each page and ends ``interrupted``.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import multiprocessing
import os
import signal
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import DatabaseError, OperationalError, connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from catalog.models import ScrapeRun
from scraper import locks

__all__ = [
    "Claim",
    "Heartbeat",
    "claim",
    "close_dead_runs",
    "dead_reason",
    "live_run",
    "owner_id",
    "request_stop",
    "save_record",
    "stop_on_signals",
    "stop_requested",
    "update_run_rows",
]

logger = logging.getLogger("scraper.runs")

HOST = locks.HOST
owner_id = locks.owner_id


def heartbeat_seconds() -> float:
    return float(getattr(settings, "SCRAPER_HEARTBEAT_SECONDS", 15))


def stale_seconds() -> float:
    return float(getattr(settings, "SCRAPER_RUN_STALE_SECONDS", 120))


def pid_alive(pid: int) -> bool:
    """Is process ``pid`` of this host running? A zombie (dead, not yet reaped) is not."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, under another user
    with contextlib.suppress(OSError, IndexError):
        stat = open(f"/proc/{pid}/stat").read()  # noqa: PTH123, SIM115 - tiny procfs read
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    return True


# MariaDB's "deadlock found": the server rolled the statement back at once, and an
# autocommitted statement can simply be sent again. Not "lock wait timeout" (1205): that
# one comes after innodb_lock_wait_timeout (50 s) and is not worth waiting through again.
_LOCK_CONFLICTS = frozenset({1213})
LOCK_CONFLICT_TRIES = 3


def update_run_rows(rows: QuerySet[ScrapeRun], **values: Any) -> int:
    """``rows.update(**values)``, sent again when MariaDB picks it as a deadlock victim.

    The liveness writes (a heartbeat, closing a dead run) update a run row that the crawl
    and other processes update at the same moment; InnoDB may then roll one of them back
    with error 1213, which means "try again", not "failed". Inside a transaction the whole
    transaction was rolled back, so there the error is raised for its owner to handle."""
    for _ in range(LOCK_CONFLICT_TRIES - 1):
        try:
            return rows.update(**values)
        except OperationalError as exc:
            if (exc.args[0] if exc.args else None) not in _LOCK_CONFLICTS:
                raise
            if connection.in_atomic_block:
                raise
            logger.info("run update hit a lock conflict (%s), trying again", exc)
    return rows.update(**values)


# What the work's saves write into its run's row; the rest is the claim's (kind, owner, start).
RECORDED = (
    *("pages_fetched", "requests_made", "created", "updated", "unchanged", "layout_alarms"),
    *("error_count", "errors", "arguments", "base_url", "dry_run"),
)


def save_record(run: ScrapeRun, *, final: bool = False) -> str | None:
    """Save what the work recorded in ``run`` (with ``final``, its status and end too),
    only while the row is still running: a whole-row save would bring a run another
    process closed (it took this one for dead) back to "running", and an end would
    overwrite that process's verdict. Returns None, or why the run is no longer this
    process's: then the closer's status, end and reason stay, this work's counts and
    new error lines are added, and ``run`` is updated to match."""
    if run.pk is None:
        run.save()
        return None
    recorded = {name: getattr(run, name) for name in RECORDED}
    # What only a running row may take: a sign of life, and this process's verdict.
    liveness: dict[str, Any] = {"heartbeat_at": run.heartbeat_at}
    if final:
        liveness |= {"status": run.status, "finished_at": run.finished_at}
    rows = ScrapeRun.objects.filter(pk=run.pk)
    if update_run_rows(rows.filter(status=ScrapeRun.Status.RUNNING), **recorded, **liveness):
        return None
    stored = rows.values_list("status", "finished_at", "errors", "error_count").first()
    if stored is None:
        return None  # deleted (by an admin): nothing to keep current
    status, finished_at, errors, error_count = stored
    ours = [line for line in run.errors.split("\n") if line and line not in errors]
    run.status, run.finished_at = status, finished_at
    run.errors = "\n".join(filter(None, [errors, *ours]))
    run.error_count = error_count + len(ours)
    update_run_rows(rows, **recorded | {"errors": run.errors, "error_count": run.error_count})
    lost = f"run #{run.pk} was closed by another process ({status})"
    logger.warning("%s: its verdict stays, this work's counts are added", lost)
    return lost


# Runs this process is running now: a row naming our own pid that is not among them was
# left by an earlier process that had the same pid (a restarted container counts from 1).
_own_runs: set[int] = set()


def dead_reason(run: ScrapeRun, *, now: datetime.datetime | None = None) -> str | None:
    """Why the running ``run`` is not alive any more, or None while it may be."""
    now = now or timezone.now()
    host, _, pid_text = run.owner.rpartition(":")
    if host == HOST and pid_text.isdigit():
        pid = int(pid_text)
        if pid == os.getpid() and run.pk not in _own_runs:
            return f"its process {run.owner} was restarted"
        if pid != os.getpid() and not pid_alive(pid):
            return f"its process {run.owner} is gone"
    last = run.heartbeat_at or run.started_at
    age = (now - last).total_seconds()
    if age > stale_seconds():
        who = run.owner or "an unknown process"
        return f"no heartbeat from {who} for {age:.0f} s"
    return None


def close_dead_runs(kinds: Iterable[str] | None = None) -> list[ScrapeRun]:
    """Mark every running run that is dead as interrupted (``kinds`` limits the search).
    Returns the runs closed. Cheap: only rows still marked running are read."""
    rows = ScrapeRun.objects.filter(status=ScrapeRun.Status.RUNNING)
    if kinds is not None:
        rows = rows.filter(kind__in=list(kinds))
    now = timezone.now()
    closed = []
    for run in rows:
        reason = dead_reason(run, now=now)
        if reason is None:
            continue
        message = f"interrupted: {reason}; closed by {owner_id()}"
        # Only if it is still running: its owner, or another closer, may just have ended it.
        changed = update_run_rows(
            ScrapeRun.objects.filter(pk=run.pk, status=ScrapeRun.Status.RUNNING),
            status=ScrapeRun.Status.INTERRUPTED,
            finished_at=run.heartbeat_at or run.started_at,
            errors="\n".join(filter(None, [run.errors, message])),
            error_count=run.error_count + 1,
        )
        if changed:
            logger.warning("run #%s (%s) %s", run.pk, run.kind, message)
            closed.append(run)
    return closed


def _same_work(run: ScrapeRun, slug: str | None) -> bool:
    return (run.arguments or {}).get("slug") == slug


def live_run(kind: str, slug: str | None = None, *, exclude: int | None = None) -> ScrapeRun | None:
    """The oldest live run of the same work (kind and slug), dead ones closed first."""
    close_dead_runs([kind])
    rows = ScrapeRun.objects.filter(kind=kind, status=ScrapeRun.Status.RUNNING)
    if exclude is not None:
        rows = rows.exclude(pk=exclude)
    return next((r for r in rows.order_by("started_at", "pk") if _same_work(r, slug)), None)


def describe(run: ScrapeRun) -> str:
    """``run #12 since 2026-12-07 10:00:00+07:00, owner web-1:42, heartbeat 8 s ago``."""
    since = timezone.localtime(run.started_at).isoformat(sep=" ", timespec="seconds")
    text = f"run #{run.pk} since {since}"
    if run.owner:
        text += f", owner {run.owner}"
    if run.heartbeat_at:
        age = (timezone.now() - run.heartbeat_at).total_seconds()
        text += f", heartbeat {max(age, 0):.0f} s ago"
    return text


def describe_holder(holder: locks.LockHolder) -> str:
    run = ScrapeRun.objects.filter(pk=holder.run).first() if holder.run else None
    if run is not None:
        return describe(run)
    since = datetime.datetime.fromtimestamp(holder.since, tz=datetime.UTC)
    text = f"lock held since {timezone.localtime(since).isoformat(sep=' ', timespec='seconds')}"
    return text + (f", owner {holder.owner}" if holder.owner else "")


def lock_holder_dead(holder: locks.LockHolder) -> bool:
    """Same host and its process gone: the lock can be taken over at once (other hosts'
    dead locks simply expire: their lifetime is the stale bound)."""
    host, _, pid_text = holder.owner.rpartition(":")
    if host != HOST or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        # Ours, for a run we are not running: left by an earlier process with our pid.
        return holder.run is not None and holder.run not in _own_runs
    return not pid_alive(pid)


# --------------------------------------------------------------------------- stop requests

_mp = multiprocessing.get_context(
    "fork" if "fork" in multiprocessing.get_all_start_methods() else None
)
# The signal number that asked us to stop (0: none). Shared memory created at import, in
# qcluster's main process before it forks: its sentinel and workers see the same value.
_stop_signal = _mp.RawValue("i", 0)


def request_stop(signum: int = signal.SIGTERM) -> None:
    _stop_signal.value = int(signum)


def reset_stop() -> None:
    _stop_signal.value = 0


def stop_requested() -> str | None:
    """Why this process (or its cluster) is stopping, or None."""
    signum = _stop_signal.value
    if not signum:
        return None
    with contextlib.suppress(ValueError):
        return f"stop requested ({signal.Signals(signum).name})"
    return "stop requested"


@contextlib.contextmanager
def stop_on_signals(signals: Iterable[int] = (signal.SIGTERM,)) -> Iterator[None]:
    """Within the block, ``signals`` are a stop request (the crawl ends before its next
    page) instead of a kill; the previous handlers come back after it. Only the main
    thread may set handlers: elsewhere (a command called from a thread) nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, _frame: Any) -> None:
        logger.warning("signal %s: stopping before the next page", signum)
        request_stop(signum)

    previous = {sig: signal.signal(sig, handler) for sig in signals}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
        reset_stop()


# --------------------------------------------------------------------------- heartbeat


class Heartbeat:
    """Writes the run's ``heartbeat_at`` and refreshes its lock every few seconds, from a
    thread: a crawl waiting on a slow page or on the rate limit still shows it is alive.

    ``lost`` says why the run must stop: another process closed it (it looked dead after
    a long freeze) or took its lock; the crawl checks it with the stop request."""

    def __init__(self, run_id: int, lock: locks.CacheLock | None, interval: float) -> None:
        self.run_id = run_id
        self.lock = lock
        self.interval = interval
        self.lost: str | None = None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"heartbeat-{run_id}", daemon=True)

    def start(self) -> Heartbeat:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._done.set()
        self._thread.join(timeout=30)

    def beat(self) -> None:
        try:
            alive = update_run_rows(
                ScrapeRun.objects.filter(pk=self.run_id, status=ScrapeRun.Status.RUNNING),
                heartbeat_at=timezone.now(),
            )
        except DatabaseError as exc:
            # A busy SQLite file or a database restart: try again at the next beat.
            logger.warning("run #%s: heartbeat not written: %s", self.run_id, exc)
            return
        if not alive:
            # Closed by another process (it looked dead), unless the row is merely not
            # visible to this thread's connection (a test's uncommitted transaction).
            status = (
                ScrapeRun.objects.filter(pk=self.run_id).values_list("status", flat=True).first()
            )
            if status is not None:
                self.lost = f"run #{self.run_id} was closed by another process ({status})"
        elif self.lock is not None and not self.lock.refresh(min_gap=0):
            self.lost = f"run #{self.run_id} lost its lock {self.lock.name}"

    def _loop(self) -> None:
        try:
            while not self._done.wait(self.interval):
                self.beat()
                if self.lost:
                    logger.warning("%s: stopping it", self.lost)
                    return
        finally:
            connection.close()  # this thread's own connection


# --------------------------------------------------------------------------- claims


@dataclass
class Claim:
    """The right to run some work: its running ScrapeRun and its lock, or the reason not
    to (``blocker``, e.g. ``run #12 since …, owner web-1:42``)."""

    run: ScrapeRun | None = None
    lock: locks.CacheLock | None = None
    blocker: str | None = None
    forced_past: str | None = None  # with --force: what would have blocked us
    heartbeat: Heartbeat | None = field(default=None, repr=False)

    def stop_reason(self) -> str | None:
        """Why the work must stop now (asked to, or no longer ours), or None."""
        return stop_requested() or (self.heartbeat.lost if self.heartbeat else None)

    @contextlib.contextmanager
    def alive(self) -> Iterator[Claim]:
        """Heartbeat while the block runs; the lock is released at the end, whatever
        happens (a run the block left running is closed by its own code, not here)."""
        assert self.run is not None
        _own_runs.add(self.run.pk)
        self.heartbeat = Heartbeat(self.run.pk, self.lock, heartbeat_seconds()).start()
        try:
            yield self
        finally:
            self.heartbeat.stop()
            _own_runs.discard(self.run.pk)
            if self.lock is not None:
                self.lock.release()

    def release(self) -> None:
        if self.lock is not None:
            self.lock.release()


def lock_name(kind: str, slug: str | None = None) -> str:
    return f"crawl:{kind}:{slug}" if slug else f"crawl:{kind}"


def claim(
    kind: str,
    *,
    lock: str,
    arguments: dict[str, Any],
    base_url: str = "",
    slug: str | None = None,
    force: bool = False,
) -> Claim:
    """Take the lock ``lock`` and create this process's running ScrapeRun for ``kind``,
    unless a live run of the same work exists (then ``blocker`` says which).

    The cache lock (atomic on Redis) keeps processes of every host apart; the check of the
    running rows covers the local-memory cache of a setup without Redis (one lock per
    process), and is made in the same transaction as our row so that two processes
    starting together on SQLite (which serialises writers) cannot both go ahead."""
    stopping = stop_requested()
    if stopping:
        return Claim(blocker=f"this process is stopping: {stopping}")
    close_dead_runs()
    held = locks.acquire(lock, timeout=int(stale_seconds()), is_dead=lock_holder_dead)
    forced_past = None
    if held is None:
        holder = locks.holder(lock)
        reason = describe_holder(holder) if holder else f"lock {lock} is held"
        if not force:
            return Claim(blocker=reason)
        forced_past = reason
    with transaction.atomic():
        other = live_run(kind, slug)
        if other is not None and not force:
            if held is not None:
                held.release()
            return Claim(blocker=describe(other))
        forced_past = forced_past or (describe(other) if other is not None else None)
        now = timezone.now()
        run = ScrapeRun.objects.create(
            kind=kind,
            arguments=arguments,
            base_url=base_url or settings.OTAKUDESU_BASE_URL,
            owner=owner_id(),
            heartbeat_at=now,
            started_at=now,
        )
    if held is not None:
        held.attach(run.pk)
    return Claim(run=run, lock=held, forced_past=forced_past)
