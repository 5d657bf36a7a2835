"""Search that forgives: typos, case, punctuation, season noise, Japanese titles; ranking;
filters and sorts as GET parameters whose links keep them; "Acak"; no 500 on odd input."""

from __future__ import annotations

import datetime
import html
import re
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client

from catalog.models import Anime, Genre
from tests.site_factories import make_anime, make_genre

pytestmark = pytest.mark.django_db


def titles(response) -> list[str]:
    """The titles of the result cards, in the order shown."""
    assert response.status_code == 200
    body = response.content.decode()
    grid = body.split("data-results", 1)[1] if "data-results" in body else ""
    return [html.unescape(t) for t in re.findall(r'<h3 class="card-title">([^<]*)</h3>', grid)]


def search(client: Client, **params) -> list[str]:
    return titles(client.get("/search/", params))


def hrefs(response, marker: str) -> list[str]:
    body = response.content.decode()
    tags = [tag for tag in re.findall(r"<a [^>]*>", body) if marker in tag]
    return [html.unescape(re.search(r'href="([^"]*)"', tag).group(1)) for tag in tags]


def query_of(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def anime(slug: str, title: str, japanese: str = "", **fields) -> Anime:
    return make_anime(slug, title, title_japanese=japanese, **fields)


@pytest.fixture
def shows() -> dict[str, Anime]:
    """Made-up catalogue with the shapes real titles have (seasons, Japanese titles,
    punctuation); the names echo well-known shows so the cases read naturally."""
    return {
        "snk": anime("snk-sub-indo", "Shingeki no Kyojin", "進撃の巨人"),
        "snk2": anime("snk-s2-sub-indo", "Shingeki no Kyojin Season 2", "進撃の巨人 Season 2"),
        "onk3": anime("oshi-ko-s3-sub-indo", "Oshi no Ko Season 3", "【推しの子】 第3期"),
        "onk2": anime("oshi-ko-s2-sub-indo", "Oshi no Ko 2nd Season", "【推しの子】 第2期"),
        "kaguya": anime("kaguya-sub-indo", "Kaguya-sama wa Kokurasetai", "かぐや様は告らせたい"),
        "jojo": anime("jojo-sub-indo", "JoJo's Bizarre Adventure"),
        "kafe": anime("kafe-sub-indo", "Kafé Senja"),
    }


# --- Forgiveness ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("shingeki no kyojn", "Shingeki no Kyojin"),  # a typo
        ("SHINGEKI-NO-KYOJIN!!", "Shingeki no Kyojin"),  # case and punctuation
        ("shingekinokyojin", "Shingeki no Kyojin"),  # run together
        ("shingeki kyojin", "Shingeki no Kyojin"),  # a word left out
        ("shingeki no kyojin anime", "Shingeki no Kyojin"),  # a word too many
        ("進撃の巨人", "Shingeki no Kyojin"),  # the Japanese title
        ("進撃", "Shingeki no Kyojin"),  # part of it
        ("oshi no ko", "Oshi no Ko Season 3"),  # season noise in the title
        ("推しの子", "Oshi no Ko Season 3"),  # 【】 and 第3期 ignored
        ("oshi no ko s3", "Oshi no Ko Season 3"),
        ("Oshi no Ko 3rd Season", "Oshi no Ko Season 3"),
        ("kaguya sama wa kokorasetay", "Kaguya-sama wa Kokurasetai"),  # two typos, long word
        ("kaguya", "Kaguya-sama wa Kokurasetai"),  # the start of a title
        ("jojos bizare", "JoJo's Bizarre Adventure"),  # apostrophe, a typo
        ("kafe", "Kafé Senja"),  # accents
    ],
)
def test_forgiving_queries_find_the_show(
    client: Client, shows: dict[str, Anime], query: str, expected: str
) -> None:
    found = search(client, q=query)
    assert expected in found, (query, found)
    # Nothing unrelated rides along.
    family = expected.split(maxsplit=1)[0].lower()
    assert all(family in title.lower() for title in found), (query, found)


@pytest.mark.parametrize(
    "query",
    [
        "shingeki kyxxxn",  # three typos in a six-letter word
        "kafa",  # short words must be exact: no typo allowed under five letters
        "oshi ni kobayashi",  # two of three words different, not mistyped
        "巨人の進撃",  # the words of a Japanese title in another order
    ],
)
def test_too_far_off_finds_nothing(client: Client, shows: dict[str, Anime], query: str) -> None:
    response = client.get("/search/", {"q": query})
    assert titles(response) == [], query
    assert "Tidak ada anime yang cocok" in response.content.decode()


def test_each_season_is_found_and_the_named_one_comes_first(
    client: Client, shows: dict[str, Anime]
) -> None:
    assert search(client, q="oshi no ko season 2") == [
        "Oshi no Ko 2nd Season",
        "Oshi no Ko Season 3",
    ]
    assert search(client, q="oshi no ko S3") == ["Oshi no Ko Season 3", "Oshi no Ko 2nd Season"]
    assert search(client, q="shingeki no kyojin")[0] == "Shingeki no Kyojin"


# --- Ranking ----------------------------------------------------------------------------


def test_exact_then_prefix_then_words_then_typos(client: Client) -> None:
    for slug, title in [
        ("haruto", "Haruto"),  # one typo away
        ("boruto", "Boruto: Naruto Next Generations"),  # the word, not at the start
        ("shippuden", "Naruto Shippuden"),  # starts with it
        ("naruto", "Naruto"),  # exact
        ("naruto-s2", "Naruto Season 2"),  # exact but for the season
    ]:
        anime(slug, title)
    assert search(client, q="naruto") == [
        "Naruto",
        "Naruto Season 2",
        "Naruto Shippuden",
        "Boruto: Naruto Next Generations",
        "Haruto",
    ]
    # A title's start typed partway: those titles first (the first season first), then
    # the word further in; "narut" is too short for a typo, so Haruto is out.
    partway = search(client, q="narut")
    assert partway[0] == "Naruto"
    assert set(partway[1:3]) == {"Naruto Season 2", "Naruto Shippuden"}
    assert partway[3:] == ["Boruto: Naruto Next Generations"]


# --- Filters and sorts ----------------------------------------------------------------------


@pytest.fixture
def library() -> dict[str, Anime]:
    action, comedy, drama = (
        make_genre("aksi", "Aksi"),
        make_genre("komedi", "Komedi"),
        make_genre("drama", "Drama"),
    )
    rows = {
        "a": anime(
            "robot-a",
            "Robot Api",
            status=Anime.Status.ONGOING,
            type="TV",
            score=Decimal("8.50"),
            release_date=datetime.date(2024, 4, 1),
        ),
        "b": anime(
            "robot-b",
            "Robot Batu",
            status=Anime.Status.COMPLETED,
            type="Movie",
            score=Decimal("7.10"),
            release_date=datetime.date(2021, 7, 9),
        ),
        "c": anime(
            "robot-c",
            "Robot Cahaya",
            status=Anime.Status.COMPLETED,
            type="TV",
            score=None,
            release_date=None,
            release_date_text="Musim semi 2019",
        ),
        "d": anime(
            "robot-d",
            "Robot Debu",
            status=Anime.Status.ONGOING,
            type="ONA",
            score=Decimal("9.05"),
            release_date=datetime.date(2025, 1, 10),
        ),
    }
    rows["a"].genres.add(action, comedy)
    rows["b"].genres.add(action)
    rows["c"].genres.add(comedy, drama)
    rows["d"].genres.add(action, comedy, drama)
    return rows


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"genre": "aksi"}, {"Robot Api", "Robot Batu", "Robot Debu"}),
        ({"genre": ["aksi", "komedi"]}, {"Robot Api", "Robot Debu"}),  # several: all of them
        ({"genre": "aksi,drama"}, {"Robot Debu"}),  # the page's own links join them
        ({"status": "completed"}, {"Robot Batu", "Robot Cahaya"}),
        ({"status": "ongoing"}, {"Robot Api", "Robot Debu"}),
        ({"type": "tv"}, {"Robot Api", "Robot Cahaya"}),
        ({"type": "Movie"}, {"Robot Batu"}),
        ({"year": "2021"}, {"Robot Batu"}),
        ({"year": "2019"}, {"Robot Cahaya"}),  # a year from the origin's unparsed date text
        ({"min_score": "8"}, {"Robot Api", "Robot Debu"}),
        ({"min_score": "8,6"}, {"Robot Debu"}),
        ({"status": "ongoing", "genre": "drama"}, {"Robot Debu"}),
        ({"genre": "aksi", "year": "2019"}, set()),
    ],
)
def test_each_filter_narrows_the_results(
    client: Client, library: dict[str, Anime], params: dict, expected: set[str]
) -> None:
    with_query = search(client, q="robot", **params)
    assert set(with_query) == expected
    # Filters alone browse the whole catalogue.
    assert set(search(client, **params)) == expected


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("newest", ["Robot Debu", "Robot Api", "Robot Batu", "Robot Cahaya"]),
        ("score", ["Robot Debu", "Robot Api", "Robot Batu", "Robot Cahaya"]),
        ("title", ["Robot Api", "Robot Batu", "Robot Cahaya", "Robot Debu"]),
    ],
)
def test_sorts(client: Client, library: dict[str, Anime], sort: str, expected: list[str]) -> None:
    assert search(client, q="robot", sort=sort) == expected
    assert search(client, sort=sort, genre="aksi") == [t for t in expected if t != "Robot Cahaya"]


def test_score_and_newest_sorts_differ_where_the_data_does(
    client: Client, library: dict[str, Anime]
) -> None:
    Anime.objects.filter(slug="robot-b").update(score=Decimal("9.90"), version=5)
    assert search(client, status="completed", sort="score") == ["Robot Batu", "Robot Cahaya"]
    assert search(client, genre="aksi", sort="score")[0] == "Robot Batu"
    assert search(client, genre="aksi", sort="newest")[0] == "Robot Debu"


def test_relevance_is_the_default_with_a_query_and_newest_without(
    client: Client, library: dict[str, Anime]
) -> None:
    anime("robot", "Robot")
    assert search(client, q="robot")[0] == "Robot"
    assert search(client, q="robot", sort="relevance")[0] == "Robot"
    assert search(client, genre="aksi") == ["Robot Debu", "Robot Api", "Robot Batu"]


# --- Links keep the parameters ----------------------------------------------------------------


def test_pagination_chips_and_sort_links_keep_every_parameter(client: Client) -> None:
    action = make_genre("aksi", "Aksi")
    comedy = make_genre("komedi", "Komedi")
    for i in range(30):
        row = anime(f"mecha-{i:02d}", f"Mecha Besi {i:02d}", type="TV", score=Decimal("8.00"))
        row.genres.add(action, comedy)
    params = {"q": "mecha", "genre": ["komedi", "aksi"], "type": "TV", "min_score": "7.5"}
    response = client.get("/search/", {**params, "sort": "title"})
    assert len(titles(response)) == 24
    wanted = {"q": ["mecha"], "genre": ["aksi,komedi"], "type": ["tv"], "min_score": ["7.5"]}

    (next_page,) = hrefs(response, 'rel="next"')
    assert query_of(next_page) == {**wanted, "sort": ["title"], "page": ["2"]}
    second = client.get("/search/" + next_page)
    assert titles(second) == [
        "Mecha Besi 24",
        "Mecha Besi 25",
        *[f"Mecha Besi {i}" for i in range(26, 30)],
    ]

    sorts = dict(
        re.findall(
            r'<a href="([^"]*)"[^>]*>(Relevansi|Terbaru|Skor|Judul)</a>', response.content.decode()
        )
    )
    for url in sorts:
        kept = {k: v for k, v in query_of(html.unescape(url)).items() if k != "sort"}
        assert kept == wanted, url

    chips = {
        kind: html.unescape(url)
        for url, kind in re.findall(
            r'href="([^"]*)" data-chip="([a-z_]+)"', response.content.decode()
        )
    }
    assert set(chips) == {"genre", "type", "min_score"}
    assert query_of(chips["min_score"]) == {
        "q": ["mecha"],
        "genre": ["aksi,komedi"],
        "type": ["tv"],
        "sort": ["title"],
    }
    # Following a chip removes just that filter.
    assert "min_score" not in query_of(chips["min_score"])
    # The filter form shows what is applied.
    body = response.content.decode()
    assert 'value="aksi" checked' in body
    assert 'value="komedi" checked' in body
    assert '<option value="tv" selected>' in body
    assert re.search(r'name="min_score"[^>]*value="7.5"', body)
    assert '<input type="hidden" name="sort" value="title">' in body


def test_genre_chips_drop_one_genre_at_a_time(client: Client, library: dict[str, Anime]) -> None:
    response = client.get("/search/", {"genre": ["aksi", "komedi"]})
    chips = re.findall(
        r'href="([^"]*)" data-chip="genre"><span>([^<]*)</span>', response.content.decode()
    )
    assert {name: query_of(html.unescape(url)).get("genre") for url, name in chips} == {
        "Aksi": ["komedi"],
        "Komedi": ["aksi"],
    }


# --- Odd parameters ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "odd",
    [
        {"year": "abcd"},
        {"year": "99999"},
        {"year": "0"},
        {"min_score": "nan"},
        {"min_score": "inf"},
        {"min_score": "-1"},
        {"min_score": "1e999"},
        {"min_score": "11"},
        {"sort": "DROP TABLE"},
        {"sort": ""},
        {"status": "hiatus"},
        {"type": "<script>alert(1)</script>"},
        {"type": "x" * 500},
        {"genre": "\x00"},
        {"genre": "../../etc"},
        {"genre": ",,,"},
        {"utm_source": "x", "fbclid": "y"},
        {"q": "ROBOT\x00 "},
    ],
)
def test_odd_parameters_are_ignored(client: Client, library: dict[str, Anime], odd: dict) -> None:
    plain = client.get("/search/", {"q": "robot"})
    odd_answer = client.get("/search/", {"q": "robot", **odd})
    assert odd_answer.status_code == 200
    # Ignored: the same page (the same cache entry) as without them.
    assert odd_answer.content == plain.content
    assert odd_answer["ETag"] == plain["ETag"]


@pytest.mark.parametrize(
    "query",
    [
        "genre=" + "&genre=".join(f"g{i}" for i in range(500)),
        "genre=aksi&genre=aksi&genre=AKSI",
        "year=2021&year=abc",
        "q=%E3%80%90%E3%80%91",  # nothing but brackets
        "q=season+2",  # nothing but season noise
        "q=s",
        "q=%F0%9F%8D%9C&genre=aksi",
        "min_score=7&min_score=8&sort=score&sort=title",
        "q=" + "robot+" * 50,
    ],
)
def test_odd_query_strings_never_fail(
    client: Client, library: dict[str, Anime], query: str
) -> None:
    assert client.get(f"/search/?{query}").status_code == 200
    assert client.get(f"/acak/?{query}").status_code == 302


def test_unknown_genre_finds_nothing_rather_than_everything(
    client: Client, library: dict[str, Anime]
) -> None:
    assert search(client, genre="tidak-ada") == []
    assert search(client, genre=["tidak-ada", "aksi"]) == []


def test_bad_page_numbers_are_404(client: Client, library: dict[str, Anime]) -> None:
    for page in ("abc", "0", "99"):
        assert client.get("/search/", {"genre": "aksi", "page": page}).status_code == 404


# --- Acak --------------------------------------------------------------------------------------


def test_random_picks_an_existing_anime_and_is_never_cached(
    client: Client, library: dict[str, Anime]
) -> None:
    slugs = set()
    for _ in range(40):
        response = client.get("/acak/")
        assert response.status_code == 302
        assert "no-store" in response["Cache-Control"]
        slugs.add(response["Location"].split("/")[2])
        assert client.get(response["Location"]).status_code == 200
    assert slugs <= {a.slug for a in library.values()}
    assert len(slugs) > 1  # 40 picks of 4 all alike: 4 in 4^39


def test_random_keeps_to_the_filters(client: Client, library: dict[str, Anime]) -> None:
    for _ in range(10):
        location = client.get("/acak/", {"genre": "drama", "status": "completed"})["Location"]
        assert location == "/anime/robot-c/"
    # Nothing matches: back to the search that says so, filters kept.
    empty = client.get("/acak/", {"genre": "aksi", "year": "1999"})
    assert empty.status_code == 302
    assert query_of(empty["Location"]) == {"genre": ["aksi"], "year": ["1999"]}


def test_random_on_an_empty_catalogue_goes_to_the_search_page(client: Client) -> None:
    response = client.get("/acak/")
    assert response.status_code == 302
    assert response["Location"] == "/search/"


def test_the_search_page_links_to_random_with_its_filters(
    client: Client, library: dict[str, Anime]
) -> None:
    response = client.get("/search/", {"genre": "drama"})
    (link,) = re.findall(r'class="btn btn-random" href="([^"]*)"', response.content.decode())
    assert client.get(html.unescape(link))["Location"] in {"/anime/robot-c/", "/anime/robot-d/"}


# --- The index follows the catalogue -----------------------------------------------------------


def test_changes_to_the_catalogue_show_in_the_next_search(
    client: Client, library: dict[str, Anime]
) -> None:
    assert search(client, q="robot zamrud") == []
    new = anime("robot-z", "Robot Zamrud", status=Anime.Status.COMPLETED)
    assert search(client, q="robot zamrud") == ["Robot Zamrud"]
    # An editor's change of title, status and genres (the version moves, as ingest does).
    new.title = "Robot Safir"
    new.status = Anime.Status.ONGOING
    new.version += 1
    new.save()
    new.genres.add(Genre.objects.get(slug="drama"))
    assert search(client, q="robot zamrud") == []
    assert search(client, q="robot safir", status="ongoing", genre="drama") == ["Robot Safir"]
    new.delete()
    assert search(client, q="robot safir") == []


# --- Database down: the kept copy of the same search ----------------------------------------


def test_database_down_serves_the_kept_copy_of_that_very_search(
    client: Client, library: dict[str, Anime], monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.db import OperationalError

    shown = search(client, q="robot", genre="drama")
    assert set(shown) == {"Robot Cahaya", "Robot Debu"}
    assert len(search(client, q="robot")) == 4

    def broken(*args: object, **kwargs: object) -> str:
        raise OperationalError(2003, "Can't connect to MySQL server")

    monkeypatch.setattr("catalog.selectors.catalogue_version", broken)
    # The same search spelt otherwise finds its copy, with the notice; not the plain one.
    kept = client.get("/search/?genre=drama&q=ROBOT&sort=relevance&utm_source=x")
    assert kept.status_code == 200
    assert "Data per" in kept.content.decode()
    assert titles(kept) == shown
    # A search never shown before has no copy: the 503 page, not another search's copy.
    assert client.get("/search/", {"q": "robot", "genre": "aksi"}).status_code == 503


# --- Cost ----------------------------------------------------------------------------------------


def test_a_search_costs_a_fixed_number_of_queries_whatever_it_finds(
    client: Client, library: dict[str, Anime], django_assert_max_num_queries
) -> None:
    from django.core.cache import cache

    drama = Genre.objects.get(slug="drama")
    for i in range(60):
        anime(f"robot-x{i}", f"Robot Extra {i}", score=Decimal("8.00")).genres.add(drama)
    cache.clear()
    # The catalogue's version, the site status, the index (anime, genres), the cards.
    with django_assert_max_num_queries(6):
        assert len(search(client, q="robot extr", genre="drama", min_score="7")) == 24
    # Another search of the same catalogue: the index is kept, only the cards are read.
    with django_assert_max_num_queries(3):
        assert len(search(client, q="robto", sort="score")) == 24


def test_robots_keep_crawlers_off_random(client: Client) -> None:
    assert "Disallow: /acak/" in client.get("/robots.txt").content.decode().splitlines()
