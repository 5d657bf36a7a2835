"""Following anime without an account: the Diikuti page (a cacheable shell the browser
fills from localStorage), the JSON of followed anime's newest episodes it and the home
rail read, and the markup static/js/follow.js hooks into. The browser side is in
tests/test_browser_follow.py."""

from __future__ import annotations

import datetime

import pytest
from django.test import Client

from catalog.models import Anime
from tests.site_factories import (
    SampleCatalogue,
    build_sample_catalogue,
    bump_version,
    make_anime,
    make_episode,
)

pytestmark = pytest.mark.django_db

FEED = "/diikuti/episode-terbaru/"


def feed(client: Client, slugs: str, **headers: str):
    return client.get(FEED, {"anime": slugs}, **headers)


def test_diikuti_page_is_a_shell_the_browser_fills(client: Client, sample: SampleCatalogue) -> None:
    response = client.get("/diikuti/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Anime diikuti" in html
    assert "data-follow-page" in html
    assert 'data-calendar-url="/jadwal/kalender.ics"' in html
    # Nothing of any viewer in it: no anime of the catalogue is named on the page.
    assert sample.ongoing.title not in html
    assert 'aria-current="page">Diikuti</a>' in html
    assert '<meta name="robots" content="noindex">' in html  # personal: not for search engines
    # Cached like every page: revalidated with an ETag, the same bytes for everyone.
    again = client.get("/diikuti/", HTTP_IF_NONE_MATCH=response["ETag"])
    assert again.status_code == 304


def test_every_page_carries_the_follow_button_template_and_nav_link(
    client: Client, sample: SampleCatalogue
) -> None:
    for url in ("/", "/ongoing/", sample.ongoing.get_absolute_url()):
        html = client.get(url).content.decode()
        assert "data-follow-button" in html, url
        assert f'data-feed="{FEED}"' in html
        assert ">Ikuti<" in html
        assert 'href="/diikuti/"' in html
        assert "js/follow.js" in html
    home = client.get("/").content.decode()
    assert "data-follow-rail" in home
    assert ">baru<" in home  # the rail's "new" badge, shown by the script
    anime = client.get(sample.ongoing.get_absolute_url()).content.decode()
    # The anime page's button is in the markup (its place kept: no layout shift).
    assert f'data-follow="{sample.ongoing.slug}" data-follow-title="Pedang Bintang"' in anime


def test_feed_gives_newest_episodes_of_the_requested_anime() -> None:
    sample = build_sample_catalogue(episodes=5)
    client = Client()
    slugs = f"{sample.ongoing.slug},{sample.completed.slug},tidak-ada"
    response = feed(client, slugs)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    data = response.json()
    expected = sorted([sample.ongoing.slug, sample.completed.slug])
    assert [a["slug"] for a in data["anime"]] == expected
    assert data["missing"] == ["tidak-ada"]
    ongoing = next(a for a in data["anime"] if a["slug"] == sample.ongoing.slug)
    assert ongoing["title"] == "Pedang Bintang"
    assert ongoing["url"] == sample.ongoing.get_absolute_url()
    assert ongoing["ongoing"] is True
    assert ongoing["day"] == "Senin"
    # The three newest of five, newest first, with what a card shows.
    assert [e["label"] for e in ongoing["episodes"]] == ["Eps 5", "Eps 4", "Eps 3"]
    newest = ongoing["episodes"][0]
    assert newest["url"] == sample.episodes[4].get_absolute_url()
    assert newest["date"] == "2026-02-09"
    assert newest["date_text"] == "9 Feb 2026"
    assert datetime.datetime.fromisoformat(newest["added"]).tzinfo is not None


def test_feed_shows_a_new_episode_at_once(client: Client, sample: SampleCatalogue) -> None:
    first = feed(client, sample.ongoing.slug)
    assert first.json()["anime"][0]["episodes"][0]["label"] == "Eps 3"
    make_episode(sample.ongoing, 4, published_on=datetime.date(2026, 2, 2))
    bump_version(sample.ongoing)  # what ingest does
    second = feed(client, sample.ongoing.slug)
    assert second.json()["anime"][0]["episodes"][0]["label"] == "Eps 4"
    assert second["ETag"] != first["ETag"]


def test_feed_is_cached_per_set_whatever_the_order(client: Client, sample: SampleCatalogue) -> None:
    one = feed(client, f"{sample.ongoing.slug},{sample.completed.slug}")
    other = feed(client, f"{sample.completed.slug},{sample.ongoing.slug},{sample.ongoing.slug}")
    assert one.json() == other.json()
    assert one["ETag"] == other["ETag"]
    assert one["Cache-Control"] == "no-cache"
    both = f"{sample.ongoing.slug},{sample.completed.slug}"
    again = feed(client, both, HTTP_IF_NONE_MATCH=one["ETag"])
    assert again.status_code == 304


def test_feed_speaks_the_viewers_language(client: Client, sample: SampleCatalogue) -> None:
    client.get("/bahasa/en/")
    data = feed(client, sample.ongoing.slug).json()
    assert data["anime"][0]["episodes"][0]["label"] == "Ep 3"
    assert data["anime"][0]["day"] == "Monday"


def test_feed_of_nothing_is_empty(client: Client, sample: SampleCatalogue) -> None:
    for query in ({}, {"anime": ""}, {"anime": ",,"}):
        response = client.get(FEED, query)
        assert response.status_code == 200
        assert response.json() == {"anime": [], "missing": []}


@pytest.mark.parametrize(
    "slugs",
    [
        ",".join(f"anime-{n}" for n in range(101)),  # over the bound
        "ada/garis-miring",
        "ada spasi",
        "kontrol\x07",
        "x" * 256,
        "../../etc/passwd",
    ],
    ids=["101-slugs", "slash", "space", "control", "too-long", "traversal"],
)
def test_feed_refuses_odd_input_with_400(
    client: Client, sample: SampleCatalogue, slugs: str
) -> None:
    response = feed(client, slugs)
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/plain")


def test_feed_takes_a_full_list_in_a_fixed_number_of_queries(
    client: Client, django_assert_max_num_queries
) -> None:
    for n in range(100):
        anime = make_anime(f"anime-{n}", f"Anime {n}", release_day="Rabu")
        make_episode(anime, 1)
        make_episode(anime, 2)
    slugs = ",".join(f"anime-{n}" for n in range(100))
    with django_assert_max_num_queries(4):
        response = feed(client, slugs)
    assert response.status_code == 200
    data = response.json()
    assert len(data["anime"]) == 100
    assert all([e["label"] for e in a["episodes"]] == ["Eps 2", "Eps 1"] for a in data["anime"])


def test_unicode_slugs_are_followed(client: Client) -> None:
    anime = make_anime("oshi-no-ko-推し", "【推しの子】", status=Anime.Status.ONGOING)
    make_episode(anime, 1)
    data = feed(client, anime.slug).json()
    assert data["anime"][0]["title"] == "【推しの子】"
    assert data["anime"][0]["url"] == anime.get_absolute_url()


def test_posters_come_from_our_domain(client: Client, sample: SampleCatalogue) -> None:
    anime = sample.ongoing
    data = feed(client, anime.slug).json()
    assert data["anime"][0]["poster"] == ""  # not fetched yet: the page draws a placeholder
    Anime.objects.filter(pk=anime.pk).update(poster_key="0123456789abcdef")
    bump_version(anime)
    poster = feed(client, anime.slug).json()["anime"][0]["poster"]
    assert poster == "/media/posters/0123456789abcdef-270.jpg"


def test_episode_cards_name_their_anime_for_the_follow_button(
    client: Client, sample: SampleCatalogue
) -> None:
    html = client.get("/").content.decode()
    episode = sample.episodes[-1]
    assert f'data-episode="{episode.slug}" data-anime="{sample.ongoing.slug}"' in html
