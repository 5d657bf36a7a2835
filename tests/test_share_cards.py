"""Share cards and search-engine hints, read back from the pages as a share scraper or a
search engine reads them: OpenGraph/Twitter tags, the canonical URL and JSON-LD, whose
values must be the stored data, with absolute URLs of the host the page was asked on."""

from __future__ import annotations

import datetime
import io
import json
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.contrib.staticfiles import finders
from django.test import Client
from PIL import Image
from selectolax.lexbor import LexborHTMLParser

from catalog import seo
from catalog.models import Anime, Episode
from scraper import posters as fetcher
from tests.fake_origin.posters import poster_jpeg
from tests.site_factories import SampleCatalogue, make_anime, make_episode, make_genre

pytestmark = pytest.mark.django_db

SITE = "http://testserver"


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


class Head:
    """What a share scraper reads from a page's <head>."""

    def __init__(self, html: str) -> None:
        self.tree = LexborHTMLParser(html)

    def meta(self, name: str) -> str | None:
        for node in self.tree.css("head meta"):
            if name in (node.attributes.get("property"), node.attributes.get("name")):
                return node.attributes.get("content")
        return None

    def metas(self, name: str) -> list[str | None]:
        return [
            node.attributes.get("content")
            for node in self.tree.css("head meta")
            if name in (node.attributes.get("property"), node.attributes.get("name"))
        ]

    @property
    def canonical(self) -> list[str | None]:
        return [n.attributes.get("href") for n in self.tree.css('link[rel="canonical"]')]

    def json_ld(self) -> list[dict[str, Any]]:
        return [json.loads(n.text()) for n in self.tree.css('script[type="application/ld+json"]')]

    def ld(self, kind: str) -> dict[str, Any]:
        found = [item for item in self.json_ld() if item["@type"] == kind]
        assert len(found) == 1, (kind, self.json_ld())
        assert found[0]["@context"] == "https://schema.org"
        return found[0]


def head_of(client: Client, url: str, **headers: str) -> Head:
    response = client.get(url, **headers)
    assert response.status_code == 200, url
    return Head(response.content.decode())


def store_poster(anime: Anime) -> str:
    key = fetcher.store(poster_jpeg(f"/wp-content/uploads/2026/01/{anime.slug}.jpg"))
    Anime.objects.filter(pk=anime.pk).update(poster_key=key, version=anime.version + 1)
    anime.refresh_from_db()
    return key


def crumbs(item: dict[str, Any]) -> list[tuple[str, str]]:
    elements = item["itemListElement"]
    assert [e["position"] for e in elements] == list(range(1, len(elements) + 1))
    return [(e["name"], e["item"]) for e in elements]


def image_size(client: Client, url: str) -> tuple[str, tuple[int, int]]:
    """What a scraper that follows og:image gets: the picture's format and size."""
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == SITE
    response = client.get(parts.path)
    assert response.status_code == 200
    image = Image.open(io.BytesIO(b"".join(response.streaming_content)))
    return response["Content-Type"], image.size


def test_anime_page_card_and_tv_series_are_the_stored_anime(client: Client) -> None:
    action, drama = make_genre("aksi", "Aksi"), make_genre("drama", "Drama")
    synopsis = "Seorang pendekar muda menempuh perjalanan panjang. " * 8
    anime = make_anime(
        "pedang-bintang",
        "Pedang Bintang",
        title_japanese="星の剣",
        synopsis=synopsis,
        total_episodes=12,
        release_date=datetime.date(2026, 1, 5),
        studios=["Studio Contoh", "Studio Lain"],
        score=Decimal("8.12"),
    )
    anime.genres.add(action, drama)
    key = store_poster(anime)

    head = head_of(client, anime.get_absolute_url())
    url = f"{SITE}/anime/pedang-bintang/"
    assert head.canonical == [url]
    assert head.meta("og:url") == url
    assert head.meta("og:type") == "video.tv_show"
    assert head.meta("og:title") == head.meta("twitter:title") == "Pedang Bintang"
    assert head.meta("og:site_name") == "otakusite"
    assert head.meta("og:locale") == "id_ID"
    # The synopsis, trimmed at a word for the description (meta, OpenGraph, Twitter alike).
    description = head.meta("description")
    assert description == head.meta("og:description") == head.meta("twitter:description")
    assert len(description) <= seo.DESCRIPTION_LENGTH
    assert description.endswith("…")
    assert synopsis.startswith(description[:-1])
    assert not synopsis[len(description) - 1].isalnum()  # cut between two words
    # Our own JPEG of the poster, absolute, with its real size.
    image = head.meta("og:image")
    assert image == f"{SITE}/media/posters/{key}-360.jpg"
    assert head.meta("twitter:image") == image
    assert head.meta("og:image:type") == "image/jpeg"
    assert image_size(client, image) == (
        "image/jpeg",
        (int(head.meta("og:image:width")), int(head.meta("og:image:height"))),
    )
    assert head.meta("og:image:alt") == "Poster Pedang Bintang"
    assert head.meta("twitter:card") == "summary"  # a portrait poster: the square card

    series = head.ld("TVSeries")
    assert series["name"] == "Pedang Bintang"
    assert series["alternateName"] == "星の剣"
    assert series["url"] == url
    assert series["image"] == image
    assert series["description"] == description
    assert series["genre"] == ["Aksi", "Drama"]
    assert series["numberOfEpisodes"] == 12
    assert series["startDate"] == "2026-01-05"
    assert [c["name"] for c in series["productionCompany"]] == ["Studio Contoh", "Studio Lain"]
    # The page's own trail: home, the status list, the anime.
    assert crumbs(head.ld("BreadcrumbList")) == [
        ("Beranda", f"{SITE}/"),
        ("Sedang tayang", f"{SITE}/ongoing/"),
        ("Pedang Bintang", url),
    ]


def test_without_a_poster_the_site_picture_is_shared_and_no_image_is_claimed(
    client: Client, settings
) -> None:
    anime = make_anime("tanpa-poster", "Tanpa Poster", synopsis="")
    head = head_of(client, anime.get_absolute_url())
    image = head.meta("og:image")
    assert image is not None
    assert image.startswith(f"{SITE}/static/img/")
    # Served by whitenoise/nginx from the collected static files: read from the source.
    found = finders.find(urlsplit(image).path.removeprefix(settings.STATIC_URL))
    assert found
    with Image.open(found) as picture:
        assert picture.size == (int(head.meta("og:image:width")), int(head.meta("og:image:height")))
        assert Image.MIME[picture.format] == head.meta("og:image:type")
    assert "image" not in head.ld("TVSeries")
    # No synopsis: still a description of the anime, not the site's.
    assert head.meta("og:description") == "Nonton Tanpa Poster subtitle Indonesia."


def test_episode_page_is_a_tv_episode_of_its_series(
    client: Client, sample: SampleCatalogue
) -> None:
    anime = sample.ongoing
    key = store_poster(anime)
    episode = sample.episodes[1]
    Episode.objects.filter(pk=episode.pk).update(number=Decimal("2.5"))
    episode.refresh_from_db()

    head = head_of(client, episode.get_absolute_url())
    url = f"{SITE}{episode.get_absolute_url()}"
    series_url = f"{SITE}{anime.get_absolute_url()}"
    assert head.canonical == [url]
    assert head.meta("og:url") == url
    assert head.meta("og:type") == "video.episode"
    assert head.meta("video:series") == series_url
    assert head.meta("og:title") == episode.title
    assert head.meta("og:description").startswith(f"Nonton {episode.title} subtitle Indonesia.")
    # The 16:10 crop, in the large card.
    assert head.meta("og:image") == f"{SITE}/media/posters/{key}-w360.jpg"
    assert image_size(client, head.meta("og:image")) == ("image/jpeg", (360, 225))
    assert head.meta("twitter:card") == "summary_large_image"

    item = head.ld("TVEpisode")
    assert item["name"] == episode.title
    assert item["url"] == url
    assert item["episodeNumber"] == "2.5"
    assert item["datePublished"] == episode.published_on.isoformat()
    assert item["partOfSeries"] == {"@type": "TVSeries", "name": anime.title, "url": series_url}
    assert crumbs(head.ld("BreadcrumbList")) == [
        ("Beranda", f"{SITE}/"),
        (anime.title, series_url),
        (episode.title, url),
    ]
    first = head_of(client, sample.episodes[0].get_absolute_url()).ld("TVEpisode")
    assert first["episodeNumber"] == 1


def test_home_is_the_website_with_its_search_action(
    client: Client, sample: SampleCatalogue
) -> None:
    head = head_of(client, "/")
    assert head.canonical == [f"{SITE}/"]
    assert head.meta("og:type") == "website"
    # The site's wide picture, in the large card.
    assert head.meta("og:image") == f"{SITE}/static/img/share.jpg"
    assert (head.meta("og:image:width"), head.meta("og:image:height")) == ("1200", "630")
    assert head.meta("twitter:card") == "summary_large_image"
    site = head.ld("WebSite")
    assert site["url"] == f"{SITE}/"
    action = site["potentialAction"]
    assert action["@type"] == "SearchAction"
    assert action["query-input"] == "required name=search_term_string"
    template = action["target"]["urlTemplate"]
    # The template really searches: the sample's anime is found through it.
    path = urlsplit(template.replace("{search_term_string}", "pedang")).path
    query = urlsplit(template.replace("{search_term_string}", "pedang")).query
    assert template.startswith(f"{SITE}/search/?q=")
    body = client.get(f"{path}?{query}").content.decode()
    assert sample.ongoing.get_absolute_url() in body


def test_genre_pages_keep_their_page_number_and_drop_everything_else(client: Client) -> None:
    genre = make_genre("aksi", "Aksi")
    for n in range(30):  # two pages of cards
        make_anime(f"anime-{n:02d}", f"Anime {n:02d}").genres.add(genre)
    first = head_of(client, "/genres/aksi/?utm_source=x&page=1")
    assert first.canonical == [f"{SITE}/genres/aksi/"]
    assert first.meta("og:url") == f"{SITE}/genres/aksi/"
    assert first.meta("og:title") == "Genre Aksi"
    assert first.meta("og:description") == "Daftar anime genre Aksi subtitle Indonesia."
    assert crumbs(first.ld("BreadcrumbList")) == [
        ("Beranda", f"{SITE}/"),
        ("Genre", f"{SITE}/genres/"),
        ("Aksi", f"{SITE}/genres/aksi/"),
    ]
    # Page 2 lists other anime: its own canonical page.
    second = head_of(client, "/genres/aksi/?page=2&ref=share")
    assert second.canonical == [f"{SITE}/genres/aksi/?page=2"]
    assert second.meta("og:title") == "Genre Aksi · Halaman 2"
    assert head_of(client, "/ongoing/?page=2").canonical == [f"{SITE}/ongoing/?page=2"]
    for path in ("/ongoing/", "/completed/", "/anime/", "/genres/", "/jadwal/"):
        assert head_of(client, f"{path}?fbclid=abc").canonical == [f"{SITE}{path}"]


def test_search_results_are_not_indexed_but_share_the_same_search(
    client: Client, sample: SampleCatalogue
) -> None:
    response = client.get("/search/?q=Pedang&status=ongoing&utm_medium=x&page=1")
    head = Head(response.content.decode())
    assert head.metas("robots") == ["noindex, follow"]
    assert head.canonical == []  # a canonical elsewhere would contradict the noindex
    assert head.meta("og:url") == f"{SITE}/search/?q=pedang&status=ongoing"
    assert head.meta("og:title") == "Hasil pencarian “pedang”"
    assert head.json_ld() == []
    # Other pages are indexed.
    assert head_of(client, sample.ongoing.get_absolute_url()).metas("robots") == []


def test_a_title_cannot_break_out_of_the_tags_or_the_json_ld(client: Client) -> None:
    evil = '</script><b>"x"</b><!--'
    genre = make_genre("evil-genre", f"{evil} genre")
    anime = make_anime(
        "evil", f"{evil} & co", title_japanese=evil, synopsis=f"{evil} <script>alert(1)</script>"
    )
    anime.genres.add(genre)
    episode = make_episode(anime, 1)
    urls = {
        anime.get_absolute_url(): anime.title,
        episode.get_absolute_url(): anime.title,
        genre.get_absolute_url(): genre.name,
    }
    for url, stored in urls.items():
        html = client.get(url).content.decode()
        assert "</script><b>" not in html
        assert "<!--" not in html
        head = Head(html)
        # Nothing of the title became markup: no <b>, and only the site's own scripts.
        assert [b.text() for b in head.tree.css("b")] == ["site"]  # the logo's own
        scripts = head.tree.css("script")
        assert all(s.attributes.get("src") or s.attributes.get("type") for s in scripts)
        # And it reads back as it is stored.
        items = head.json_ld()
        assert items, url
        names = [i.get("name") for i in items] + [
            e["name"] for i in items for e in i.get("itemListElement", [])
        ]
        assert stored in names, url
    head = head_of(client, anime.get_absolute_url())
    assert head.meta("og:title") == f"{evil} & co"
    assert head.ld("TVSeries")["alternateName"] == evil
    assert head.ld("TVSeries")["genre"] == [f"{evil} genre"]


def test_canonical_behind_the_proxy_is_the_public_https_url(client: Client, settings) -> None:
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.USE_X_FORWARDED_HOST = True
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "anime.example.org"]
    anime = make_anime("pedang-bintang", "Pedang Bintang")
    key = store_poster(anime)
    proxied = {"HTTP_X_FORWARDED_PROTO": "https", "HTTP_X_FORWARDED_HOST": "anime.example.org"}
    public = "https://anime.example.org"

    head = head_of(client, anime.get_absolute_url(), **proxied)
    assert head.canonical == [f"{public}/anime/pedang-bintang/"]
    assert head.meta("og:image") == f"{public}/media/posters/{key}-360.jpg"
    assert head.ld("BreadcrumbList")["itemListElement"][0]["item"] == f"{public}/"
    assert head_of(client, "/", **proxied).ld("WebSite")["url"] == f"{public}/"
    # The same page asked on the internal address is cached apart: its own links.
    inside = head_of(client, anime.get_absolute_url())
    assert inside.canonical == [f"{SITE}/anime/pedang-bintang/"]
    again = head_of(client, anime.get_absolute_url(), **proxied)
    assert again.canonical == [f"{public}/anime/pedang-bintang/"]


def test_english_pages_say_so(client: Client, sample: SampleCatalogue) -> None:
    client.cookies["django_language"] = "en"
    head = head_of(client, sample.ongoing.get_absolute_url())
    assert head.meta("og:locale") == "en_US"
    assert crumbs(head.ld("BreadcrumbList"))[0][0] != "Beranda"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Pendek.", "Pendek."),
        ("  baris\n\nbaru   dan  spasi ", "baris baru dan spasi"),
        ("kata " * 40, ("kata " * 31).strip() + "…"),
        ("x" * 200, "x" * 159 + "…"),
    ],
)
def test_summary_cuts_between_words(text: str, expected: str) -> None:
    assert seo.summary(text) == expected
    assert len(seo.summary(text)) <= seo.DESCRIPTION_LENGTH
