"""Worker tasks: the overlap lock, a crawl through the django-q2 ORM broker in sync mode
against the fake origin, mirror resolution and health checks, and stale-while-error (a
failing crawl leaves every stored row as it was)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import override_settings
from django_q.conf import Conf
from django_q.models import Task
from django_q.tasks import async_task

from catalog.models import Anime, EmbedHost, Episode, ScrapeRun, StreamLink
from scraper import locks, runs, tasks
from scraper.crawl import CrawlResult
from tests.fake_origin import FakeOrigin

pytestmark = pytest.mark.django_db(transaction=True)


class LocmemClock:
    """Stands in for the `time` module of Django's local-memory cache (and of
    scraper.locks), so lock expiry is tested by moving a clock instead of waiting."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def time(self) -> float:
        return self.now

    monotonic = time


@pytest.fixture
def locmem_clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocmemClock]:
    clock = LocmemClock()
    caches = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "lock-expiry-tests",
        }
    }
    with override_settings(CACHES=caches):
        # Expiry times are computed in backends.base and compared in backends.locmem.
        monkeypatch.setattr("django.core.cache.backends.locmem.time", clock)
        monkeypatch.setattr("django.core.cache.backends.base.time", clock)
        # The lock's own refresh throttle runs on the same clock.
        monkeypatch.setattr("scraper.locks.time", clock)
        cache.clear()
        yield clock


@pytest.fixture
def scraper_settings(tmp_path: Path) -> Iterator[None]:
    """No rate limit (the fake origin is local), few retries, cookies under tmp."""
    with override_settings(
        SCRAPER_RATE_LIMIT=0, SCRAPER_RETRIES=1, SCRAPER_COOKIE_PATH=tmp_path / "cookies.json"
    ):
        yield


@pytest.fixture
def sync_orm_broker(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """django-q2 as `make run` configures it without Redis, but running tasks inline.
    django-q reads Q_CLUSTER once at import (django_q.conf.Conf), so Conf is patched too."""
    q_cluster = {**settings.Q_CLUSTER, "sync": True, "orm": "default"}
    q_cluster.pop("redis", None)
    monkeypatch.setattr(Conf, "SYNC", True)
    monkeypatch.setattr(Conf, "ORM", "default")
    with override_settings(Q_CLUSTER=q_cluster):
        yield


@pytest.fixture
def origin() -> Iterator[FakeOrigin]:
    with FakeOrigin(seed=7, size=8) as server:
        yield server


def fake_run_crawl(calls: list[dict[str, Any]]):
    def run_crawl(kind: str, **options: Any) -> CrawlResult:
        calls.append({"kind": kind, **options})
        # The task hands over the running ScrapeRun it claimed.
        run = options["run"]
        run.status = ScrapeRun.Status.OK
        run.save()
        return CrawlResult.from_run(run)

    return run_crawl


# --------------------------------------------------------------------------- overlap lock


def test_second_crawl_while_the_lock_is_held_is_skipped_and_says_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr("scraper.crawl.run_crawl", fake_run_crawl(calls))
    # Another worker's crawl holds the lock (a lock of the version before holders were
    # named: a bare token, respected until it expires).
    assert cache.add(locks.lock_key(runs.lock_name("ongoing")), "other-worker", 600)

    run = ScrapeRun.objects.get(pk=tasks.crawl_task("ongoing"))

    assert calls == []
    assert run.kind == "ongoing"
    assert run.status == ScrapeRun.Status.SKIPPED
    assert "already running" in run.errors
    assert run.finished_at is not None
    # The other worker's lock is untouched.
    assert cache.get(locks.lock_key("crawl:ongoing")) == "other-worker"


def test_lock_of_a_worker_on_another_host_expires_after_the_stale_bound(
    locmem_clock: LocmemClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Its process cannot be checked from here: only its heartbeat-refreshed lifetime ends it.
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr("scraper.crawl.run_crawl", fake_run_crawl(calls))
    timeout = int(runs.stale_seconds())
    assert timeout <= 300  # minutes, not the hours of a task's timeout
    holder = {"token": "t0", "owner": "other-host:4242", "since": locmem_clock.now, "run": None}
    assert cache.add(locks.lock_key("crawl:ongoing"), holder, timeout)

    locmem_clock.now += timeout - 1
    skipped = ScrapeRun.objects.get(pk=tasks.crawl_task("ongoing"))
    assert skipped.status == ScrapeRun.Status.SKIPPED
    assert "other-host:4242" in skipped.errors

    locmem_clock.now += 2
    ran = ScrapeRun.objects.get(pk=tasks.crawl_task("ongoing"))
    assert ran.status == ScrapeRun.Status.OK
    assert [c["kind"] for c in calls] == ["ongoing"]
    # The other worker, were it to wake up, cannot release a lock that is no longer its own.
    assert locks.acquire("crawl:ongoing", timeout=60) is not None
    stale = locks.CacheLock(name="crawl:ongoing", token="t0", timeout=timeout)
    assert stale.release() is False
    assert stale.refresh(min_gap=0) is False
    assert locks.holder("crawl:ongoing") is not None


def test_lock_is_released_after_a_run_and_refreshed_by_the_heartbeat_while_it_runs(
    locmem_clock: LocmemClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scraper.runs import Heartbeat

    timeout = int(runs.stale_seconds())

    def long_crawl(kind: str, **options: Any) -> CrawlResult:
        # The crawl goes on for longer than the lock's lifetime: each beat refreshes it.
        run, lock = options["run"], locks.holder("crawl:ongoing")
        assert lock is not None
        assert lock.run == run.pk
        beat = Heartbeat(run.pk, locks.CacheLock("crawl:ongoing", lock.token, timeout), 1)
        for _ in range(3):
            locmem_clock.now += timeout - 10
            beat.beat()
            assert beat.lost is None
            assert locks.holder("crawl:ongoing") is not None
        run.status = ScrapeRun.Status.OK
        run.save()
        return CrawlResult.from_run(run)

    monkeypatch.setattr("scraper.crawl.run_crawl", long_crawl)
    tasks.crawl_task("ongoing")
    assert locks.holder("crawl:ongoing") is None


def test_a_running_crawl_recorded_in_the_database_also_blocks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # e.g. a manual `manage.py scrape full`, or a worker process with its own local cache.
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr("scraper.crawl.run_crawl", fake_run_crawl(calls))
    manual = ScrapeRun.objects.create(kind="full", status=ScrapeRun.Status.RUNNING)

    run = ScrapeRun.objects.get(pk=tasks.crawl_task("full"))

    assert calls == []
    assert run.status == ScrapeRun.Status.SKIPPED
    assert f"#{manual.pk}" in run.errors
    assert locks.holder("crawl:full") is None


def test_different_kinds_do_not_block_each_other(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr("scraper.crawl.run_crawl", fake_run_crawl(calls))
    assert cache.add(locks.lock_key("crawl:full"), "other-worker", 600)
    tasks.crawl_task("ongoing")
    assert [c["kind"] for c in calls] == ["ongoing"]


def test_a_task_with_bad_arguments_still_leaves_a_failed_run() -> None:
    with pytest.raises(ValueError, match="slug"):
        tasks.crawl_task("anime")
    run = ScrapeRun.objects.get(kind="anime")
    assert run.status == ScrapeRun.Status.FAILED
    assert "slug" in run.errors
    assert locks.holder("crawl:anime") is None


# --------------------------------------------------------------------------- real crawls


def test_crawl_task_on_the_orm_broker_in_sync_mode_fills_the_database(
    origin: FakeOrigin, scraper_settings: None, sync_orm_broker: None
) -> None:
    task_id = async_task("scraper.tasks.crawl_task", "full", base_url=origin.base_url)

    task = Task.objects.get(id=task_id)
    assert task.success, task.result
    run = ScrapeRun.objects.get(pk=task.result)
    assert run.status == ScrapeRun.Status.OK
    truth = origin.truth
    assert set(Anime.objects.values_list("slug", flat=True)) == set(truth.anime)
    assert set(Episode.objects.values_list("slug", flat=True)) == set(truth.episodes)
    for slug, anime in truth.anime.items():
        assert Anime.objects.get(slug=slug).title == anime.title
    assert locks.holder("crawl:full") is None


def test_mirrors_resolved_then_checked_live_dead_and_unknown_hosts(
    origin: FakeOrigin, scraper_settings: None
) -> None:
    slug = next(iter(origin.truth.anime))
    tasks.crawl_task("anime", slug=slug, base_url=origin.base_url)
    with override_settings(OTAKUDESU_BASE_URL=origin.base_url):
        resolve_run = ScrapeRun.objects.get(pk=tasks.resolve_recent_task(recent=2))
    assert resolve_run.kind == "resolve_recent"
    assert resolve_run.status == ScrapeRun.Status.OK
    resolved = list(StreamLink.objects.exclude(embed_url=""))
    assert resolved, "resolve_recent resolved nothing"
    expected = {m.embed_url for e in origin.truth.episodes.values() for m in e.mirrors}
    assert {link.embed_url for link in resolved} <= expected
    assert EmbedHost.objects.exists()
    # The fake's embed host is no real otakudesu host: an admin approves it (until then it
    # is pending and the check leaves it alone, tests/test_embed_policy.py).
    EmbedHost.objects.update(approved=True)

    dead, foreign, *alive = resolved
    # The embed host answers 404 for a player it does not have.
    gone = urlsplit(dead.embed_url)._replace(path="/embed/removed").geturl()
    StreamLink.objects.filter(pk=dead.pk).update(embed_url=gone)
    foreign_url = "http://unknown-embed.invalid/embed/x/y/"
    StreamLink.objects.filter(pk=foreign.pk).update(embed_url=foreign_url)
    origin.reset_log()

    with override_settings(OTAKUDESU_BASE_URL=origin.base_url):
        run = ScrapeRun.objects.get(pk=tasks.check_mirrors_task())

    assert run.kind == "check_mirrors"
    assert run.status == ScrapeRun.Status.OK
    assert StreamLink.objects.get(pk=dead.pk).ok is False
    assert StreamLink.objects.get(pk=dead.pk).checked_at is not None
    assert "dead" in run.errors
    untouched = StreamLink.objects.get(pk=foreign.pk)
    assert (untouched.ok, untouched.checked_at) == (None, None)
    for link in alive:
        assert StreamLink.objects.get(pk=link.pk).ok is True
    # Only the embed host was contacted, never the unknown one, and never the origin.
    paths = [r.path for r in origin.requests]
    assert len(paths) == len(alive) + 1
    assert all(p.startswith("/embed/") for p in paths)


def test_a_failing_crawl_leaves_stored_rows_as_they_were(
    origin: FakeOrigin, scraper_settings: None
) -> None:
    tasks.crawl_task("full", base_url=origin.base_url)
    before = list(Anime.objects.order_by("slug").values())
    episodes_before = list(Episode.objects.order_by("slug").values())
    origin.stop()

    from scraper.crawl import CrawlError

    with pytest.raises(CrawlError):
        tasks.crawl_task("ongoing", base_url=origin.base_url)

    failed = ScrapeRun.objects.filter(kind="ongoing").latest("started_at")
    assert failed.status == ScrapeRun.Status.FAILED
    assert failed.errors
    assert list(Anime.objects.order_by("slug").values()) == before
    assert list(Episode.objects.order_by("slug").values()) == episodes_before
    # The last successful run is still what /healthz reports the age of.
    last_ok = ScrapeRun.objects.filter(status=ScrapeRun.Status.OK).latest("finished_at")
    assert last_ok.kind == "full"
    assert locks.holder("crawl:ongoing") is None
