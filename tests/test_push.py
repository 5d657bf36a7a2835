"""Web Push for followed anime, against a fake push service over real HTTP on 127.0.0.1
(tests/fake_push.py) that checks the VAPID signature and decrypts each message (RFC 8291)
as the viewer's browser would: subscribing through the site's endpoint, a new episode
stored by ingest reaching exactly its followers, gone subscriptions removed, the
endpoint's refusals, the key command, and the admin never showing an endpoint."""

from __future__ import annotations

import datetime
import io
import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django_q.conf import Conf
from py_vapid import Vapid

from catalog import posters, push
from catalog.models import Anime, PushSubscription
from catalog.push_keys import new_vapid_pair
from scraper.ingest import AnimeBundle, ingest_anime
from scraper.parsers.types import AnimeDetail, EpisodeRef
from tests.fake_push import FakePushService

pytestmark = pytest.mark.django_db(transaction=True)

SUBJECT = "mailto:ops@otakusite.test"
SITE = "http://testserver"


@pytest.fixture
def vapid(settings) -> tuple[str, str]:
    public, private = new_vapid_pair()
    settings.VAPID_PUBLIC_KEY, settings.VAPID_PRIVATE_KEY = public, private
    settings.VAPID_SUBJECT = SUBJECT
    settings.PUSH_ALLOW_LOCAL_ENDPOINTS = True
    return public, private


@pytest.fixture
def service(vapid) -> Iterator[FakePushService]:
    with FakePushService(vapid_public_key=vapid[0], subject=SUBJECT) as fake:
        yield fake


@pytest.fixture
def sync_worker(monkeypatch: pytest.MonkeyPatch, settings) -> None:
    """The worker's queue runs tasks inline (django-q reads Q_CLUSTER once, at import)."""
    q_cluster = {**settings.Q_CLUSTER, "sync": True, "orm": "default"}
    q_cluster.pop("redis", None)
    monkeypatch.setattr(Conf, "SYNC", True)
    monkeypatch.setattr(Conf, "ORM", "default")
    settings.Q_CLUSTER = q_cluster


def subscribe(client: Client, subscription: dict[str, Any], anime: list[str], **headers: str):
    headers.setdefault("Origin", SITE)
    return client.post(
        reverse("catalog:push_subscription"),
        json.dumps({"subscription": subscription, "anime": anime}),
        content_type="application/json",
        headers=headers,
    )


def new_episode_bundle(anime: Anime, number: int) -> AnimeBundle:
    """What the crawl brings for `anime` once its episode `number` is out."""
    refs = [
        EpisodeRef(slug=e.slug, title=e.title, number=e.number, published_on=e.published_on)
        for e in anime.episodes.all()
    ]
    slug = f"{anime.slug}-episode-{number}"
    refs.append(
        EpisodeRef(slug, f"{anime.title} Episode {number}", number, datetime.date(2026, 3, 2))
    )
    detail = AnimeDetail(
        slug=anime.slug, title=anime.title, title_japanese=anime.title_japanese,
        score=float(anime.score) if anime.score else None, producers=anime.producers,
        type=anime.type, status=anime.status, total_episodes=anime.total_episodes,
        duration=anime.duration, release_date=anime.release_date, release_date_text=None,
        studios=anime.studios, genres=[], poster_url=anime.poster_url, synopsis=anime.synopsis,
        episodes=refs, batch=None, lengkap=None,
    )  # fmt: skip
    return AnimeBundle(detail=detail, release_day=anime.release_day)


def test_new_episode_reaches_its_followers_signed_and_encrypted(sample, service, sync_worker):
    client = Client()
    ongoing, completed = sample.ongoing, sample.completed
    key = "a" * 16
    Anime.objects.filter(pk=ongoing.pk).update(
        poster_url="https://img.example/pedang.jpg", poster_key=key
    )
    ongoing.refresh_from_db()
    fan = service.new_browser()
    other = service.new_browser()
    answer = subscribe(client, service.subscription(fan), [ongoing.slug, "no-such-anime"])
    assert answer.status_code == 200, answer.content
    assert answer.json() == {"ok": True, "anime": 1}
    assert subscribe(client, service.subscription(other), [completed.slug]).status_code == 200

    ingest_anime(bundle=new_episode_bundle(ongoing, 4))

    assert service.rejected == []
    assert other.received == []
    assert len(fan.received) == 1
    message = fan.received[0]
    assert message["payload"]["title"] == "Pedang Bintang"
    assert message["payload"]["episode"] == "4"
    assert message["payload"]["url"] == "/episode/pedang-bintang-sub-indo-episode-4/"
    # Our own copy of the poster, never the origin's host.
    assert message["payload"]["poster"] == posters.poster_src(ongoing, 270)
    assert message["payload"]["poster"].startswith("/")
    assert "Episode 4" in message["payload"]["body"]
    assert int(message["ttl"]) > 0

    # The same crawl again stores nothing new: nobody is told twice.
    ingest_anime(bundle=new_episode_bundle(ongoing, 4))
    assert len(fan.received) == 1


def test_ingest_of_an_anime_nobody_follows_enqueues_nothing(sample, vapid, monkeypatch):
    queued: list[Any] = []
    monkeypatch.setattr("django_q.tasks.async_task", lambda *a, **k: queued.append(a))
    ingest_anime(bundle=new_episode_bundle(sample.ongoing, 4))
    assert queued == []
    sub = PushSubscription.objects.create(endpoint="https://push.example/x", endpoint_hash="x" * 64)
    sub.anime.add(sample.ongoing)
    ingest_anime(bundle=new_episode_bundle(sample.ongoing, 5))
    new = sample.ongoing.episodes.get(number=Decimal(5))
    assert queued == [(push.TASK_PATH, [new.pk])]


@pytest.mark.parametrize("status", [404, 410])
def test_a_subscription_the_push_service_says_is_gone_is_removed(sample, service, status):
    gone = service.new_browser(status=status)
    kept = service.new_browser()
    failing = service.new_browser(status=500)
    for browser in (gone, kept, failing):
        assert (
            subscribe(Client(), service.subscription(browser), [sample.ongoing.slug]).status_code
            == 200
        )
    episode = sample.ongoing.episodes.order_by("number").last()

    totals = push.notify_new_episodes(episode_ids=[episode.pk])

    assert totals == {"sent": 1, "gone": 1, "failed": 1}
    assert service.rejected == []
    endpoints = set(PushSubscription.objects.values_list("endpoint", flat=True))
    assert endpoints == {service.endpoint(kept), service.endpoint(failing)}
    assert kept.received[0]["payload"]["url"] == episode.get_absolute_url()


def test_an_empty_follow_list_stops_notifications(sample, service):
    fan = service.new_browser()
    subscription = service.subscription(fan)
    assert subscribe(Client(), subscription, [sample.ongoing.slug]).status_code == 200
    assert PushSubscription.objects.count() == 1
    # The viewer turns notifications off (push.js sends the endpoint with no anime).
    answer = subscribe(Client(), {"endpoint": subscription["endpoint"]}, [])
    assert answer.json() == {"ok": True, "anime": 0}
    assert PushSubscription.objects.count() == 0
    push.notify_new_episodes(episode_ids=list(sample.ongoing.episodes.values_list("pk", flat=True)))
    assert fan.received == []


def test_a_changed_follow_list_replaces_the_stored_one(sample, service):
    fan = service.new_browser()
    subscribe(Client(), service.subscription(fan), [sample.ongoing.slug])
    subscribe(Client(), service.subscription(fan), [sample.completed.slug])
    sub = PushSubscription.objects.get()
    assert list(sub.anime.values_list("slug", flat=True)) == [sample.completed.slug]


@pytest.mark.parametrize(
    ("endpoint", "allowed"),
    [
        ("https://fcm.googleapis.com/fcm/send/abc", True),
        ("https://updates.push.services.mozilla.com/wpush/v2/abc", True),
        ("http://fcm.googleapis.com/fcm/send/abc", False),
        ("https://127.0.0.1/push", False),
        ("https://10.1.2.3/push", False),
        ("https://[::1]/push", False),
        ("https://localhost/push", False),
        ("https://intranet/push", False),
        ("https://user:pw@push.example.com/x", False),
        ("javascript:alert(1)", False),
        ("https://push.example.com:99999/x", False),
    ],
)
def test_only_public_https_push_services_are_accepted(sample, vapid, settings, endpoint, allowed):
    settings.PUSH_ALLOW_LOCAL_ENDPOINTS = False
    keys = {"p256dh": "B" + "A" * 86, "auth": "A" * 22}
    answer = subscribe(Client(), {"endpoint": endpoint, "keys": keys}, [sample.ongoing.slug])
    assert answer.status_code == (200 if allowed else 400)
    assert PushSubscription.objects.filter(endpoint=endpoint).exists() is allowed
    assert answer["Cache-Control"].count("no-store") == 1


def test_requests_from_other_sites_or_malformed_are_refused(sample, service):
    fan = service.new_browser()
    good = service.subscription(fan)
    slugs = [sample.ongoing.slug]
    assert subscribe(Client(), good, slugs, Origin="https://evil.example").status_code == 403
    url = reverse("catalog:push_subscription")
    body = json.dumps({"subscription": good, "anime": slugs})
    assert Client().post(url, body, content_type="application/json").status_code == 403  # no Origin
    form = Client().post(url, {"subscription": "x"}, headers={"Origin": SITE})
    assert form.status_code == 403  # not JSON: a plain cross-site form cannot send it
    assert Client().get(url).status_code == 405
    for bad in (
        b"{",
        b"[]",
        b'{"subscription": {}}',
        json.dumps({"subscription": good, "anime": "x"}).encode(),
    ):
        answer = Client().post(url, bad, content_type="application/json", headers={"Origin": SITE})
        assert answer.status_code == 400, bad
        assert answer.json()["ok"] is False
    keyless = {"endpoint": good["endpoint"]}
    assert subscribe(Client(), keyless, slugs).status_code == 400
    too_many = [f"anime-{n}" for n in range(push.MAX_ANIME + 1)]
    assert subscribe(Client(), good, too_many).status_code == 400
    assert PushSubscription.objects.count() == 0


def test_subscription_changes_are_rate_limited_per_client(sample, service):
    from catalog import pwa

    fan = service.new_browser()
    answers = [
        subscribe(Client(), service.subscription(fan), [sample.ongoing.slug]).status_code
        for _ in range(pwa.RATE_LIMIT + 1)
    ]
    assert answers[: pwa.RATE_LIMIT] == [200] * pwa.RATE_LIMIT
    assert answers[-1] == 429
    other_client = Client(REMOTE_ADDR="192.0.2.9")
    assert (
        subscribe(other_client, service.subscription(fan), [sample.ongoing.slug]).status_code == 200
    )


def test_the_limit_outlives_an_evicted_page_cache(sample, service, settings):
    """The count is kept where nothing is evicted (the coordination store): a page cache
    emptied by memory pressure, or flushed, gives a client no fresh budget."""
    from django.core.cache import caches

    from catalog import pwa

    locmem = "django.core.cache.backends.locmem.LocMemCache"
    settings.CACHES = {
        "default": {"BACKEND": locmem, "LOCATION": "push-pages"},
        "coordination": {"BACKEND": locmem, "LOCATION": "push-coordination"},
    }
    fan = service.new_browser()
    for _ in range(pwa.RATE_LIMIT):
        assert (
            subscribe(Client(), service.subscription(fan), [sample.ongoing.slug]).status_code == 200
        )
    caches["default"].clear()
    assert subscribe(Client(), service.subscription(fan), [sample.ongoing.slug]).status_code == 429


def test_without_vapid_keys_no_push_is_offered(sample, settings):
    settings.VAPID_PRIVATE_KEY = ""
    assert Client().get(reverse("catalog:push_key")).json() == {"enabled": False}
    sub = {
        "endpoint": "https://fcm.googleapis.com/fcm/send/abc",
        "keys": {"p256dh": "B", "auth": "A"},
    }
    assert subscribe(Client(), sub, [sample.ongoing.slug]).status_code == 404


def test_key_endpoint_gives_the_public_key(vapid):
    answer = Client().get(reverse("catalog:push_key"))
    assert answer.json() == {"enabled": True, "publicKey": vapid[0]}


def test_generate_vapid_keys_prints_a_working_pair():
    out = io.StringIO()
    call_command("generate_vapid_keys", "--subject", SUBJECT, stdout=out)
    lines = dict(line.split("=", 1) for line in out.getvalue().split())
    assert set(lines) == {"VAPID_PUBLIC_KEY", "VAPID_PRIVATE_KEY", "VAPID_SUBJECT"}
    assert lines["VAPID_SUBJECT"] == SUBJECT
    # pywebpush's key reader takes the private key; its public half is the printed one.
    signer = Vapid.from_string(private_key=lines["VAPID_PRIVATE_KEY"])
    headers = signer.sign({"sub": SUBJECT, "aud": "https://push.example", "exp": 2_000_000_000})
    assert headers["Authorization"].endswith(f"k={lines['VAPID_PUBLIC_KEY']}")
    service = FakePushService(vapid_public_key=lines["VAPID_PUBLIC_KEY"], subject=SUBJECT)
    service.origin = "https://push.example"
    assert service.check_vapid(headers["Authorization"]) is None


def test_admin_counts_subscriptions_but_never_shows_an_endpoint(sample, service, admin_client):
    fan = service.new_browser()
    subscribe(Client(), service.subscription(fan), [sample.ongoing.slug, sample.completed.slug])
    listing = admin_client.get(reverse("admin:catalog_pushsubscription_changelist"))
    assert listing.status_code == 200
    text = listing.content.decode()
    assert service.origin not in text
    assert fan.keys()["auth"] not in text
    assert '<td class="field-anime_count">2</td>' in text
    sub = PushSubscription.objects.get()
    detail = admin_client.get(reverse("admin:catalog_pushsubscription_change", args=[sub.pk]))
    assert service.origin not in detail.content.decode()
    assert admin_client.get(reverse("admin:catalog_pushsubscription_add")).status_code == 403
