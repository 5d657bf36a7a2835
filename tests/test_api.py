"""The public JSON API (/api/v1/, catalog/api.py + scraper/api.py) against the sample
catalogue (tests/site_factories.py): every endpoint, the error shape, pagination links,
ETags and query counts that do not grow with the page size."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from catalog.models import DownloadLink, StreamLink
from tests.site_factories import (
    bump_version,
    make_anime,
    make_downloads,
    make_episode,
    make_stream_links,
)

pytestmark = pytest.mark.django_db


def get(client: Client, path: str, status: int = 200, **extra: Any) -> Any:
    response = client.get(path, **extra)
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    return response.json()


def test_home_lists_newest_episodes_ongoing_and_completed(client: Client, sample: Any) -> None:
    data = get(client, "/api/v1/")
    newest = [e["slug"] for e in data["newest_episodes"]]
    assert set(newest) == {e.slug for e in sample.episodes}
    assert [a["slug"] for a in data["ongoing"]] == [sample.ongoing.slug]
    assert [a["slug"] for a in data["completed"]] == [sample.completed.slug]
    created = datetime.fromisoformat(data["newest_episodes"][0]["created_at"])
    assert created.tzinfo is not None  # ISO 8601 with the time zone


def test_lists_genres_az_and_schedule(client: Client, sample: Any) -> None:
    assert [a["slug"] for a in get(client, "/api/v1/ongoing/")["items"]] == [sample.ongoing.slug]
    done = get(client, "/api/v1/completed/")["items"]
    assert [(a["slug"], a["title"]) for a in done] == [(sample.completed.slug, "Kafé Senja")]
    genres = {g["slug"]: g["anime_count"] for g in get(client, "/api/v1/genres/")["items"]}
    assert genres == {"aksi": 1, "komedi": 2}
    komedi = get(client, "/api/v1/genres/komedi/")
    assert komedi["pagination"]["total"] == 2
    assert {a["slug"] for a in komedi["items"]} == {sample.ongoing.slug, sample.completed.slug}
    groups = {
        g["letter"]: [a["slug"] for a in g["anime"]]
        for g in get(client, "/api/v1/anime/")["groups"]
    }
    assert groups == {"K": [sample.completed.slug], "P": [sample.ongoing.slug]}
    days = get(client, "/api/v1/schedule/")["days"]
    assert [(d["day"], [a["slug"] for a in d["anime"]]) for d in days] == [
        ("Senin", [sample.ongoing.slug])
    ]


def test_search_uses_the_sites_search_and_filters(client: Client, sample: Any) -> None:
    found = get(client, "/api/v1/search/?q=pedang")
    assert [a["slug"] for a in found["items"]] == [sample.ongoing.slug]
    by_status = get(client, "/api/v1/search/?status=completed")
    assert [a["slug"] for a in by_status["items"]] == [sample.completed.slug]
    both = get(client, "/api/v1/search/?genre=aksi,komedi")
    assert [a["slug"] for a in both["items"]] == [sample.ongoing.slug]
    assert get(client, "/api/v1/search/?q=tidak-ada-judul-begini")["items"] == []
    # Unknown filter values are ignored, as on the site (never a 500).
    assert get(client, "/api/v1/search/?status=zzz&sort=zzz&year=abc")["pagination"]["total"] == 2


def test_anime_with_episodes_and_batch(client: Client, sample: Any) -> None:
    data = get(client, f"/api/v1/anime/{sample.ongoing.slug}/")
    assert data["title_japanese"] == "星の剣"
    assert data["score"] == pytest.approx(8.12)
    assert [e["number"] for e in data["episodes"]] == ["1", "2", "3"]
    assert {g["slug"] for g in data["genres"]} == {"aksi", "komedi"}
    batch = get(client, f"/api/v1/anime/{sample.completed.slug}/")["batches"]
    assert batch[0]["title"] == "Kafé Senja Batch"
    assert {(d["format"], d["quality"]) for d in batch[0]["downloads"]} == {
        ("mp4", "480p"),
        ("mp4", "720p"),
        ("mkv", "480p"),
        ("mkv", "720p"),
    }


def test_episode_with_mirrors_and_downloads(client: Client, sample: Any) -> None:
    first = sample.episodes[0]
    link = StreamLink.objects.filter(episode=first).order_by("pk").first()
    assert link is not None
    link.embed_url = f"{sample.embed_base}/resolved/1"
    link.save()
    data = get(client, f"/api/v1/episodes/{first.slug}/")
    assert data["anime"]["slug"] == sample.ongoing.slug
    assert data["previous"] is None
    assert data["next"]["slug"] == sample.episodes[1].slug
    mirrors = {m["id"]: m for m in data["mirrors"]}
    assert len(mirrors) == 4
    assert mirrors[link.pk]["embed_url"] == f"{sample.embed_base}/resolved/1"
    assert mirrors[link.pk]["resolve_url"].endswith(f"/api/v1/mirrors/{link.pk}/")
    assert data["default_embed_url"] == f"{sample.embed_base}/default/1"
    sizes = {(d["format"], d["quality"], d["provider"]): d["size_bytes"] for d in data["downloads"]}
    assert sizes[("mp4", "720p", "unduhA")] == 150_000_000
    assert len(sizes) == 8


def test_unapproved_embed_host_is_not_handed_out(client: Client, sample: Any) -> None:
    first = sample.episodes[0]
    StreamLink.objects.filter(episode=first).update(embed_url="https://asing.example.test/e/1")
    data = get(client, f"/api/v1/episodes/{first.slug}/")
    assert all(m["embed_url"] is None for m in data["mirrors"])


def test_mirror_resolve_answers_from_a_recent_resolution(client: Client, sample: Any) -> None:
    link = StreamLink.objects.filter(episode=sample.episodes[0]).order_by("pk").first()
    assert link is not None
    from django.utils import timezone

    link.embed_url = f"{sample.embed_base}/resolved/9"
    link.resolved_at = timezone.now()
    link.save()
    data = get(client, f"/api/v1/mirrors/{link.pk}/")
    assert data == {"id": link.pk, "url": f"{sample.embed_base}/resolved/9", "stale": False}
    missing = get(client, "/api/v1/mirrors/999999/", status=404)
    assert missing["error"]["code"] == "not_found"


def test_the_old_mirror_endpoint_still_works(client: Client, sample: Any) -> None:
    assert client.get("/api/mirror/999999/").status_code == 404


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/v1/anime/tidak-ada/", 404),
        ("/api/v1/episodes/tidak-ada/", 404),
        ("/api/v1/genres/tidak-ada/", 404),
        ("/api/v1/ongoing/?page=0", 400),
        ("/api/v1/ongoing/?page=abc", 400),
        ("/api/v1/ongoing/?per_page=1000", 400),
        ("/api/v1/ongoing/?page=99", 404),
        ("/api/v1/mirrors/abc/", 400),
        ("/api/v1/tidak-ada/", 404),
        ("/api/v1/search/?q=" + "x" * 2000, 400),
    ],
)
def test_errors_have_one_shape(client: Client, sample: Any, path: str, status: int) -> None:
    data = get(client, path, status=status)
    assert set(data) == {"error"}
    assert set(data["error"]) == {"code", "message"}


def test_pagination_links(client: Client, sample: Any) -> None:
    for n in range(5):
        make_anime(f"tambahan-{n}", f"Tambahan {n}")
    first = get(client, "/api/v1/ongoing/?per_page=2")
    meta = first["pagination"]
    assert (meta["total"], meta["pages"], meta["prev"]) == (6, 3, None)
    second = get(client, meta["next"])
    assert second["pagination"]["prev"].endswith("page=1&per_page=2")
    assert {a["slug"] for a in first["items"]}.isdisjoint(a["slug"] for a in second["items"])


def test_etag_revalidates_and_a_new_episode_shows_at_once(client: Client, sample: Any) -> None:
    path = f"/api/v1/anime/{sample.ongoing.slug}/"
    response = client.get(path)
    etag = response["ETag"]
    assert "no-cache" in response["Cache-Control"]
    assert client.get(path, HTTP_IF_NONE_MATCH=etag).status_code == 304
    make_episode(sample.ongoing, 4)
    bump_version(sample.ongoing)
    fresh = client.get(path, HTTP_IF_NONE_MATCH=etag)
    assert fresh.status_code == 200
    assert [e["number"] for e in fresh.json()["episodes"]][-1] == "4"


def count_queries(client: Client, paths: list[str]) -> int:
    """Queries to answer `paths` with nothing cached (each built from the database)."""
    cache.clear()
    with CaptureQueriesContext(connection) as ctx:
        for path in paths:
            get(client, path)
    return len(ctx.captured_queries)


def test_query_count_does_not_grow_with_page_size(client: Client, sample: Any) -> None:
    """No query per row: a page of 100 costs what a page of 1 costs, on every list."""
    for n in range(30):
        anime = make_anime(f"banyak-{n}", f"Banyak {n}", release_day="Rabu")
        anime.genres.add(sample.genres[0])
        make_episode(anime, 1)
    lists = ["/api/v1/genres/aksi/", "/api/v1/search/?q=banyak", "/api/v1/ongoing/"]
    small = count_queries(
        client, [f"{path}{'&' if '?' in path else '?'}per_page=1" for path in lists]
    )
    large = count_queries(
        client, [f"{path}{'&' if '?' in path else '?'}per_page=100" for path in lists]
    )
    assert small == large
    fixed = ["/api/v1/", "/api/v1/genres/", "/api/v1/anime/", "/api/v1/schedule/"]
    assert get(client, "/api/v1/schedule/")["days"][1]["day"] == "Rabu"  # 31 anime shown
    assert count_queries(client, fixed) <= 4 * 4


def test_query_count_does_not_grow_with_episodes_and_links(client: Client, sample: Any) -> None:
    short, long = make_anime("pendek", "Pendek"), make_anime("panjang", "Panjang")
    make_episode(short, 1)
    for number in range(1, 41):
        episode = make_episode(long, number)
    first = make_episode(short, 2)
    make_stream_links(first, ("480p",), providers=1)
    make_stream_links(episode, ("360p", "480p", "720p", "1080p"), providers=5)
    make_downloads(first)
    make_downloads(episode)
    for n in range(12):
        DownloadLink.objects.create(
            episode=episode,
            format="mkv",
            quality="1080p",
            provider=f"lain{n}",
            url=f"https://f.example.test/{n}",
        )
    one = count_queries(client, ["/api/v1/anime/pendek/", f"/api/v1/episodes/{first.slug}/"])
    many = count_queries(client, ["/api/v1/anime/panjang/", f"/api/v1/episodes/{episode.slug}/"])
    assert one == many
    data = get(client, f"/api/v1/episodes/{episode.slug}/")
    assert (len(data["mirrors"]), len(data["downloads"])) == (20, 20)


def test_mirror_resolve_when_the_origin_budget_is_spent(
    client: Client, sample: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No slot toward the origin: the embed resolved earlier when there is one (marked
    stale), else 503 with Retry-After, never a wait."""
    from scraper import mirrors

    link = StreamLink.objects.filter(episode=sample.episodes[0]).order_by("pk").first()
    assert link is not None
    earlier = {"url": f"{sample.embed_base}/resolved/3"}

    def busy(*, link_id: int) -> str:
        raise mirrors.MirrorBusy("spent", retry_after=2.2, cached_url=earlier["url"])

    monkeypatch.setattr(mirrors, "resolve_mirror", busy)
    response = client.get(f"/api/v1/mirrors/{link.pk}/")
    assert response.status_code == 200
    assert response.json() == {"id": link.pk, "url": earlier["url"], "stale": True}
    assert "no-store" in response["Cache-Control"]
    earlier["url"] = ""
    refused = get(client, f"/api/v1/mirrors/{link.pk}/", status=503)
    assert refused["error"]["code"] == "busy"
    assert client.get(f"/api/v1/mirrors/{link.pk}/")["Retry-After"] == "3"
