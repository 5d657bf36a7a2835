"""Embed hosts the scraper meets: recorded (pending) so an admin can approve them.

Recording is not allowing: the policy itself (EMBED_HOSTS_ALLOWED, approvals) lives in
catalog.embed_policy, which the site reads without the scraper.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Iterable

from django.db import models
from django.utils import timezone

from catalog.embed_policy import host_in_policy
from catalog.models import EmbedHost
from catalog.safe_urls import url_host

logger = logging.getLogger("scraper.embeds")


# last_seen is written at most this often per host: every ingest would otherwise update
# (and lock) the same few rows that web processes resolving mirrors also touch.
EMBED_HOST_SEEN_EVERY = datetime.timedelta(hours=1)


def remember_embed_hosts(urls: Iterable[str | None]) -> list[str]:
    """Record the hosts of embed URLs the scraper met; return the new ones left pending.

    Recording is not allowing: a new host is stored with approved=False and stays out of
    the CSP, the player and the health check until EMBED_HOSTS_ALLOWED lists it or an admin
    approves it (catalog.embed_policy). A new pending host is logged once, here.
    """
    # EmbedHost stores the lower-case `host[:port]` of a safe http(s) URL.
    hosts = {h for h in (url_host(u) for u in urls) if h}
    if not hosts:
        return []
    now = timezone.now()
    known = set(EmbedHost.objects.filter(host__in=hosts).values_list("host", flat=True))
    new = sorted(hosts - known)
    EmbedHost.objects.bulk_create(
        [EmbedHost(host=h, last_seen=now) for h in new], ignore_conflicts=True
    )
    if known:
        EmbedHost.objects.filter(host__in=known).filter(
            models.Q(last_seen__isnull=True) | models.Q(last_seen__lt=now - EMBED_HOST_SEEN_EVERY)
        ).update(last_seen=now)
    pending = [h for h in new if not host_in_policy(h)]
    for host in pending:
        logger.warning("host embed baru menunggu persetujuan: %s", host)
    return pending
