"""`manage.py setup_schedules` and `manage.py first_crawl`."""

from __future__ import annotations

import datetime
from io import StringIO

import pytest
from django.conf import settings
from django.core.cache import cache
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone
from django_q.conf import Conf
from django_q.models import OrmQ, Schedule

from catalog.models import Anime, ScrapeRun
from scraper import locks
from scraper.management.commands import first_crawl, setup_schedules

pytestmark = pytest.mark.django_db

NAMES = {
    setup_schedules.ONGOING,
    setup_schedules.FULL,
    setup_schedules.RESOLVE,
    setup_schedules.CHECK,
    setup_schedules.CHECK_REPORTED,
    setup_schedules.BACKUP,
}


@pytest.fixture(autouse=True)
def orm_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    """Queue into the database (also when CI sets REDIS_URL), without running tasks."""
    monkeypatch.setattr(Conf, "ORM", "default")
    monkeypatch.setattr(Conf, "SYNC", False)


def run(command: str) -> str:
    out = StringIO()
    call_command(command, stdout=out)
    return out.getvalue()


def test_running_twice_leaves_one_schedule_of_each() -> None:
    run("setup_schedules")
    first = {s.name: (s.pk, s.next_run) for s in Schedule.objects.all()}
    output = run("setup_schedules")

    assert sorted(Schedule.objects.values_list("name", flat=True)) == sorted(NAMES)
    assert {s.name: (s.pk, s.next_run) for s in Schedule.objects.all()} == first
    assert "unchanged" in output
    assert "created" not in output


def test_schedules_call_the_tasks_at_the_wanted_intervals() -> None:
    run("setup_schedules")
    by_name = {s.name: s for s in Schedule.objects.all()}

    # The planned update: a tick every minute that polls only when the planner says so.
    ongoing = by_name[setup_schedules.ONGOING]
    assert (ongoing.func, ongoing.args) == ("scraper.tasks.freshness_tick_task", None)
    assert (ongoing.schedule_type, ongoing.minutes) == (Schedule.MINUTES, 1)
    full = by_name[setup_schedules.FULL]
    assert (full.func, full.args, full.schedule_type) == (
        "scraper.tasks.crawl_task",
        "'full'",
        Schedule.WEEKLY,
    )
    assert by_name[setup_schedules.RESOLVE].schedule_type == Schedule.HOURLY
    assert by_name[setup_schedules.RESOLVE].func == "scraper.tasks.resolve_recent_task"
    assert by_name[setup_schedules.CHECK].schedule_type == Schedule.DAILY
    assert by_name[setup_schedules.CHECK].func == "scraper.tasks.check_mirrors_task"
    reported = by_name[setup_schedules.CHECK_REPORTED]
    assert (reported.func, reported.schedule_type, reported.minutes) == (
        "scraper.tasks.check_reported_mirrors_task",
        Schedule.MINUTES,
        30,
    )
    backup = by_name[setup_schedules.BACKUP]
    assert (backup.func, backup.schedule_type) == ("otakusite.backups.backup_task", Schedule.DAILY)
    assert timezone.localtime(backup.next_run).hour == settings.BACKUP_HOUR
    # The weekly crawl starts in the quiet hours of the site's time zone, within a week.
    local = timezone.localtime(full.next_run)
    assert (local.weekday(), local.hour) == (0, 3)
    assert timezone.now() < full.next_run <= timezone.now() + datetime.timedelta(weeks=1)


@override_settings(SCRAPER_UPDATE_POLICY="fixed")
def test_fixed_policy_runs_the_ongoing_crawl_every_update_minutes() -> None:
    run("setup_schedules")
    ongoing = Schedule.objects.get(name=setup_schedules.ONGOING)
    assert (ongoing.func, ongoing.args) == ("scraper.tasks.crawl_task", "'ongoing'")
    assert (ongoing.schedule_type, ongoing.minutes) == (Schedule.MINUTES, 30)


def test_switching_policy_updates_the_one_ongoing_schedule_in_place() -> None:
    with override_settings(SCRAPER_UPDATE_POLICY="fixed"):
        run("setup_schedules")
    before = Schedule.objects.get(name=setup_schedules.ONGOING)

    output = run("setup_schedules")
    again = run("setup_schedules")

    after = Schedule.objects.get(name=setup_schedules.ONGOING)
    assert after.pk == before.pk
    assert (after.func, after.args, after.minutes) == ("scraper.tasks.freshness_tick_task", None, 1)
    assert f"{setup_schedules.ONGOING}: updated" in output
    assert f"{setup_schedules.ONGOING}: unchanged" in again
    # The one-minute tick starts within a minute, not after the old 30-minute wait.
    assert after.next_run <= timezone.now() + datetime.timedelta(minutes=1)


@override_settings(SCRAPER_UPDATE_POLICY="fixed")
def test_changed_setting_updates_the_interval_of_the_existing_schedule() -> None:
    run("setup_schedules")
    before = Schedule.objects.get(name=setup_schedules.ONGOING)
    before.next_run = timezone.now() + datetime.timedelta(hours=5)
    before.save()

    with override_settings(SCRAPER_UPDATE_MINUTES=45):
        output = run("setup_schedules")

    after = Schedule.objects.get(name=setup_schedules.ONGOING)
    assert after.pk == before.pk
    assert after.minutes == 45
    assert Schedule.objects.filter(name=setup_schedules.ONGOING).count() == 1
    assert f"{setup_schedules.ONGOING}: updated" in output
    # The new interval applies from now on, not after the old next run.
    assert after.next_run <= timezone.now() + datetime.timedelta(minutes=45)


def test_duplicates_and_obsolete_schedules_of_ours_are_removed_others_kept() -> None:
    Schedule.objects.create(name=setup_schedules.ONGOING, func="scraper.tasks.crawl_task")
    Schedule.objects.create(name=setup_schedules.ONGOING, func="scraper.tasks.crawl_task")
    Schedule.objects.create(name=setup_schedules.PREFIX + "old thing", func="x.y")
    Schedule.objects.create(name="operator's own", func="x.z")

    run("setup_schedules")

    names = list(Schedule.objects.values_list("name", flat=True))
    assert names.count(setup_schedules.ONGOING) == 1
    assert setup_schedules.PREFIX + "old thing" not in names
    assert "operator's own" in names


def test_first_crawl_queues_ongoing_then_full_on_an_empty_catalogue() -> None:
    output = run("first_crawl")

    assert "first crawl queued" in output
    queued = [item for item in OrmQ.objects.all() if item.group() == first_crawl.GROUP]
    assert [item.args() for item in queued] == [("ongoing",)]
    chain = queued[0].task["chain"]
    assert [(func, args) for func, args, _kwargs in chain] == [
        ("scraper.tasks.crawl_task", ("full",))
    ]

    # Run again (make run restarted before the worker picked it up): nothing more queued.
    cache.clear()
    again = run("first_crawl")
    assert "already queued" in again
    assert len([i for i in OrmQ.objects.all() if i.group() == first_crawl.GROUP]) == 1


def test_first_crawl_is_queued_once_by_web_nodes_starting_together(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two web nodes start at once on an empty catalogue: both pass the checks, the one
    that claims the marker second queues nothing."""
    from django.core.cache import caches

    monkeypatch.setattr(first_crawl, "why_not", lambda: None)  # both saw nothing queued
    caches["coordination"].add(first_crawl.QUEUED_MARKER, "other node", 60)
    output = run("first_crawl")
    assert "already queued" in output
    assert OrmQ.objects.count() == 0


def test_first_crawl_says_why_not_when_the_catalogue_has_anime() -> None:
    Anime.objects.create(slug="contoh-anime", title="Contoh Anime")
    output = run("first_crawl")
    assert "not queued" in output
    assert "1 anime" in output
    assert OrmQ.objects.count() == 0


def test_first_crawl_says_why_not_when_a_crawl_is_running() -> None:
    lock = locks.acquire("crawl:full", timeout=60)
    assert lock is not None
    assert "full crawl is already running" in run("first_crawl")
    lock.release()

    ScrapeRun.objects.create(kind="ongoing", status=ScrapeRun.Status.RUNNING)
    assert "ongoing crawl is already running" in run("first_crawl")
    assert OrmQ.objects.count() == 0
