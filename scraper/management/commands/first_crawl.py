"""`manage.py first_crawl`: fill an empty catalogue in the background.

Queues (for the django-q2 worker) an ongoing update, so the home page fills within
minutes, chained to a full crawl that fills the rest. Does nothing, and says why, when
the catalogue already has anime, a crawl is running, or the first crawl is already
queued (a restarted `make run` or web container must not queue it twice).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.cache import BaseCache, caches
from django.core.management.base import BaseCommand
from django.utils import timezone
from django_q.conf import Conf
from django_q.tasks import async_chain

from catalog.models import Anime
from scraper import locks, runs

GROUP = "first_crawl"
QUEUED_MARKER = "scraper:first_crawl:queued"
QUEUED_MARKER_TIMEOUT = 6 * 3600


def _coordination() -> BaseCache:
    return caches["coordination" if "coordination" in settings.CACHES else "default"]


def _queued() -> bool:
    """Is a first crawl waiting in the queue? The marker (on the coordination Redis, which
    never evicts) covers the Redis broker; the ORM broker's queue is a table we can read."""
    if _coordination().get(QUEUED_MARKER):
        return True
    if Conf.ORM:
        from django_q.models import OrmQ

        return any(item.group() == GROUP for item in OrmQ.objects.all()[:500])
    return False


def why_not() -> str | None:
    """The reason not to queue the first crawl, or None to go ahead."""
    count = Anime.objects.count()
    if count:
        return f"the catalogue already has {count} anime; the schedules keep it fresh"
    for kind in ("ongoing", "full"):
        holder = locks.holder(runs.lock_name(kind))
        if holder is not None and not runs.lock_holder_dead(holder):
            return f"a {kind} crawl is already running"
        # A live run only: one whose process died is closed as interrupted here.
        run = runs.live_run(kind)
        if run is not None:
            return f"a {kind} crawl is already running (run #{run.pk})"
    if _queued():
        return "the first crawl is already queued; the worker (qcluster) will run it"
    return None


class Command(BaseCommand):
    help = "Queue the first crawl (ongoing update, then a full crawl) when the catalogue is empty."

    def handle(self, *args: Any, **options: Any) -> None:
        reason = why_not()
        if reason is not None:
            self.stdout.write(f"first crawl not queued: {reason}.")
            return
        # Every web node runs this at start (AUTO_FIRST_CRAWL): nodes starting together all
        # find the catalogue empty, so the marker is claimed atomically and only its
        # claimer queues (the cache not answering: go ahead, as with one node).
        claimed = _coordination().add(
            QUEUED_MARKER, timezone.now().isoformat(), QUEUED_MARKER_TIMEOUT
        )
        if claimed is False:
            self.stdout.write(
                "first crawl not queued: the first crawl is already queued; the worker "
                "(qcluster) will run it."
            )
            return
        async_chain(
            [
                ("scraper.tasks.crawl_task", ("ongoing",), {}),
                ("scraper.tasks.crawl_task", ("full",), {}),
            ],
            group=GROUP,
            sync=Conf.SYNC,
        )
        self.stdout.write(
            "first crawl queued: an ongoing update (home page), then a full crawl of the "
            "catalogue; the worker (qcluster) runs them, progress in the admin's scrape runs."
        )
