"""`manage.py qcluster`: django-q2's cluster, stopping a running crawl on SIGTERM/SIGINT.

django-q2 alone waits, with no deadline, for every worker to finish its task: a full crawl
would keep `docker stop` waiting for hours. This command (it replaces django-q2's: the
scraper app comes first in INSTALLED_APPS) first sets scraper.runs' stop flag, shared with
the forked sentinel and workers; the crawl ends within one page, marks its run
interrupted, and django-q2's usual shutdown follows.
"""

from __future__ import annotations

import os
from types import FrameType
from typing import Any

from django.conf import settings
from django_q.cluster import Cluster
from django_q.management.commands import qcluster

from scraper import runs


class StoppingCluster(Cluster):
    def sig_handler(self, signum: int, frame: FrameType | None) -> None:
        runs.request_stop(signum)
        super().sig_handler(signum, frame)


class Command(qcluster.Command):
    def handle(self, *args: Any, **options: Any) -> None:
        # django-q2's own handle() (1.11), with our Cluster class.
        _ = settings.SECRET_KEY  # signing needs it: fail now, not in the first task
        if options.get("cluster_name"):
            os.environ["Q_CLUSTER_NAME"] = options["cluster_name"]
        cluster = StoppingCluster()
        cluster.start()
        if options.get("run_once", False):
            cluster.stop()
