"""Query budgets that do not grow with content, version-keyed caching, ETag revalidation."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.cache import cache
from django.test import Client

from catalog.models import Episode, StreamLink
from tests.site_factories import (
    SampleCatalogue,
    bump_version,
    make_anime,
    make_episode,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def long_anime(sample: SampleCatalogue):
    """An anime with 1,000 episodes, each with mirrors (bulk-created: the test is about reads)."""
    anime = make_anime("panjang-sekali", "Panjang Sekali", total_episodes=1000)
    Episode.objects.bulk_create(
        Episode(
            anime=anime,
            slug=f"panjang-sekali-episode-{n}",
            title=f"Panjang Sekali Episode {n}",
            number=Decimal(n),
            default_embed_url=f"https://embed.example.test/p/{n}",
        )
        for n in range(1, 1001)
    )
    middle = Episode.objects.get(slug="panjang-sekali-episode-500")
    StreamLink.objects.bulk_create(
        StreamLink(episode=middle, quality=q, provider=f"p{i}", token_id=1, token_i=i, token_q=q)
        for q in ("360p", "480p", "720p")
        for i in range(4)
    )
    return anime


def test_anime_with_1000_episodes_costs_at_most_6_queries(
    client: Client, long_anime, django_assert_max_num_queries
) -> None:
    cache.clear()
    with django_assert_max_num_queries(6):
        response = client.get(long_anime.get_absolute_url())
    assert response.content.decode().count("data-episode=") == 1000


def test_episode_of_a_long_anime_costs_at_most_6_queries(
    client: Client, long_anime, django_assert_max_num_queries
) -> None:
    cache.clear()
    with django_assert_max_num_queries(6):
        response = client.get("/episode/panjang-sekali-episode-500/")
    body = response.content.decode()
    assert 'rel="next" href="/episode/panjang-sekali-episode-501/"' in body
    assert body.count("data-mirror=") == 12


@pytest.mark.parametrize(
    "url",
    ["/", "/ongoing/", "/completed/", "/anime/", "/genres/", "/genres/aksi/", "/jadwal/"],
)
def test_list_pages_have_flat_query_counts(
    client: Client, sample: SampleCatalogue, url: str, django_assert_max_num_queries
) -> None:
    for i in range(40):
        anime = make_anime(f"isi-{i}", f"Isi {i}", release_day="Senin")
        anime.genres.add(sample.genres[0])
        make_episode(anime, 1)
    cache.clear()
    with django_assert_max_num_queries(6):
        assert client.get(url).status_code == 200
    with django_assert_max_num_queries(6):
        assert client.get("/search/?q=isi").status_code == 200


def test_cached_anime_page_costs_one_query(
    client: Client, sample: SampleCatalogue, django_assert_max_num_queries
) -> None:
    url = sample.ongoing.get_absolute_url()
    client.get(url)
    with django_assert_max_num_queries(1):
        assert client.get(url).status_code == 200


def test_new_episode_shows_at_once_after_version_bump(
    client: Client, sample: SampleCatalogue
) -> None:
    url = sample.ongoing.get_absolute_url()
    episode_url = sample.episodes[-1].get_absolute_url()
    assert "episode-99" not in client.get(url).content.decode()
    assert 'rel="next"' not in client.get(episode_url).content.decode()
    new = make_episode(sample.ongoing, 99, slug="pedang-bintang-sub-indo-episode-99")
    bump_version(sample.ongoing)  # what ingest does with every change
    assert f'href="/episode/{new.slug}/"' in client.get(url).content.decode()
    assert f'rel="next" href="/episode/{new.slug}/"' in client.get(episode_url).content.decode()
    assert f"/episode/{new.slug}/" in client.get("/").content.decode()


def test_etag_revalidation_answers_304_until_the_anime_changes(
    client: Client, sample: SampleCatalogue
) -> None:
    url = sample.ongoing.get_absolute_url()
    first = client.get(url)
    etag = first["ETag"]
    assert first["Last-Modified"]
    assert "no-cache" in first["Cache-Control"]
    again = client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    bump_version(sample.ongoing)
    changed = client.get(url, headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed["ETag"] != etag


def test_etag_depends_on_language(client: Client, sample: SampleCatalogue) -> None:
    url = "/ongoing/"
    etag_id = client.get(url)["ETag"]
    client.cookies["django_language"] = "en"  # what the language switch link sets
    english = client.get(url, headers={"If-None-Match": etag_id})
    assert english.status_code == 200
    assert "Currently airing anime" in english.content.decode()
