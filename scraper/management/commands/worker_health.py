"""`manage.py worker_health`: exit 0 while a django-q2 cluster runs on this host.

The worker container's health check. django-q2's sentinel saves the cluster's status into
the broker every half second with a 3 s expiry (django_q.status.Stat), so a cluster that
died, hangs, or was frozen disappears from the broker within seconds; this reads it back.
Only clusters on this host count (in Compose the check runs inside the worker container,
whose hostname the cluster records), so another replica's cluster cannot hide a dead one.

Needs a broker other processes can read (Redis: REDIS_URL). With django-q2's ORM broker
the statuses live in this process's local-memory cache, where no other process can see
them; the command says so and exits 1 rather than guessing.
"""

from __future__ import annotations

import socket
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django_q.brokers import get_broker
from django_q.conf import Conf
from django_q.status import Stat

HEALTHY = {Conf.IDLE, Conf.WORKING, Conf.STARTING}


class Command(BaseCommand):
    help = "Exit 0 when a django-q2 cluster (qcluster) on this host reports itself running."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--any-host",
            action="store_true",
            help="accept a cluster on any host (checking from outside the worker container)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.Q_CLUSTER.get("redis"):
            raise CommandError(
                "cannot check: without REDIS_URL the cluster's status is kept in the "
                "worker's own memory (django-q2 ORM broker + local cache)"
            )
        try:
            stats = Stat.get_all(broker=get_broker())
        except Exception as exc:  # the broker is down or frozen (bounded by its timeouts)
            raise CommandError(f"unhealthy: broker unreachable ({exc})") from exc
        host = socket.gethostname()
        mine = [s for s in stats if options["any_host"] or s.host == host]
        running = [s for s in mine if s.status in HEALTHY]
        if not running:
            seen = ", ".join(f"{s.host}:{s.status}" for s in stats) or "none"
            where = "any host" if options["any_host"] else f"host {host}"
            raise CommandError(f"unhealthy: no running cluster on {where} (seen: {seen})")
        for stat in running:
            self.stdout.write(
                f"healthy: cluster {stat.cluster_id} on {stat.host} {stat.status}, "
                f"{len(stat.workers)} workers, up {int(stat.uptime())} s"
            )
