"""Conformance of the parsers on the real captured otakudesu pages in ../shared.

Every expected value below was read off the captured HTML by a person (titles, counts, dates,
sizes as the page shows them); none is the parser's own output pasted back.
"""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from scraper.parsers import (
    ParseError,
    parse_anime_list,
    parse_detail,
    parse_episode,
    parse_genre_list,
    parse_genre_page,
    parse_home,
    parse_list_page,
    parse_schedule,
    to_jsonable,
)

PAGES = Path(__file__).resolve().parents[1].parent / "shared" / "otakudesu-pages"
pytestmark = pytest.mark.skipif(not PAGES.is_dir(), reason="../shared/otakudesu-pages absent")

BEST = "https://otakudesu.best"
D = datetime.date


def page(name: str) -> str:
    return (PAGES / name).read_text(encoding="utf-8")


# --------------------------------------------------------------------------- home


def test_home_feb_2026_sections_and_cards() -> None:
    home = parse_home(page("home--illhm.html"), f"{BEST}/")
    assert len(home.ongoing) == 15
    assert len(home.completed) == 10

    first = home.ongoing[0]
    assert first.slug == "shibou-yuugi-meshi-kuu-sub-indo"
    assert first.title == "Shibou Yuugi de Meshi wo Kuu."
    assert first.episode_label == "Episode 6"
    assert first.episode_number == 6
    assert first.day == "Kamis"
    assert first.score is None
    assert first.date == D(2026, 2, 11)
    assert first.poster_url == (
        f"{BEST}/wp-content/uploads/2026/01/Shibou-Yuugi-de-Meshi-wo-Kuu..jpg"
    )

    last = home.ongoing[-1]
    assert last.slug == "vigilante-bnh-academia-illegals-s2-sub-indo"
    assert last.title == "Vigilante: Boku no Hero Academia Illegals Season 2"
    assert (last.episode_number, last.day, last.date) == (6, "Senin", D(2026, 2, 9))

    done = home.completed[0]
    assert done.slug == "towa-yuugure-sub-indo"
    assert done.title == "Towa no Yuugure"
    assert done.episode_label == "12 Episode"
    assert done.episode_number == 12
    assert done.score == 6.52
    assert done.day is None
    assert done.date == D(2026, 2, 7)
    # A season where the score usually is: no score, and not a weekday either.
    wandance = home.completed[1]
    assert (wandance.slug, wandance.score, wandance.day) == ("wandnce-sub-indo", None, None)
    assert wandance.season == "Fall 2025"
    # "27 Des" on a page cached on 10 Feb 2026 is December of the year before.
    old = home.completed[-1]
    assert old.slug == "sozai-isekai-ryokouki-sub-indo"
    assert (old.score, old.date) == (6.12, D(2025, 12, 27))


def test_home_aug_2026_on_blog_domain() -> None:
    home = parse_home(page("home--rizkyhaksono-be.html"), "https://otakudesu.blog/")
    assert (len(home.ongoing), len(home.completed)) == (15, 10)
    first = home.ongoing[0]
    assert first.slug == "slime-s4-sub-indo"
    assert first.title == "Tensei shitara Slime Datta Ken Season 4"
    assert (first.episode_number, first.day) == (18, "Jumat")
    # "15 Agu" is a day after the cache stamp (14 Aug, UTC): still this year.
    assert first.date == D(2026, 8, 15)
    assert home.ongoing[-1].title == "Heroine? Seijo? Iie, All Works Maid desu (Hokori)!"
    assert home.ongoing[-1].date == D(2026, 8, 13)
    done = home.completed[0]
    assert done.slug == "youkoso-jitsuryoku-shijou-shugi-no-kyoushitsu-e-s4-sub-indo"
    assert (done.episode_number, done.score, done.date) == (16, 7.85, D(2026, 7, 24))
    assert home.completed[-1].slug == "otonari-ni-tenshi-s2-sub-indo"
    assert home.completed[-1].date == D(2026, 7, 4)


# --------------------------------------------------------------------------- lists


def test_ongoing_page_cards_and_pagination() -> None:
    listing = parse_list_page(page("ongoing--illhm.html"), f"{BEST}/ongoing-anime/")
    assert (listing.page, listing.last_page) == (1, 6)
    assert len(listing.cards) == 25
    assert listing.cards[0].slug == "shibou-yuugi-meshi-kuu-sub-indo"
    last = listing.cards[-1]
    assert (last.slug, last.title, last.episode_number) == ("gnosia-sub-indo", "Gnosia", 17)
    assert (last.day, last.date) == ("Minggu", D(2026, 2, 8))
    assert last.poster_url == f"{BEST}/wp-content/uploads/2025/10/152352.jpg"
    assert all(card.slug and card.title and card.poster_url for card in listing.cards)


@pytest.mark.parametrize(
    ("name", "url", "current", "first_slug", "first_title"),
    [
        (
            "genre-romance--illhm.html",
            f"{BEST}/genres/romance/",
            1,
            "yuusha-party-ni-kawaii-sub-indo",
            "Yuusha Party ni Kawaii Ko ga Ita node, Kokuhaku shitemita.",
        ),
        (
            "genre-romance-page2--illhm.html",
            f"{BEST}/genres/romance/page/2/",
            2,
            "chitose-ramune-bin-naka-sub-indo",
            "Chitose-kun wa Ramune Bin no Naka",
        ),
        (
            "genre-romance-page3--illhm.html",
            f"{BEST}/genres/romance/page/3/",
            3,
            "zutaboro-reijou-wa-ane-no-moto-sub-indo",
            "Zutaboro Reijou wa Ane no Moto Konyakusha ni Dekiai sareru",
        ),
    ],
)
def test_genre_pages(name: str, url: str, current: int, first_slug: str, first_title: str) -> None:
    genre = parse_genre_page(page(name), url)
    assert (genre.genre_slug, genre.genre_name) == ("romance", "Romance")
    assert (genre.page, genre.last_page) == (current, 31)
    assert len(genre.cards) == 15
    assert (genre.cards[0].slug, genre.cards[0].title) == (first_slug, first_title)
    assert all(any(g.slug == "romance" for g in card.genres) for card in genre.cards)


def test_genre_card_fields() -> None:
    first = parse_genre_page(page("genre-romance--illhm.html"), f"{BEST}/genres/romance/").cards
    card = first[0]
    assert card.studio == "Gekkou"
    assert (card.episode_label, card.episode_number) == ("Unknown Eps", None)
    assert card.score == 7.01
    assert card.season == "Winter 2026"
    assert [g.name for g in card.genres] == [
        "Adventure",
        "Comedy",
        "Fantasy",
        "Isekai",
        "Reincarnation",
        "Romance",
    ]
    assert card.poster_url == f"{BEST}/wp-content/uploads/2026/01/152828.jpg"
    assert card.synopsis == ""
    last = first[-1]
    assert (last.slug, last.studio, last.episode_number, last.score) == (
        "kimi-koete-koi-naru-sub-indo",
        "Millepensee",
        12,
        7.08,
    )
    assert last.genres[-1].slug == "urban-fantasy"
    assert last.synopsis is not None
    assert last.synopsis.startswith("Di masa sekarang, manusia kini hidup")

    chitose = parse_genre_page(page("genre-romance-page2--illhm.html"), "").cards[0]
    assert (chitose.studio, chitose.episode_number, chitose.score) == ("feel.", 13, None)

    zutaboro = parse_genre_page(page("genre-romance-page3--illhm.html"), "").cards[0]
    assert zutaboro.season == "Summer 2025"
    assert zutaboro.synopsis is not None
    assert zutaboro.synopsis.startswith("Marie, putri dari salah satu bangsawan")
    assert zutaboro.synopsis.endswith("Anastasia adalah Marie.")
    assert zutaboro.synopsis.count("\n\n") == 2  # three paragraphs, empty ones dropped


def test_anime_list_a_to_z() -> None:
    listing = parse_anime_list(page("anime-list--illhm.html"), f"{BEST}/anime-list/")
    assert len(listing.anime) == 1760
    first = listing.anime[0]
    assert (first.slug, first.title) == (
        "compass-20-sub-indo",
        "#Compass 2.0: Sentou Setsuri Kaiseki System",
    )
    assert listing.anime[-1].slug == "zutaboro-reijou-wa-ane-no-moto-sub-indo"
    by_slug = {a.slug: a.title for a in listing.anime}
    # The "On-Going" marker nested in the link is not part of the title.
    assert by_slug["29sai-nichijou-sub-indo"] == "29-sai Dokushin Chuuken Boukensha no Nichijou"
    assert not any("On-Going" in t or t.endswith("Movie") for t in by_slug.values())
    assert to_jsonable(listing)["anime"][1] == {
        "slug": "100-man-no-inochi-sub-indo",
        "title": "100-man no Inochi no Ue ni Ore wa Tatteiru",
    }


@pytest.mark.parametrize("name", ["genre-list--illhm.html", "genre-list--rizkyhaksono-be.html"])
def test_genre_list(name: str) -> None:
    genres = parse_genre_list(page(name), f"{BEST}/genre-list/").genres
    assert len(genres) == 36
    assert (genres[0].slug, genres[0].name) == ("action", "Action")
    assert (genres[-1].slug, genres[-1].name) == ("vampire", "Vampire")
    assert any((g.slug, g.name) == ("slice-of-life", "Slice of Life") for g in genres)


@pytest.mark.parametrize(
    ("name", "counts", "random_first"),
    [
        ("schedule--illhm.html", [4, 6, 4, 9, 5, 8, 15, 2], "arne-jikenbo-sub-indo"),
        (
            "schedule--rizkyhaksono-be.html",
            [9, 8, 7, 10, 12, 10, 17, 2],
            "my-ribdiculous-reincarnation-sub-indo",
        ),
    ],
)
def test_schedule(name: str, counts: list[int], random_first: str) -> None:
    schedule = parse_schedule(page(name), "https://otakudesu.blog/jadwal-rilis/")
    assert [d.day for d in schedule.days] == [
        "Senin",
        "Selasa",
        "Rabu",
        "Kamis",
        "Jumat",
        "Sabtu",
        "Minggu",
        "Random",
    ]
    assert [len(d.anime) for d in schedule.days] == counts
    assert schedule.days[-1].anime[0].slug == random_first


def test_schedule_titles_keep_quotes_and_entities() -> None:
    monday = parse_schedule(page("schedule--illhm.html"), "").days[0]
    assert monday.anime[0].title == "Goumon Baito-kun no Nichijou"
    tuesday = parse_schedule(page("schedule--illhm.html"), "").days[1]
    assert tuesday.anime[1].title == "Himesama “Goumon” no Jikan desu Season 2"
    random = parse_schedule(page("schedule--rizkyhaksono-be.html"), "").days[-1]
    assert random.anime[0].title.startswith('Megami "Isekai Tensei Nani ni Naritai desu ka"')


# --------------------------------------------------------------------------- detail


def test_detail_oshi_no_ko_s3() -> None:
    url = f"{BEST}/anime/oshi-ko-s3-sub-indo/"
    detail = to_jsonable(parse_detail(page("detail-oshi-ko-s3--illhm.html"), url))
    episodes = detail.pop("episodes")
    assert detail == {
        "slug": "oshi-ko-s3-sub-indo",
        "title": "Oshi no Ko Season 3",
        "title_japanese": "【推しの子】 第3期",
        "score": 8.25,
        "producers": ["Kadokawa"],
        "type": "TV",
        "status": "ongoing",
        "total_episodes": 11,
        "duration": "24 Min.",
        "release_date": "2026-01-14",
        "studios": ["Doga Kobo"],
        "genres": [
            {"slug": "drama", "name": "Drama"},
            {"slug": "reincarnation", "name": "Reincarnation"},
            {"slug": "seinen", "name": "Seinen"},
            {"slug": "showbiz", "name": "Showbiz"},
        ],
        "poster_url": f"{BEST}/wp-content/uploads/2026/01/153329.jpg",
        "synopsis": "",
        "batch": None,
        "lengkap": None,
    }
    assert [e["number"] for e in episodes] == [5, 4, 3, 2, 1]
    assert [e["published_on"] for e in episodes] == [
        "2026-02-11",
        "2026-02-04",
        "2026-01-28",
        "2026-01-21",
        "2026-01-15",
    ]
    assert episodes[0] == {
        "slug": "onk-s3-episode-5-sub-indo",
        "title": "Oshi no Ko Season 3 Episode 5 Subtitle Indonesia",
        "number": 5,
        "published_on": "2026-02-11",
    }


def test_detail_shibou_yuugi() -> None:
    url = f"{BEST}/anime/shibou-yuugi-meshi-kuu-sub-indo/"
    detail = parse_detail(page("detail-shibou-yuugi--illhm.html"), url)
    assert detail.slug == "shibou-yuugi-meshi-kuu-sub-indo"
    assert detail.title == "Shibou Yuugi de Meshi wo Kuu."
    assert detail.title_japanese == "死亡遊戯で飯を食う。"
    assert detail.score == 7.44
    assert detail.producers == ["Nippon Columbia", "Kadokawa", "Bit grooove promotion"]
    assert (detail.type, detail.status, detail.total_episodes) == ("TV", "ongoing", 11)
    assert detail.duration == "23 Min."
    assert detail.release_date == D(2026, 1, 8)
    assert detail.release_date_text == "Jan 08, 2026"
    assert detail.studios == ["Studio Deen"]
    assert [(g.slug, g.name) for g in detail.genres] == [
        ("action", "Action"),
        ("suspense", "Suspense"),
    ]
    assert detail.poster_url == (
        f"{BEST}/wp-content/uploads/2026/01/Shibou-Yuugi-de-Meshi-wo-Kuu..jpg"
    )
    paragraphs = detail.synopsis.split("\n\n")
    assert len(paragraphs) == 3  # the trailing &nbsp; paragraph is not text
    assert paragraphs[0].startswith("Di sebuah dunia distopia di mana nyawa manusia")
    assert paragraphs[1].endswith("Permainan ke-99.")
    assert paragraphs[2].endswith("dunia menonton dengan napas tertahan.")
    assert [e.number for e in detail.episodes] == [6, 5, 4, 3, 2, 1]
    assert detail.episodes[-1].slug == "symk-episode-1-sub-indo"
    assert detail.episodes[-1].published_on == D(2026, 1, 8)
    assert detail.episodes[2].published_on == D(2026, 1, 29)
    assert (detail.batch, detail.lengkap) == (None, None)


# --------------------------------------------------------------------------- episode


def test_episode_1_first_episode_has_no_previous() -> None:
    url = f"{BEST}/episode/onk-s3-episode-1-sub-indo/"
    ep = parse_episode(page("episode-onk-s3-ep1--illhm.html"), url)
    assert ep.slug == "onk-s3-episode-1-sub-indo"
    assert ep.title == "Oshi no Ko Season 3 Episode 1 Subtitle Indonesia"
    assert ep.anime_slug == "oshi-ko-s3-sub-indo"
    assert (ep.prev_slug, ep.next_slug) == (None, "onk-s3-episode-2-sub-indo")
    assert ep.post_id == 192092
    assert ep.default_embed_url == (
        "https://str.desustream.com/dstream/ondesu3/v5/index.php?id=K090VHplWG9mbHVvdzN6NkhzNEdjQT09"
    )
    assert [(m.quality, m.provider) for m in ep.mirrors] == [
        ("360p", "vidhide"),
        ("360p", "filedon"),
        ("360p", "mega"),
        ("480p", "ondesu3"),
        ("480p", "vidhide"),
        ("480p", "filedon"),
        ("480p", "mega"),
        ("720p", "filedon"),
        ("720p", "vidhide"),
        ("720p", "mega"),
    ]
    assert [m.token.i for m in ep.mirrors] == [0, 1, 2, 0, 1, 2, 3, 0, 1, 2]
    assert {m.token.id for m in ep.mirrors} == {192092}
    assert [m.provider for m in ep.mirrors if m.is_default] == ["ondesu3"]
    assert to_jsonable(ep.mirrors[0]) == {
        "quality": "360p",
        "provider": "vidhide",
        "token": {"id": 192092, "i": 0, "q": "360p"},
    }
    rows = [(d.format, d.quality, d.size) for d in ep.downloads[::6]]
    assert rows == [
        ("mp4", "360p", "39.5 MB"),
        ("mp4", "480p", "69.3 MB"),
        ("mp4", "720p", "130.4 MB"),
        ("mkv", "480p", "68.4 MB"),
        ("mkv", "720p", "129.7 MB"),
        ("mkv", "1080p", "290.8 MB"),
    ]
    assert len(ep.downloads) == 36
    assert [d.provider for d in ep.downloads[:6]] == [
        "ODFiles",
        "Pdrain",
        "Acefile",
        "GoFile",
        "Mega",
        "KFiles",
    ]
    safelink = "https://desustream.com/safelink/linkuz/?id="
    assert all(d.url.startswith(safelink) for d in ep.downloads)
    assert ep.nonce_action == "aa1208d27f29ca340c92c66d1926f13f"
    assert ep.embed_action == "2a3505c93b0035d3f455df82bf976b84"
    assert ep.actions_from_script
    assert ep.released_text == "1:14 am"
    # Published 18:14 UTC on 14 Jan = 01:14 WIB on 15 Jan, the date the anime page lists.
    assert ep.published_on == D(2026, 1, 15)


def test_slugs_come_from_the_page_when_no_url_is_given() -> None:
    assert parse_detail(page("detail-oshi-ko-s3--illhm.html"), "").slug == "oshi-ko-s3-sub-indo"
    episode = parse_episode(page("episode-onk-s3-ep2--illhm.html"), "")
    assert episode.slug == "onk-s3-episode-2-sub-indo"
    assert episode.published_on == D(2026, 1, 21)


def test_episode_2_json_shape_and_neighbours() -> None:
    url = f"{BEST}/episode/onk-s3-episode-2-sub-indo/"
    data = to_jsonable(parse_episode(page("episode-onk-s3-ep2--illhm.html"), url))
    assert list(data) == [
        "slug",
        "title",
        "anime_slug",
        "prev_slug",
        "next_slug",
        "post_id",
        "default_embed_url",
        "mirrors",
        "downloads",
        "nonce_action",
        "embed_action",
    ]
    assert data["title"] == "Oshi no Ko Season 3 Episode 2 Subtitle Indonesia"
    assert (data["prev_slug"], data["next_slug"]) == (
        "onk-s3-episode-1-sub-indo",
        "onk-s3-episode-3-sub-indo",
    )
    assert data["post_id"] == 192488
    assert data["default_embed_url"] == (
        "https://str.desustream.com/dstream/ondesu/v5/index.php?id=SnVaN2hmYUhyb0hud3BKZ0RmbXRiQT09"
    )
    assert len(data["mirrors"]) == 11
    assert data["mirrors"][7] == {
        "quality": "720p",
        "provider": "ondesuhd",
        "token": {"id": 192488, "i": 0, "q": "720p"},
    }
    assert len(data["downloads"]) == 42  # 4 MP4 + 3 MKV rows, six hosts each
    assert set(data["downloads"][0]) == {"format", "quality", "provider", "url", "size"}
    sizes = [d["size"] for d in data["downloads"][::6]]
    assert sizes == ["39.5 MB", "64.3 MB", "98.6 MB", "188.3 MB", "73.4 MB", "116.2 MB", "228.2 MB"]
    assert data["downloads"][18]["quality"] == "1080p"
    assert data["downloads"][-1]["format"] == "mkv"


def test_wrong_kind_of_page_is_a_parse_error() -> None:
    with pytest.raises(ParseError) as caught:
        parse_detail(page("home--illhm.html"), f"{BEST}/")
    assert caught.value.kind == "detail"
    assert caught.value.url == f"{BEST}/"
    assert "infozingle" in caught.value.missing
    with pytest.raises(ParseError):
        parse_episode(page("schedule--illhm.html"), f"{BEST}/jadwal-rilis/")
    with pytest.raises(ParseError):
        parse_home(page("genre-list--illhm.html"), f"{BEST}/genre-list/")
