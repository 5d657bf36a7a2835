"""The per-process near cache (catalog/nearcache.py): cached pages without a round trip,
and never an old version once a change is announced or the channel is lost."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.db.models import F
from django.test import override_settings

from catalog import nearcache
from catalog.models import Anime, ScrapeRun
from catalog.nearcache import MEMO_SECONDS, NearCache
from catalog.services import bump_versions
from tests.site_factories import make_episode

redis = pytest.importorskip("redis")

REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/15"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def counting_loader(values: list[Any]) -> tuple[list[int], Any]:
    calls: list[int] = []

    def load() -> Any:
        calls.append(1)
        return values[len(calls) - 1]

    return calls, load


# --- the store itself -------------------------------------------------------------


def test_memos_are_not_kept_while_not_subscribed() -> None:
    near = NearCache(max_bytes=1000)
    calls, load = counting_loader(["v1", "v2"])
    assert near.memo("k", load) == "v1"
    assert near.memo("k", load) == "v2"
    assert len(calls) == 2


def test_memos_are_kept_until_a_change_is_announced() -> None:
    near = NearCache(max_bytes=1000)
    near.set_live(True)
    calls, load = counting_loader(["v1", "v2"])
    assert near.memo("k", load) == "v1"
    assert near.memo("k", load) == "v1"
    near.changed()
    assert near.memo("k", load) == "v2"
    assert len(calls) == 2


def test_losing_the_subscription_forgets_every_memo() -> None:
    near = NearCache(max_bytes=1000)
    near.set_live(True)
    _, load = counting_loader(["v1", "v2", "v3"])
    near.memo("k", load)
    near.set_live(False)  # a change may now go unannounced
    assert near.memo("k", load) == "v2"
    near.set_live(True)
    assert near.memo("k", load) == "v3"


def test_a_change_announced_during_a_load_is_not_lost() -> None:
    near = NearCache(max_bytes=1000)
    near.set_live(True)

    def load_then_change() -> str:
        near.changed()  # the announcement arrives while the old value is being read
        return "old"

    assert near.memo("k", load_then_change) == "old"
    assert near.memo("k", lambda: "new") == "new"


def test_a_memo_is_not_trusted_while_a_change_is_on_its_way() -> None:
    near = NearCache(max_bytes=1000)
    near.set_live(True)
    _, load = counting_loader(["v1", "v2", "v3"])
    near.memo("k", load)
    near.pending = lambda: True  # the channel has unread data
    assert near.memo("k", load) == "v2"
    near.pending = lambda: False
    assert near.memo("k", load) == "v2"  # kept: loaded with nothing pending in between


def test_memos_expire_even_without_an_announcement() -> None:
    clock = Clock()
    near = NearCache(max_bytes=1000, clock=clock)
    near.set_live(True)
    _, load = counting_loader(["v1", "v2"])
    near.memo("k", load)
    clock.now += MEMO_SECONDS - 1
    assert near.memo("k", load) == "v1"
    clock.now += 2
    assert near.memo("k", load) == "v2"


def test_pages_are_bounded_by_size_least_recently_used_first() -> None:
    near = NearCache(max_bytes=800)
    names = "abcdefgh"
    for name in names:
        near.keep_page(name, f"page {name}", 100)  # fills the budget exactly
    assert near.page("a") == "page a"  # now the most recently used
    near.keep_page("i", "page i", 100)
    assert near.page("b") is None
    assert all(near.page(n) == f"page {n}" for n in "acdefghi")
    near.keep_page("huge", "x", 101)  # over an eighth of the budget: not kept
    assert near.page("huge") is None
    assert near.page("c") == "page c"


def test_recent_values_lag_at_most_their_seconds() -> None:
    clock = Clock()
    near = NearCache(max_bytes=1000, clock=clock)
    near.keep_recent("status", "ok", 5)
    clock.now += 4
    assert near.recent("status") == "ok"
    clock.now += 2
    assert near.recent("status") is None


def test_off_keeps_nothing() -> None:
    with override_settings(NEAR_CACHE=False):
        near = nearcache.current()
    near.keep_page("k", "v", 1)
    near.keep_recent("k", "v", 10)
    assert near.page("k") is None
    assert near.recent("k") is None


# --- with Redis: the web process and the worker ---------------------------------


def _redis_or_skip() -> Any:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError:
        pytest.skip(f"no Redis at {REDIS_URL}")
    return client


@pytest.fixture
def near_redis(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """This process as a web worker with the near cache on, subscribed to the channel."""
    raw = _redis_or_skip()
    name = f"nearcache-{uuid.uuid4().hex[:12]}"
    caches = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": name,
            "OPTIONS": {"CLIENT_CLASS": "django_redis.client.DefaultClient"},
        }
    }
    # Named connections, so a test can cut exactly this process's subscription.
    monkeypatch.setattr(
        nearcache, "_redis", lambda: redis.Redis.from_url(REDIS_URL, client_name=name)
    )
    with override_settings(CACHES=caches, NEAR_CACHE=True):
        nearcache.stop_listening()
        nearcache.current()
        listener = nearcache.listener()
        assert listener is not None
        assert listener.wait_for("subscriptions", 1), "listener never subscribed"
        try:
            yield {"listener": listener, "raw": raw, "name": name}
        finally:
            nearcache.stop_listening()
            from django.core.cache import cache

            cache.delete_pattern("*")


class RefusingCache:
    """Stands in for the shared cache where a near hit must not need it."""

    def __getattr__(self, name: str) -> Any:
        pytest.fail(f"the shared cache was used ({name})")


def _ingest_episode(anime: Anime, number: int, capture_on_commit: Any) -> None:
    """What ingest does in this process: a new episode, the version bumped, committed."""
    with capture_on_commit(execute=True):
        make_episode(anime, number)
        bump_versions(anime_ids=[anime.pk])


def _show_title(slug: str, title: str) -> None:
    """What ingest does in the worker process: change the row and its version."""
    Anime.objects.filter(slug=slug).update(title=title, version=F("version") + 1)


@pytest.mark.django_db
def test_a_cached_anime_page_costs_no_query_and_no_cache_round_trip(
    near_redis, sample, client, django_assert_num_queries, monkeypatch
) -> None:
    url = f"/anime/{sample.ongoing.slug}/"
    assert "Pedang Bintang" in client.get(url).text
    monkeypatch.setattr("catalog.pagecache.cache", RefusingCache())
    with django_assert_num_queries(0):
        response = client.get(url)
    assert response.status_code == 200
    assert "Pedang Bintang" in response.text


@pytest.mark.django_db
def test_a_cached_episode_page_costs_no_query_and_no_cache_round_trip(
    near_redis, sample, client, django_assert_num_queries, monkeypatch
) -> None:
    url = f"/episode/{sample.episodes[1].slug}/"
    first = client.get(url)
    assert first.status_code == 200
    monkeypatch.setattr("catalog.pagecache.cache", RefusingCache())
    with django_assert_num_queries(0):
        response = client.get(url)
    assert response.content == first.content
    # The CSP still frames only the embed hosts found.
    assert "embed.example.test" in response["Content-Security-Policy"]


@pytest.mark.django_db
def test_a_new_episode_shows_on_its_neighbour_at_once(
    near_redis, sample, client, django_capture_on_commit_callbacks
) -> None:
    last = sample.episodes[-1]
    url = f"/episode/{last.slug}/"
    client.get(url)
    client.get(url)
    _ingest_episode(sample.ongoing, 4, django_capture_on_commit_callbacks)
    # The newest episode page now links to the one after it.
    assert f"/episode/{sample.ongoing.slug}-episode-4/" in client.get(url).text


@pytest.mark.django_db
def test_a_change_announced_by_another_process_shows_at_once(near_redis, sample, client) -> None:
    url = f"/anime/{sample.ongoing.slug}/"
    assert "Pedang Bintang" in client.get(url).text
    assert "Pedang Bintang" in client.get(url).text  # served from this process's copy
    _show_title(sample.ongoing.slug, "Pedang Purnama")
    # The worker announces on its own connection, as `bump_versions` does after commit.
    nearcache.publish_change(redis.Redis.from_url(REDIS_URL))
    assert near_redis["listener"].wait_for("messages", 1)
    assert "Pedang Purnama" in client.get(url).text


@pytest.mark.django_db
def test_the_request_right_after_another_process_announces_shows_the_change(
    near_redis, sample, client
) -> None:
    """No waiting for the listener: a change announced is never followed by the old page."""
    url = f"/anime/{sample.ongoing.slug}/"
    announcer = redis.Redis.from_url(REDIS_URL)
    for n in range(20):
        client.get(url)  # the version is kept in memory again
        _show_title(sample.ongoing.slug, f"Pedang Ke-{n}")
        nearcache.publish_change(announcer)
        assert f"Pedang Ke-{n}" in client.get(url).text


@pytest.mark.django_db
def test_a_change_in_this_process_shows_at_once(
    near_redis, sample, client, django_capture_on_commit_callbacks
) -> None:
    url = f"/anime/{sample.ongoing.slug}/"
    client.get(url)
    _ingest_episode(sample.ongoing, 99, django_capture_on_commit_callbacks)
    assert f"/episode/{sample.ongoing.slug}-episode-99/" in client.get(url).text


@pytest.mark.django_db
def test_a_lost_channel_loses_no_change(near_redis, sample, client) -> None:
    """While not subscribed a change can go unannounced: nothing kept may outlive that."""
    url = f"/anime/{sample.ongoing.slug}/"
    client.get(url)
    client.get(url)
    raw, name = near_redis["raw"], near_redis["name"]
    ids = [c["id"] for c in raw.client_list(_type="pubsub") if c.get("name") == name]
    assert ids, "the listener's connection was not found"
    for client_id in ids:
        raw.client_kill_filter(_id=client_id)
    _show_title(sample.ongoing.slug, "Pedang Senyap")  # changed, never announced
    assert near_redis["listener"].wait_for("subscriptions", 2), "listener did not reconnect"
    assert "Pedang Senyap" in client.get(url).text


@pytest.mark.django_db
def test_bump_versions_announces_after_commit(
    near_redis, sample, django_capture_on_commit_callbacks
) -> None:
    listener = near_redis["listener"]
    generation = nearcache.NEAR.generation
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        bump_versions(anime_ids=[sample.ongoing.pk])
    assert nearcache.NEAR.generation == generation  # nothing announced before the commit
    for callback in callbacks:
        callback()
    assert listener.wait_for("messages", 1)


@pytest.mark.django_db
def test_healthz_says_whether_the_near_cache_is_live(near_redis, client) -> None:
    assert client.get("/healthz").json()["near_cache"] == "live"
    with override_settings(NEAR_CACHE=False):
        assert client.get("/healthz").json()["near_cache"] == "off"


@pytest.mark.django_db
def test_a_renamed_genre_without_anime_shows_at_once(
    near_redis, client, admin_client, django_capture_on_commit_callbacks
) -> None:
    from catalog.models import Genre

    genre = Genre.objects.create(slug="sunyi", name="Sunyi")
    ScrapeRun.objects.create(kind="update", status=ScrapeRun.Status.OK)
    url = "/genres/sunyi/"
    assert "Sunyi" in client.get(url).text
    assert "Sunyi" in client.get(url).text  # the genre now comes from this process's copy
    form = {"name": "Hening", "slug": "sunyi"}
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(f"/admin/catalog/genre/{genre.pk}/change/", form)
    assert response.status_code == 302
    assert "Hening" in client.get(url).text
