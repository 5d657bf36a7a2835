"""`manage.py qcluster`: django-q2's cluster, stopping a running crawl on SIGTERM/SIGINT.

django-q2 alone stops like this: the cluster's main process catches SIGTERM and SIGINT
and tells its sentinel to stop; the sentinel stops taking tasks and waits for every
worker to finish the task it has, with no deadline; the workers never see a signal
(SIGINT is ignored in them, SIGTERM reaches only the main process under `docker stop`).
A full crawl would keep `docker stop` (or Ctrl-C on `make run`) waiting for hours, until
Compose kills it all.

This command is django-q2's own (it replaces it: the scraper app is listed before
django_q in INSTALLED_APPS), with one addition: on SIGTERM or SIGINT the main process
first sets the stop flag of scraper.runs, which its sentinel and workers share (shared
memory made before they are forked). A crawl checks the flag before each page, so it
ends within one page, marks its run interrupted and releases its lock; then django-q2's
usual shutdown follows and the cluster exits.
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
