"""Every viewer page answers, shows what a viewer expects, and never 500s on odd input."""

from __future__ import annotations

import datetime
import json
import re

import pytest
from django.test import Client

from catalog.models import Anime, Episode, Genre, ScrapeRun
from tests.site_factories import (
    SampleCatalogue,
    make_anime,
    make_episode,
)

pytestmark = pytest.mark.django_db


def text_of(response) -> str:
    return response.content.decode()


def test_every_page_answers(client: Client, sample: SampleCatalogue) -> None:
    urls = [
        "/",
        "/ongoing/",
        "/completed/",
        "/anime/",
        "/genres/",
        "/genres/aksi/",
        "/jadwal/",
        "/search/?q=pedang",
        "/search/",
        f"/anime/{sample.ongoing.slug}/",
        f"/anime/{sample.completed.slug}/",
        f"/episode/{sample.episodes[0].slug}/",
        "/feed/",
        f"/anime/{sample.ongoing.slug}/feed/",
        "/sitemap.xml",
        "/sitemap-anime.xml",
        "/robots.txt",
        "/healthz",
    ]
    for url in urls:
        assert client.get(url).status_code == 200, url


@pytest.mark.parametrize(
    "url",
    [
        "/anime/tidak-ada/",
        "/episode/tidak-ada/",
        "/genres/tidak-ada/",
        "/anime/tidak-ada/feed/",
        "/ongoing/?page=0",
        "/ongoing/?page=-1",
        "/ongoing/?page=abc",
        "/ongoing/?page=999",
        "/ongoing/?page=99999999999999999999",
        "/completed/?page=1.5",
        "/genres/aksi/?page=2",
        "/search/?q=pedang&page=7",
        "/api/mirror/999999/",
        "/bahasa/xx/",
        "/sitemap-nothing.xml",
    ],
)
def test_unknown_things_are_404(client: Client, sample: SampleCatalogue, url: str) -> None:
    assert client.get(url).status_code == 404


def test_slugs_are_case_sensitive(client: Client, sample: SampleCatalogue) -> None:
    assert client.get(f"/anime/{sample.ongoing.slug.upper()}/").status_code == 404


@pytest.mark.parametrize(
    "query",
    [
        "x" * 5000,
        "%",
        "_",
        "'; DROP TABLE catalog_anime; --",
        "a\x00b",
        "\u202e\u200b",
        "🍜🍜🍜",
        "   ",
        "<script>alert(1)</script>",
        "a " * 300,
    ],
)
def test_odd_search_queries_get_a_friendly_page(
    client: Client, sample: SampleCatalogue, query: str
) -> None:
    response = client.get("/search/", {"q": query})
    assert response.status_code == 200
    assert "<script>alert(1)</script>" not in text_of(response)


def test_search_finds_titles_case_and_accent_insensitively(
    client: Client, sample: SampleCatalogue
) -> None:
    body = text_of(client.get("/search/", {"q": "KAFE"}))
    assert "Kafé Senja" in body
    assert "Pedang Bintang" not in body
    # The Japanese title is searchable too.
    assert "Pedang Bintang" in text_of(client.get("/search/", {"q": "星の剣"}))


def test_search_paginates(client: Client, sample: SampleCatalogue) -> None:
    for i in range(30):
        make_anime(f"robot-{i:02d}", f"Robot Besi {i:02d}")
    first = text_of(client.get("/search/", {"q": "robot besi"}))
    second = text_of(client.get("/search/", {"q": "robot besi", "page": 2}))
    assert "30 anime ditemukan" in first
    assert "Robot Besi 00" in first
    assert "Robot Besi 29" not in first
    assert "Robot Besi 29" in second
    # The pagination links keep the query.
    assert "?q=robot+besi&amp;page=2" in first


def test_empty_and_overlong_queries_explain_themselves(client: Client) -> None:
    assert "Ketik judul anime" in text_of(client.get("/search/"))
    assert "terlalu panjang" in text_of(client.get("/search/", {"q": "z" * 500}))


def test_home_shows_new_episodes_completed_anime_and_todays_schedule(
    client: Client, sample: SampleCatalogue, monkeypatch: pytest.MonkeyPatch
) -> None:
    from catalog import selectors

    monkeypatch.setattr(selectors, "today_name", lambda now=None: "Senin")
    body = text_of(client.get("/"))
    newest = sample.episodes[-1]
    assert f'href="/episode/{newest.slug}/"' in body
    assert "Kafé Senja" in body
    assert "Jadwal hari ini (Senin)" in body
    assert 'href="/anime/pedang-bintang-sub-indo/"' in body
    assert "Lanjutkan menonton" in body  # filled by static/js/site.js from localStorage
    assert 'name="q"' in body


def test_home_on_empty_database_is_friendly(client: Client) -> None:
    body = text_of(client.get("/"))
    assert "Katalog masih kosong" in body


def test_home_says_origin_unreachable_and_names_make_demo(client: Client) -> None:
    ScrapeRun.objects.create(kind="update", status="failed", errors="ConnectError: timed out")
    body = text_of(client.get("/"))
    assert "tidak bisa dihubungi" in body
    assert "make demo" in body


def test_home_says_first_crawl_is_running(client: Client) -> None:
    ScrapeRun.objects.create(kind="full", status="running")
    assert "sedang berjalan" in text_of(client.get("/"))


def test_stale_data_notice(client: Client, sample: SampleCatalogue, settings) -> None:
    assert "Data per" not in text_of(client.get("/ongoing/"))
    ScrapeRun.objects.all().delete()
    old = datetime.datetime.now(datetime.UTC) - datetime.timedelta(
        minutes=settings.STALE_AFTER_MINUTES + 5
    )
    ScrapeRun.objects.create(kind="update", status="ok", started_at=old, finished_at=old)
    from django.core.cache import cache

    cache.clear()
    assert "Data per" in text_of(client.get("/ongoing/"))


def test_lists_paginate_and_link_to_anime(client: Client, sample: SampleCatalogue) -> None:
    for i in range(30):
        make_anime(f"tamat-{i:02d}", f"Tamat Lagi {i:02d}", status=Anime.Status.COMPLETED)
    first = text_of(client.get("/completed/"))
    assert 'href="/anime/tamat-29/"' in first  # newest first
    assert 'rel="next"' in first
    second = text_of(client.get("/completed/?page=2"))
    assert "Kafé Senja" in second
    ongoing = text_of(client.get("/ongoing/"))
    assert "Pedang Bintang" in ongoing
    assert "Kafé Senja" not in ongoing


def test_az_index_has_letter_bar_and_groups(client: Client, sample: SampleCatalogue) -> None:
    make_anime("angka", "86 Hari")
    body = text_of(client.get("/anime/"))
    assert 'href="#huruf-K"' in body
    assert 'id="huruf-K"' in body
    assert 'href="#huruf-0"' in body  # titles starting with a digit
    assert body.index('id="huruf-K"') < body.index('id="huruf-P"')


def test_genres_and_genre_page(client: Client, sample: SampleCatalogue) -> None:
    body = text_of(client.get("/genres/"))
    assert 'href="/genres/komedi/"' in body
    assert re.search(r"Komedi\s*<span class=\"count\">2</span>", body)
    genre = text_of(client.get("/genres/aksi/"))
    assert "Pedang Bintang" in genre
    assert "Kafé Senja" not in genre


def test_schedule_groups_ongoing_anime_by_day(client: Client, sample: SampleCatalogue) -> None:
    make_anime("acak", "Acak Saja", release_day="Random")
    body = text_of(client.get("/jadwal/"))
    assert body.index("Senin") < body.index("Pedang Bintang") < body.index("Tidak tentu")
    assert body.index("Tidak tentu") < body.index("Acak Saja")


def test_anime_page(client: Client, sample: SampleCatalogue) -> None:
    body = text_of(client.get(f"/anime/{sample.ongoing.slug}/"))
    assert "星の剣" in body
    assert 'href="/genres/aksi/"' in body
    for ep in sample.episodes:
        assert f'data-episode="{ep.slug}"' in body
    assert 'loading="lazy"' in body or "poster-fallback" in body
    assert "Unduh batch" not in body
    completed = text_of(client.get(f"/anime/{sample.completed.slug}/"))
    assert "Unduh batch" in completed
    assert "Unknown" in text_of(client.get(f"/anime/{make_anime('x', 'X').slug}/"))


def test_posters_come_from_our_domain_lazily_in_lists(
    client: Client, sample: SampleCatalogue
) -> None:
    # The origin's poster URL alone is never shown (its host may be blocked): the
    # placeholder until the worker stored our copy (tests/test_posters.py), then ours.
    Anime.objects.filter(pk=sample.ongoing.pk).update(
        poster_url="https://img.example.test/p.jpg", version=9
    )
    assert "img.example.test" not in text_of(client.get("/ongoing/"))
    Anime.objects.filter(pk=sample.ongoing.pk).update(poster_key="0123456789abcdef0123", version=10)
    for url, lazy in (("/ongoing/", True), (f"/anime/{sample.ongoing.slug}/", False)):
        body = text_of(client.get(url))
        assert "img.example.test" not in body
        img = re.search(r"<img src=\"/media/posters/0123456789abcdef0123-180.jpg\"[^>]*>", body)
        assert img, url
        assert ('loading="lazy"' in img.group(0)) is lazy


def test_episode_page(client: Client, sample: SampleCatalogue) -> None:
    middle = sample.episodes[1]
    body = text_of(client.get(f"/episode/{middle.slug}/"))
    iframe = re.search(r"<iframe[^>]*>", body).group(0)
    assert f'src="{sample.embed_base}/default/2"' in iframe
    assert "allowfullscreen" in iframe
    assert 'referrerpolicy="no-referrer"' in iframe
    # Mirrors grouped by quality, lowest first.
    assert body.index('class="mirror-quality">480p') < body.index('class="mirror-quality">720p')
    assert body.count("data-mirror=") == 4
    # Downloads: one row per format and quality, sizes shown, every provider linked.
    assert body.count("<tr>") == 1 + 4
    assert "150 MB" in body
    assert "https://files.example.test/mkv/720p/1" in body
    # Previous / next / all episodes.
    assert f'rel="prev" href="/episode/{sample.episodes[0].slug}/"' in body
    assert f'rel="next" href="/episode/{sample.episodes[2].slug}/"' in body
    assert f'href="/anime/{sample.ongoing.slug}/#episodes"' in body


def test_first_and_last_episode_have_no_dead_links(client: Client, sample: SampleCatalogue) -> None:
    first = text_of(client.get(f"/episode/{sample.episodes[0].slug}/"))
    last = text_of(client.get(f"/episode/{sample.episodes[-1].slug}/"))
    assert 'rel="prev"' not in first
    assert 'rel="next"' in first
    assert 'rel="next"' not in last
    assert 'rel="prev"' in last


def test_episode_without_streams_says_so(client: Client, sample: SampleCatalogue) -> None:
    bare = make_episode(sample.completed, 2)
    body = text_of(client.get(f"/episode/{bare.slug}/"))
    assert "Belum ada stream" in body
    assert "Belum ada link unduhan" in body


def test_embed_on_unknown_host_is_not_framed(client: Client, sample: SampleCatalogue) -> None:
    Episode.objects.filter(pk=sample.episodes[0].pk).update(
        default_embed_url="https://unknown-host.example.test/e/1"
    )
    body = text_of(client.get(f"/episode/{sample.episodes[0].slug}/"))
    assert "unknown-host.example.test" not in body
    assert "Pilih mirror" in body


def test_rss_feeds(client: Client, sample: SampleCatalogue) -> None:
    response = client.get("/feed/")
    assert response["Content-Type"].startswith("application/rss+xml")
    body = text_of(response)
    assert "<rss" in body
    assert f"/episode/{sample.episodes[-1].slug}/" in body
    per_anime = text_of(client.get(f"/anime/{sample.completed.slug}/feed/"))
    assert "Kafé Senja" in per_anime
    assert "Pedang Bintang Episode" not in per_anime


def test_sitemap_and_robots(client: Client, sample: SampleCatalogue) -> None:
    index = text_of(client.get("/sitemap.xml"))
    for section in ("static", "anime", "genres", "episodes"):
        assert f"sitemap-{section}.xml" in index
    assert f"/anime/{sample.ongoing.slug}/" in text_of(client.get("/sitemap-anime.xml"))
    assert f"/episode/{sample.episodes[0].slug}/" in text_of(client.get("/sitemap-episodes.xml"))
    robots = client.get("/robots.txt")
    assert robots["Content-Type"].startswith("text/plain")
    assert "Sitemap: http://testserver/sitemap.xml" in text_of(robots)
    assert "Disallow: /admin/" in text_of(robots)


def test_healthz(client: Client, sample: SampleCatalogue) -> None:
    response = client.get("/healthz")
    data = json.loads(response.content)
    assert response.status_code == 200
    assert data["database"] is True
    assert data["cache"] is True
    assert data["last_update"] is not None
    assert 0 <= data["last_update_age_seconds"] < 60
    assert data["stale"] is False


def test_healthz_without_any_update(client: Client) -> None:
    data = json.loads(client.get("/healthz").content)
    assert data["last_update"] is None
    assert data["last_update_age_seconds"] is None


def test_language_switch_to_english(client: Client, sample: SampleCatalogue) -> None:
    response = client.get("/bahasa/en/", {"next": "/ongoing/"})
    assert response.status_code == 302
    assert response["Location"] == "/ongoing/"
    body = text_of(client.get("/ongoing/"))
    assert '<html lang="en">' in body
    assert "Currently airing" in body
    # Indonesian stays the default.
    assert "Anime sedang tayang" in text_of(Client().get("/ongoing/"))


def test_language_switch_refuses_foreign_redirects(client: Client) -> None:
    response = client.get("/bahasa/en/", {"next": "https://evil.example.test/"})
    assert response["Location"] == "/"


def test_unicode_slugs_and_titles(client: Client) -> None:
    anime = make_anime("ōkami-ページ", "Ōkami 🐺 ページ")
    genre = Genre.objects.create(slug="ファンタジー", name="ファンタジー")
    anime.genres.add(genre)
    assert "Ōkami 🐺 ページ" in text_of(client.get(anime.get_absolute_url()))
    assert "Ōkami 🐺 ページ" in text_of(client.get(genre.get_absolute_url()))
