"""Issue 11 item 1: a dead run does not block updates. A crawl killed with SIGKILL (OOM,
reboot, `docker kill`) is recognised as dead (its process is gone on this host, or its
heartbeat is too old on any host), closed as ``interrupted``, its lock is taken over, and
the next run goes ahead at once instead of being skipped for hours.

The first tests use the test database and monkeypatched crawls; the operation tests kill
real `manage.py scrape full` and `qcluster` processes crawling a slow fake origin, on a
private MariaDB and Redis."""

from __future__ import annotations

import datetime
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache
from django.db import OperationalError, transaction
from django.db.models import QuerySet
from django.test import override_settings
from django.utils import timezone

from catalog.models import Anime, ScrapeRun
from scraper import locks, runs, tasks
from scraper.crawl import CrawlResult
from tests.fake_origin import FakeOrigin
from tests.procs import manage, start_manage, wait_until
from tests.runs_helpers import Backends, backends, make_site  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db(transaction=True)


def dead_pid() -> int:
    """The pid of a process of this host that has exited (and been reaped)."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def fake_run_crawl(calls: list[str]):
    def run_crawl(kind: str, **options: Any) -> CrawlResult:
        calls.append(kind)
        run = options["run"]
        run.status = ScrapeRun.Status.OK
        run.save()
        return CrawlResult.from_run(run)

    return run_crawl


@pytest.fixture
def crawls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    monkeypatch.setattr("scraper.crawl.run_crawl", fake_run_crawl(calls))
    return calls


def test_a_run_whose_process_is_gone_is_closed_and_its_lock_taken_over(crawls: list[str]) -> None:
    owner = f"{runs.HOST}:{dead_pid()}"
    now = timezone.now()
    dead = ScrapeRun.objects.create(kind="ongoing", owner=owner, heartbeat_at=now)
    # Its lock, as the killed crawl left it: still minutes to live.
    holder = {"token": "t-dead", "owner": owner, "since": 0.0, "run": dead.pk}
    assert cache.add(locks.lock_key("crawl:ongoing"), holder, 600)

    run = ScrapeRun.objects.get(pk=tasks.crawl_task("ongoing"))

    assert run.status == ScrapeRun.Status.OK
    assert crawls == ["ongoing"]
    dead.refresh_from_db()
    assert dead.status == ScrapeRun.Status.INTERRUPTED
    assert f"its process {owner} is gone" in dead.errors
    assert dead.finished_at is not None
    assert locks.holder("crawl:ongoing") is None


def test_a_run_on_another_host_blocks_until_its_heartbeat_is_too_old(crawls: list[str]) -> None:
    started = timezone.now() - datetime.timedelta(minutes=30)
    other = ScrapeRun.objects.create(
        kind="full", owner="worker-2:77", started_at=started, heartbeat_at=timezone.now()
    )

    skipped = ScrapeRun.objects.get(pk=tasks.crawl_task("full"))
    assert skipped.status == ScrapeRun.Status.SKIPPED
    # Which run, since when, whose.
    assert f"run #{other.pk} since" in skipped.errors
    assert "owner worker-2:77" in skipped.errors
    assert crawls == []

    stale = runs.stale_seconds() + 5
    ScrapeRun.objects.filter(pk=other.pk).update(
        heartbeat_at=timezone.now() - datetime.timedelta(seconds=stale)
    )
    ran = ScrapeRun.objects.get(pk=tasks.crawl_task("full"))
    assert ran.status == ScrapeRun.Status.OK
    assert crawls == ["full"]
    other.refresh_from_db()
    assert other.status == ScrapeRun.Status.INTERRUPTED
    assert "no heartbeat from worker-2:77" in other.errors


def test_a_run_this_process_left_behind_under_the_same_pid_is_dead(crawls: list[str]) -> None:
    # A restarted container counts pids from 1 again: our own pid, but not our run.
    left = ScrapeRun.objects.create(kind="ongoing", owner=runs.owner_id())
    assert ScrapeRun.objects.get(pk=tasks.crawl_task("ongoing")).status == ScrapeRun.Status.OK
    left.refresh_from_db()
    assert left.status == ScrapeRun.Status.INTERRUPTED


def test_a_task_picked_up_while_the_worker_stops_is_skipped(crawls: list[str]) -> None:
    runs.request_stop()
    try:
        run = ScrapeRun.objects.get(pk=tasks.crawl_task("ongoing"))
    finally:
        runs.reset_stop()
    assert run.status == ScrapeRun.Status.SKIPPED
    assert "this process is stopping: stop requested (SIGTERM)" in run.errors
    assert crawls == []


def test_a_lock_lost_by_the_cache_is_taken_again_one_taken_by_another_is_lost() -> None:
    run = ScrapeRun.objects.create(kind="full", owner=runs.owner_id())
    lock = locks.acquire("crawl:full", timeout=60)
    assert lock is not None
    beat = runs.Heartbeat(run.pk, lock, interval=1)

    cache.delete(locks.lock_key("crawl:full"))  # e.g. the broker's Redis restarted empty
    beat.beat()
    assert beat.lost is None
    assert locks.holder("crawl:full").token == lock.token

    cache.set(locks.lock_key("crawl:full"), {"token": "other", "owner": "w-2:1"}, 60)
    beat.beat()
    assert beat.lost == f"run #{run.pk} lost its lock crawl:full"


@pytest.fixture
def scraper_settings(tmp_path: Path) -> Iterator[None]:
    with override_settings(
        SCRAPER_RATE_LIMIT=0,
        SCRAPER_RETRIES=1,
        SCRAPER_COOKIE_PATH=tmp_path / "cookies.json",
        SCRAPER_HEARTBEAT_SECONDS=0.05,
    ):
        yield


def test_the_heartbeat_shows_a_slow_crawl_alive_and_keeps_its_lock(
    scraper_settings: None,
) -> None:
    seen: list[tuple[datetime.datetime | None, bool]] = []
    with FakeOrigin(seed=4, size=3) as origin:
        origin.slow(0.15)

        def progress(_event: object) -> None:
            run = ScrapeRun.objects.filter(status=ScrapeRun.Status.RUNNING).get()
            seen.append((run.heartbeat_at, locks.holder("crawl:full") is not None))

        with override_settings(OTAKUDESU_BASE_URL=origin.base_url):
            claim = runs.claim("full", lock="crawl:full", arguments={})
            assert claim.run is not None
            from scraper.crawl import run_crawl

            with claim.alive():
                run = run_crawl("full", run=claim.run, progress=progress)
    assert run.status == ScrapeRun.Status.OK
    beats = {at for at, _ in seen}
    assert len(beats) > 3, "the heartbeat did not advance while the crawl ran"
    assert all(held for _, held in seen)
    assert ScrapeRun.objects.get(pk=run.run_id).owner == runs.owner_id()
    assert locks.holder("crawl:full") is None


def test_a_run_another_process_closed_as_dead_stops_its_crawl(scraper_settings: None) -> None:
    # E.g. frozen (SIGSTOP) for longer than the stale bound: another process closed it and
    # may be crawling now; the crawl that wakes up must not carry on beside it.
    with FakeOrigin(seed=4, size=6) as origin:
        origin.slow(0.05)
        closed: list[int] = []

        def progress(event: Any) -> None:
            if event.done >= 1 and not closed:
                run = ScrapeRun.objects.get(status=ScrapeRun.Status.RUNNING)
                # As another process closes it: retried if MariaDB picks it as a deadlock
                # victim against the heartbeat's update of the same row.
                rows = ScrapeRun.objects.filter(pk=run.pk)
                runs.update_run_rows(rows, status=ScrapeRun.Status.INTERRUPTED)
                closed.append(run.pk)

        with override_settings(OTAKUDESU_BASE_URL=origin.base_url):
            claim = runs.claim("full", lock="crawl:full", arguments={})
            assert claim.run is not None
            from scraper.crawl import CrawlStopped, run_crawl

            with pytest.raises(CrawlStopped, match="closed by another process"), claim.alive():
                run_crawl("full", run=claim.run, progress=progress, should_stop=claim.stop_reason)
    run = ScrapeRun.objects.get(pk=closed[0])
    assert run.status == ScrapeRun.Status.INTERRUPTED
    assert 1 <= Anime.objects.count() < 6  # stopped well before the end
    assert locks.holder("crawl:full") is None


# What another process writes when it closes a run it took for dead.
VERDICT = "interrupted: no heartbeat from elsewhere:1 for 300 s; closed by other:2"


def close_as_another_process(run_id: int) -> datetime.datetime:
    """Close a running run as another process does when it took it for dead (its end: a
    minute ago); returns that end."""
    end = timezone.now() - datetime.timedelta(minutes=1)
    runs.update_run_rows(
        ScrapeRun.objects.filter(pk=run_id),
        status=ScrapeRun.Status.INTERRUPTED,
        finished_at=end,
        errors=VERDICT,
        error_count=1,
    )
    return end


def test_a_crawl_never_reopens_a_run_another_process_closed(scraper_settings: None) -> None:
    # Its heartbeat thread aside (not running here), the crawl's own progress saves find
    # out: they must not write "running" back over the other process's verdict, and the
    # crawl stops rather than carry on beside whoever took the work over.
    with FakeOrigin(seed=4, size=6) as origin:
        closed: list[tuple[int, datetime.datetime]] = []

        def progress(event: Any) -> None:
            if event.done >= 1 and not closed:
                run = ScrapeRun.objects.get(status=ScrapeRun.Status.RUNNING)
                closed.append((run.pk, close_as_another_process(run.pk)))

        with override_settings(OTAKUDESU_BASE_URL=origin.base_url):
            claim = runs.claim("full", lock="crawl:full", arguments={})
            assert claim.run is not None
            from scraper.crawl import CrawlStopped, run_crawl

            with pytest.raises(CrawlStopped, match="closed by another process") as stopped:
                run_crawl("full", run=claim.run, progress=progress)
            claim.release()
    [(pk, end)] = closed
    run = ScrapeRun.objects.get(pk=pk)
    assert run.status == ScrapeRun.Status.INTERRUPTED
    assert run.finished_at == end  # the closer's end, not ours
    lines = run.errors.splitlines()
    assert lines[0] == VERDICT
    assert any("was closed by another process" in line for line in lines[1:])
    assert run.error_count == len(lines)
    assert run.pages_fetched > 0  # our counts were still recorded
    assert stopped.value.result.status == ScrapeRun.Status.INTERRUPTED
    assert 1 <= Anime.objects.count() < 6


def test_closing_a_dead_run_survives_a_deadlock_on_its_row(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # MariaDB rolls one of two statements updating the run row together back with error
    # 1213 ("try restarting the transaction"): closing the dead run must not fail the claim.
    owner = f"{runs.HOST}:{dead_pid()}"
    dead = ScrapeRun.objects.create(kind="full", owner=owner, heartbeat_at=timezone.now())
    real_update = QuerySet.update
    conflicts = [OperationalError(1213, "Deadlock found when trying to get lock")]

    def update(self: QuerySet[Any], **values: Any) -> int:
        if self.model is ScrapeRun and conflicts:
            raise conflicts.pop()
        return real_update(self, **values)

    monkeypatch.setattr(QuerySet, "update", update)
    claim = runs.claim("full", lock="crawl:full", arguments={})
    assert claim.run is not None, claim.blocker
    claim.release()
    dead.refresh_from_db()
    assert dead.status == ScrapeRun.Status.INTERRUPTED
    assert not conflicts  # the conflict did happen


def test_a_lock_conflict_inside_a_transaction_is_left_to_its_owner(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Inside a transaction the server rolled the whole transaction back: sending the one
    # statement again would commit half of it.
    run = ScrapeRun.objects.create(kind="full", owner="elsewhere:1")
    calls: list[int] = []

    def update(self: QuerySet[Any], **values: Any) -> int:
        calls.append(1)
        raise OperationalError(1213, "Deadlock found when trying to get lock")

    monkeypatch.setattr(QuerySet, "update", update)
    with pytest.raises(OperationalError), transaction.atomic():
        runs.update_run_rows(ScrapeRun.objects.filter(pk=run.pk), heartbeat_at=timezone.now())
    assert calls == [1]


def test_a_task_ending_after_another_process_closed_its_run_keeps_that_verdict(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The mirror check frozen past the stale bound: another process closed its run. When
    # it wakes up and ends, its "ok" must not overwrite that, but its numbers still count.
    from scraper import health

    ends: list[datetime.datetime] = []

    def check_mirrors(limit: int | None = None) -> Any:
        run = ScrapeRun.objects.get(kind="check_mirrors", status=ScrapeRun.Status.RUNNING)
        ends.append(close_as_another_process(run.pk))
        return health.CheckSummary(checked=7, changed=2, dead=1, requests=7)

    monkeypatch.setattr(health, "check_mirrors", check_mirrors)
    run = ScrapeRun.objects.get(pk=tasks.check_mirrors_task())
    assert run.status == ScrapeRun.Status.INTERRUPTED
    assert run.finished_at == ends[0]
    assert run.errors.splitlines()[0] == VERDICT
    assert run.pages_fetched == 7
    assert run.updated == 2
    assert locks.holder("check_mirrors") is None


# --------------------------------------------------------------------------- real processes


SHELL_CRAWL = (
    "from catalog.models import ScrapeRun; from scraper.tasks import crawl_task; "
    "run = ScrapeRun.objects.get(pk=crawl_task('full', base_url='{url}')); "
    "print('RESULT', run.pk, run.status)"
)


@pytest.mark.operation
@pytest.mark.django_db(transaction=False)
def test_a_killed_scrape_full_does_not_block_the_scheduled_crawl(
    backends: Backends,  # noqa: F811
    tmp_path: Path,
) -> None:
    site = make_site(backends, tmp_path)
    with FakeOrigin(seed=5, size=10) as origin:
        origin.slow(0.25)
        scrape = start_manage(
            site.env, tmp_path, "scrape", "full", "--base-url", origin.base_url, name="scrape"
        )
        try:
            wait_until(lambda: site.anime_count() >= 2, "two anime stored", process=scrape.process)
        finally:
            scrape.kill()  # SIGKILL, as the OOM killer or `docker kill`
        [dead] = site.runs("full")
        assert dead["status"] == "running"  # nobody could close it

        origin.slow(0)
        # The worker's task (what the schedule calls), started right after the kill.
        result = manage(site.env, "shell", "-c", SHELL_CRAWL.format(url=origin.base_url))

    line = next(x for x in result.stdout.splitlines() if x.startswith("RESULT"))
    assert line.split()[2] == "ok", result.stdout + result.stderr
    by_id = {row["id"]: row for row in site.runs("full")}
    assert by_id[dead["id"]]["status"] == "interrupted"
    assert "is gone" in by_id[dead["id"]]["errors"]
    assert site.anime_count() == 10
    assert site.locks() == []


QUEUE_CRAWL = (
    "from django_q.tasks import async_task; "
    "async_task('scraper.tasks.crawl_task', 'full', base_url='{url}')"
)


@pytest.mark.operation
@pytest.mark.django_db(transaction=False)
def test_a_killed_worker_does_not_block_the_next_workers_crawl(
    backends: Backends,  # noqa: F811
    tmp_path: Path,
) -> None:
    # `docker kill` of the worker container mid-crawl, then the container starts again.
    site = make_site(backends, tmp_path, Q_WORKERS="1")
    with FakeOrigin(seed=6, size=10) as origin:
        origin.slow(0.25)
        worker = start_manage(site.env, tmp_path, "qcluster", name="qcluster")
        try:
            manage(site.env, "shell", "-c", QUEUE_CRAWL.format(url=origin.base_url))
            wait_until(lambda: site.anime_count() >= 2, "two anime stored", process=worker.process)
        finally:
            worker.kill()  # the whole process group: cluster, sentinel, workers
        [dead] = site.runs("full")
        assert dead["status"] == "running"

        origin.slow(0)
        worker = start_manage(site.env, tmp_path, "qcluster", name="qcluster-2")
        try:
            manage(site.env, "shell", "-c", QUEUE_CRAWL.format(url=origin.base_url))
            wait_until(
                lambda: len(site.runs("full")) == 2 and site.runs("full")[1]["status"] != "running",
                "the second crawl finished",
                process=worker.process,
            )
        finally:
            worker.stop()
    first, second = site.runs("full")
    assert second["status"] == "ok", second
    assert first["status"] == "interrupted"
    assert "is gone" in first["errors"]
    assert site.anime_count() == 10
    assert site.locks() == []
