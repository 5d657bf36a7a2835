"""`manage.py setup_schedules`: create or update the worker's recurring tasks.

Idempotent: each schedule is keyed on its name, so running it on every deploy (Compose's
web entrypoint on every web node, `make run`) leaves exactly one of each (nodes starting
together take turns: otakusite/dblock.py), with the interval the settings
ask for now. Schedules whose name carries our prefix but that are no longer wanted are
removed; schedules an operator added by hand under other names are left alone.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone
from django_q.models import Schedule

from otakusite.dblock import database_lock

PREFIX = "otakusite: "
ONGOING = PREFIX + "ongoing update"
FULL = PREFIX + "full crawl"
RESOLVE = PREFIX + "resolve newest mirrors"
CHECK = PREFIX + "mirror health check"
CHECK_REPORTED = PREFIX + "reported mirrors check"
BACKUP = PREFIX + "database backup"

# Quiet hours in the site's time zone (Asia/Jakarta): the origin and our viewers sleep.
FULL_CRAWL_WEEKDAY = 0  # Monday
FULL_CRAWL_HOUR = 3
CHECK_HOUR = 5


@dataclass(frozen=True)
class Spec:
    name: str
    func: str
    schedule_type: str
    minutes: int | None = None
    args: str | None = None
    kwargs: str | None = None
    # First run when the schedule is created: None = soon; else (weekday or None, hour).
    first_at: tuple[int | None, int] | None = None

    def interval(self) -> datetime.timedelta:
        if self.schedule_type == Schedule.MINUTES:
            return datetime.timedelta(minutes=self.minutes or 1)
        return {
            Schedule.HOURLY: datetime.timedelta(hours=1),
            Schedule.DAILY: datetime.timedelta(days=1),
            Schedule.WEEKLY: datetime.timedelta(weeks=1),
        }[self.schedule_type]


def wanted_schedules() -> list[Spec]:
    recent = int(getattr(settings, "SCRAPER_RESOLVE_RECENT", 50))
    return [
        ongoing_spec(),
        # max_age: anime the ongoing updates refreshed in the last day are not fetched again.
        Spec(
            FULL,
            "scraper.tasks.crawl_task",
            Schedule.WEEKLY,
            args="'full'",
            kwargs="max_age_hours=24",
            first_at=(FULL_CRAWL_WEEKDAY, FULL_CRAWL_HOUR),
        ),
        Spec(
            RESOLVE, "scraper.tasks.resolve_recent_task", Schedule.HOURLY, kwargs=f"recent={recent}"
        ),
        Spec(
            CHECK, "scraper.tasks.check_mirrors_task", Schedule.DAILY, first_at=(None, CHECK_HOUR)
        ),
        # Mirrors viewers reported broken since their last check ("Lapor rusak").
        Spec(
            CHECK_REPORTED,
            "scraper.tasks.check_reported_mirrors_task",
            Schedule.MINUTES,
            minutes=30,
        ),
        # The database dump (otakusite/backups.py), daily at BACKUP_HOUR in the site's time.
        Spec(
            BACKUP,
            "otakusite.backups.backup_task",
            Schedule.DAILY,
            first_at=(None, int(settings.BACKUP_HOUR)),
        ),
    ]


def ongoing_spec() -> Spec:
    """The ongoing update: planned, a tick every minute asks scraper.freshness whether to
    poll (SCRAPER_UPDATE_POLICY=planned); fixed, every SCRAPER_UPDATE_MINUTES. Same name
    either way, so switching updates the one schedule in place."""
    policy = getattr(settings, "SCRAPER_UPDATE_POLICY", "planned")
    if policy == "planned":
        return Spec(ONGOING, "scraper.tasks.freshness_tick_task", Schedule.MINUTES, 1)
    minutes = int(settings.SCRAPER_UPDATE_MINUTES)
    if minutes < 1:
        raise CommandError(f"SCRAPER_UPDATE_MINUTES must be at least 1, not {minutes}")
    return Spec(ONGOING, "scraper.tasks.crawl_task", Schedule.MINUTES, minutes, args="'ongoing'")


def first_run(spec: Spec, now: datetime.datetime) -> datetime.datetime:
    if spec.first_at is None:
        return now + datetime.timedelta(minutes=1)
    weekday, hour = spec.first_at
    local = now.astimezone(ZoneInfo(settings.TIME_ZONE))
    candidate = local.replace(hour=hour, minute=0, second=0, microsecond=0)
    if weekday is not None:
        candidate += datetime.timedelta(days=(weekday - candidate.weekday()) % 7)
    while candidate <= local:
        candidate += datetime.timedelta(days=7 if weekday is not None else 1)
    return candidate


def apply_schedules(now: datetime.datetime | None = None) -> dict[str, str]:
    """Bring the Schedule table in line with :func:`wanted_schedules`; returns what
    happened to each name (created, updated, unchanged, removed)."""
    now = now or timezone.now()
    report: dict[str, str] = {}
    specs = wanted_schedules()
    # Every web node runs this at start: on an empty table two nodes would both create a
    # schedule (no row to lock yet), and each copy would fire.
    with database_lock("setup_schedules"), transaction.atomic():
        for spec in specs:
            rows = list(Schedule.objects.select_for_update().filter(name=spec.name).order_by("pk"))
            fields: dict[str, Any] = {
                "func": spec.func,
                "args": spec.args,
                "kwargs": spec.kwargs,
                "schedule_type": spec.schedule_type,
                "minutes": spec.minutes,
                "repeats": -1,
            }
            if not rows:
                Schedule.objects.create(name=spec.name, next_run=first_run(spec, now), **fields)
                report[spec.name] = "created"
                continue
            schedule, extra = rows[0], rows[1:]
            for duplicate in extra:  # left by older code or a double click in the admin
                duplicate.delete()
            changed = {k: v for k, v in fields.items() if getattr(schedule, k) != v}
            if not changed and not extra:
                report[spec.name] = "unchanged"
                continue
            for key, value in changed.items():
                setattr(schedule, key, value)
            if {"schedule_type", "minutes"} & changed.keys():
                # A shorter interval takes effect now, not after the old, longer wait.
                soonest = now + spec.interval()
                if schedule.next_run is None or schedule.next_run > soonest:
                    schedule.next_run = soonest
            schedule.save()
            report[spec.name] = "updated"
        names = {spec.name for spec in specs}
        for stale in Schedule.objects.filter(name__startswith=PREFIX).exclude(name__in=names):
            report[stale.name] = "removed"
            stale.delete()
    return report


class Command(BaseCommand):
    help = "Create or update the django-q2 schedules (ongoing update, full crawl, mirrors)."

    def handle(self, *args: Any, **options: Any) -> None:
        for name, outcome in apply_schedules().items():
            schedule = Schedule.objects.filter(name=name).first()
            when = (
                f", next run {timezone.localtime(schedule.next_run):%Y-%m-%d %H:%M}"
                if (schedule and schedule.next_run)
                else ""
            )
            self.stdout.write(f"{name}: {outcome}{when}")
