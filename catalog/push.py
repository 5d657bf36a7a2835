"""Web Push for followed anime: the subscriptions (writes), the hook ingest calls for new
episodes, and the notifications the worker sends for them.

A subscription holds nothing but the push service's endpoint, the browser's keys and the
followed anime (catalog.models.PushSubscription). Ingest only enqueues episode ids, after
its commit, and only when a subscription follows one of their anime; the worker's task
(catalog.push_tasks) loads them and calls notify_new_episodes, which sends through
catalog.push_send (pywebpush).
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from catalog import posters, push_send
from catalog.models import Anime, Episode, PushSubscription

logger = logging.getLogger("catalog.push")

MAX_ANIME = 500  # a follow list longer than this is not a viewer's
MAX_BODY_BYTES = 64 * 1024
TTL_SECONDS = 2 * 86400  # a phone that is off for a weekend still gets the episode
TASK_PATH = "catalog.push_tasks.send_new_episode_notifications"


class SubscriptionError(ValueError):
    """A subscription request the site refuses; the message is for the viewer's browser."""


@dataclass(frozen=True)
class SubscriptionRequest:
    endpoint: str
    p256dh: str
    auth: str
    anime_slugs: tuple[str, ...]


def enabled() -> bool:
    """Push needs the operator's VAPID key pair and subject (README: Web Push)."""
    return bool(settings.VAPID_PUBLIC_KEY and settings.VAPID_PRIVATE_KEY and settings.VAPID_SUBJECT)


def endpoint_allowed(url: str) -> bool:
    """Push services are public HTTPS hosts: anything else would let a page make the worker
    POST to our own network. Tests run their fake push service on 127.0.0.1 over HTTP
    (PUSH_ALLOW_LOCAL_ENDPOINTS)."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        parts.port  # noqa: B018 -- raises ValueError on a bad port
    except ValueError:
        return False
    if not host or parts.username or parts.password:
        return False
    if settings.PUSH_ALLOW_LOCAL_ENDPOINTS:
        return parts.scheme in {"https", "http"}
    if parts.scheme != "https" or host == "localhost" or host.endswith(".localhost"):
        return False
    try:
        return ipaddress.ip_address(host).is_global
    except ValueError:
        return "." in host and not host.endswith((".local", ".internal", ".lan"))


def parse_request(body: bytes) -> SubscriptionRequest:
    """The JSON push.js posts: {"subscription": PushSubscription.toJSON(), "anime": [slugs]}."""
    if len(body) > MAX_BODY_BYTES:
        raise SubscriptionError(_("Permintaan terlalu besar."))
    try:
        data = json.loads(body)
        sub = data["subscription"]
        endpoint = sub["endpoint"]
        keys = sub.get("keys") or {}
        slugs = data.get("anime", [])
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise SubscriptionError(_("Data langganan tidak valid.")) from exc
    if not isinstance(endpoint, str) or len(endpoint) > 1000 or not endpoint_allowed(endpoint):
        raise SubscriptionError(_("Alamat layanan push tidak diterima."))
    if not isinstance(slugs, list) or not all(isinstance(s, str) for s in slugs):
        raise SubscriptionError(_("Daftar anime tidak valid."))
    if len(slugs) > MAX_ANIME:
        raise SubscriptionError(_("Terlalu banyak anime diikuti."))
    p256dh, auth = keys.get("p256dh", ""), keys.get("auth", "")
    if slugs and not (_key_ok(p256dh, 200) and _key_ok(auth, 100)):
        raise SubscriptionError(_("Kunci langganan tidak valid."))
    return SubscriptionRequest(endpoint, p256dh or "", auth or "", tuple(dict.fromkeys(slugs)))


def _key_ok(value: Any, limit: int) -> bool:
    allowed = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=")
    return isinstance(value, str) and 0 < len(value) <= limit and set(value) <= allowed


def _hash(endpoint: str) -> str:
    return hashlib.sha256(endpoint.encode()).hexdigest()


@transaction.atomic
def save_subscription(*, request: SubscriptionRequest) -> int:
    """Store (or replace) the browser's subscription with the anime it follows; an empty
    list removes it. Unknown slugs are ignored. Returns the number of anime kept."""
    anime = list(Anime.objects.filter(slug__in=request.anime_slugs).values_list("pk", flat=True))
    if not anime:
        remove_subscription(endpoint=request.endpoint)
        return 0
    sub, _created = PushSubscription.objects.update_or_create(
        endpoint_hash=_hash(request.endpoint),
        defaults={"endpoint": request.endpoint, "p256dh": request.p256dh, "auth": request.auth},
    )
    sub.anime.set(anime)
    return len(anime)


@transaction.atomic
def remove_subscription(*, endpoint: str) -> bool:
    deleted, _rows = PushSubscription.objects.filter(endpoint_hash=_hash(endpoint)).delete()
    return bool(deleted)


def queue_new_episodes(episode_ids: Iterable[int]) -> None:
    """Ingest's hook (called after its commit): enqueue the new episodes whose anime
    someone follows. One indexed query; nothing is enqueued during a crawl nobody follows,
    and a broker outage costs the notifications, never the crawl."""
    ids = sorted({pk for pk in episode_ids if pk is not None})
    if not ids:
        return
    try:
        followed = list(
            Episode.objects.filter(pk__in=ids, anime__push_subscriptions__isnull=False)
            .values_list("pk", flat=True)
            .distinct()
        )
        if followed:
            from django_q.tasks import async_task

            async_task(TASK_PATH, sorted(followed), task_name="push-new-episodes")
    except Exception:
        logger.exception("could not queue push notifications for episodes %s", ids[:20])


def episode_payload(episode: Episode) -> dict[str, str]:
    """What the service worker shows: title, episode, poster and link (paths: the worker
    resolves them against its own origin)."""
    anime = episode.anime
    number = episode.number_display
    label = _("Episode %(number)s") % {"number": number} if number else episode.title
    return {
        "title": anime.title[:200],
        "episode": number,
        "body": (_("%(label)s sudah tayang.") % {"label": label})[:300],
        # Our own copy (a JPEG on this domain, like every page shows), never the origin's.
        "poster": posters.poster_src(anime, 270),
        "url": episode.get_absolute_url(),
        "tag": f"episode-{episode.pk}",
    }


def notify_new_episodes(*, episode_ids: Sequence[int]) -> dict[str, int]:
    """One notification per new episode to each subscription following its anime;
    subscriptions the push service says are gone (404/410) are removed."""
    totals = {"sent": 0, "gone": 0, "failed": 0}
    if not enabled():
        logger.warning("VAPID keys are not set: %d episode notifications dropped", len(episode_ids))
        return totals
    episodes = Episode.objects.filter(pk__in=episode_ids).select_related("anime").order_by("pk")
    for episode in episodes:
        payload = episode_payload(episode)
        for sub in PushSubscription.objects.filter(anime=episode.anime_id).order_by("pk"):
            outcome = push_send.send(
                endpoint=sub.endpoint,
                p256dh=sub.p256dh,
                auth=sub.auth,
                payload=payload,
                ttl=TTL_SECONDS,
            )
            totals[outcome.value] += 1
            if outcome is push_send.Outcome.GONE:
                remove_subscription(endpoint=sub.endpoint)
    logger.info("push notifications: %s", totals)
    return totals
