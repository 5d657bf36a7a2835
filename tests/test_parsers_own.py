"""Parsers on made-up pages covering what the real captures lack."""

from __future__ import annotations

import base64
import datetime
import json
import re

import pytest

from scraper.parsers import (
    KNOWN_EMBED_ACTION,
    KNOWN_NONCE_ACTION,
    PARSERS,
    ParseError,
    parse_anime_list,
    parse_batch,
    parse_detail,
    parse_embed_response,
    parse_episode,
    parse_genre_page,
    parse_home,
    parse_lengkap,
    parse_list_page,
    parse_nonce_response,
    parse_search,
    slug_from_url,
    to_jsonable,
)
from scraper.parsers.values import parse_full_date, resolve_short_date

from .parser_pages.builders import (
    ORIGIN,
    detail_body,
    episode_body,
    info_row,
    mirror_script,
    pagination,
    prettify,
    token,
    venz_card,
    wrap,
)

D = datetime.date
DETAIL_URL = f"{ORIGIN}/anime/kumo-shitateya-sub-indo/"
EPISODE_URL = f"{ORIGIN}/episode/kns-episode-12-5-sub-indo/"


# --------------------------------------------------------------------------- helpers


@pytest.mark.parametrize(
    ("url", "slug"),
    [
        ("https://otakudesu.best/anime/oshi-ko-s3-sub-indo/", "oshi-ko-s3-sub-indo"),
        ("https://otakudesu.blog/anime/oshi-ko-s3-sub-indo", "oshi-ko-s3-sub-indo"),
        ("/anime/oshi-ko-s3-sub-indo/", "oshi-ko-s3-sub-indo"),
        ("//otakudesu.cloud/episode/x-episode-1-sub-indo/?a=1#c", "x-episode-1-sub-indo"),
        ("http://otakudesu.lol/batch/knh-batch-sub-indo/", "knh-batch-sub-indo"),
        ("/lengkap/knh-sub-indo/", "knh-sub-indo"),
        ("https://otakudesu.best/genres/romance/page/3/", "romance"),
        ("https://otakudesu.best/ongoing-anime/page/2/", "ongoing-anime"),
        ("https://otakudesu.best/", None),
        ("", None),
    ],
)
def test_slug_from_url_any_domain(url: str, slug: str | None) -> None:
    assert slug_from_url(url) == slug


@pytest.mark.parametrize(
    ("text", "date"),
    [
        ("14 Agustus,2026", D(2026, 8, 14)),
        ("11 Februari, 2026", D(2026, 2, 11)),
        ("Apr 03, 2026", D(2026, 4, 3)),
        ("Okt 05, 2025", D(2025, 10, 5)),
        ("31 Februari,2026", None),
        ("Unknown", None),
    ],
)
def test_full_dates(text: str, date: D | None) -> None:
    assert parse_full_date(text) == date


def test_card_dates_turn_the_year() -> None:
    january = D(2026, 1, 3)
    assert resolve_short_date("27 Des", january) == D(2025, 12, 27)
    assert resolve_short_date("02 Jan", january) == D(2026, 1, 2)
    assert resolve_short_date("15 Agu", D(2026, 8, 14)) == D(2026, 8, 15)
    assert resolve_short_date("15 Agu", None) is None


# --------------------------------------------------------------------------- detail


def test_completed_anime_with_batch_and_lengkap() -> None:
    html = wrap(
        detail_body(
            batch=("kns-batch-sub-indo", "Kumo no Shitateya [BATCH] Subtitle Indonesia"),
            lengkap=("kns-sub-indo", "Kumo no Shitateya Sub Indo : Episode 1 – 12 (End)"),
        )
    )
    detail = parse_detail(html, DETAIL_URL)
    assert detail.slug == "kumo-shitateya-sub-indo"
    assert detail.status == "completed"
    assert detail.producers == ["Aniplex", "Sora Records", "Pony Canyon"]
    assert detail.duration == "24 min. per ep."
    assert detail.release_date == D(2025, 10, 5)
    assert detail.batch is not None
    assert (detail.batch.slug, detail.batch.title) == (
        "kns-batch-sub-indo",
        "Kumo no Shitateya [BATCH] Subtitle Indonesia",
    )
    assert detail.lengkap is not None
    assert detail.lengkap.slug == "kns-sub-indo"
    assert [e.slug for e in detail.episodes] == [
        "kns-episode-12-sub-indo",
        "kns-episode-11-sub-indo",
    ]
    assert detail.episodes[0].published_on == D(2025, 12, 21)
    assert detail.synopsis == "Seorang penjahit muda membuka toko di kota awan."
    data = to_jsonable(detail)
    assert data["batch"] == {"slug": "kns-batch-sub-indo", "title": detail.batch.title}
    assert "release_date_text" not in data
    assert data["release_date"] == "2025-10-05"


def test_episode_numbers_half_and_specials() -> None:
    episodes = [
        ("kns-episode-12-5-sub-indo", "Kumo Episode 12.5 Subtitle Indonesia", "1 Januari,2026"),
        ("kns-special-sub-indo", "Kumo Special Subtitle Indonesia", "25 Desember,2025"),
        ("kns-ova-sub-indo", "Kumo OVA Subtitle Indonesia", "24 Desember,2025"),
        ("pembatas-episode-kumo", "------", ""),
        ("kns-episode-1-sub-indo", "Kumo Episode 1 Subtitle Indonesia", "5 Oktober,2025"),
    ]
    detail = parse_detail(wrap(detail_body(episodes=episodes)), DETAIL_URL)
    assert [e.number for e in detail.episodes] == [12.5, None, None, 1]
    assert [e.slug for e in detail.episodes][1:3] == ["kns-special-sub-indo", "kns-ova-sub-indo"]
    assert to_jsonable(detail)["episodes"][0]["number"] == 12.5


def test_no_episodes_yet_and_missing_optional_rows() -> None:
    rows = [("Judul", "Belum Tayang"), ("Status", "Ongoing"), ("Total Episode", "Unknown")]
    html = wrap(detail_body(rows=rows, episodes=[], synopsis=""))
    detail = parse_detail(html, f"{ORIGIN}/anime/belum-tayang-sub-indo/")
    assert detail.title == "Belum Tayang"
    assert detail.episodes == []
    assert (detail.batch, detail.lengkap) == (None, None)
    assert detail.total_episodes is None
    assert (detail.score, detail.title_japanese, detail.type, detail.duration) == (
        None,
        None,
        None,
        None,
    )
    assert (detail.release_date, detail.producers, detail.studios, detail.genres) == (
        None,
        [],
        [],
        [],
    )
    assert detail.synopsis == ""
    assert detail.status == "ongoing"


def test_rows_matched_by_label_not_position() -> None:
    rows = [
        ("Studio", "Studio Kumo"),
        ("Skor", "6.5"),
        ("Judul", "Urutan Acak"),
        ("Tanggal Rilis", "14 Agustus,2026"),
    ]
    detail = parse_detail(wrap(detail_body(rows=rows)), DETAIL_URL)
    assert (detail.title, detail.score, detail.studios) == ("Urutan Acak", 6.5, ["Studio Kumo"])
    assert detail.release_date == D(2026, 8, 14)


def test_entities_in_titles_are_decoded() -> None:
    rows = [("Judul", "Tom &amp; Jerry&#8217;s &quot;Day&quot;"), ("Skor", "N/A")]
    detail = parse_detail(wrap(detail_body(rows=rows)), DETAIL_URL)
    assert detail.title == 'Tom & Jerry\u2019s "Day"'
    assert detail.score is None


def test_other_domain_relative_links_prettified_and_fragment_parse_the_same() -> None:
    reference = parse_detail(wrap(detail_body()), DETAIL_URL)
    variants = [
        wrap(detail_body(origin="https://otakudesu.cloud")),
        wrap(detail_body(origin="")),
        prettify(wrap(detail_body())),
        '<div id="venkonten">' + detail_body() + "</div>",
    ]
    for html in variants:
        detail = parse_detail(html, DETAIL_URL)
        assert [e.slug for e in detail.episodes] == [e.slug for e in reference.episodes]
        assert detail.genres == reference.genres
        assert (detail.title, detail.score, detail.producers, detail.synopsis) == (
            reference.title,
            reference.score,
            reference.producers,
            reference.synopsis,
        )


def test_genres_row_without_span() -> None:
    genres = '<a href="/genres/drama/">Drama</a>'
    body = detail_body().replace(
        info_row("Judul", "Kumo no Shitateya"),
        info_row("Judul", "Kumo no Shitateya") + info_row("Genres", genres, span=False),
    )
    body = body.replace("<b>Genre</b>", "<b>Tags</b>")
    detail = parse_detail(wrap(body), DETAIL_URL)
    assert [g.slug for g in detail.genres] == ["drama"]


def test_changed_detail_layout_raises_parse_error() -> None:
    html = wrap('<div class="venser"><div class="newinfo"><dl><dt>Judul</dt></dl></div></div>')
    with pytest.raises(ParseError) as caught:
        parse_detail(html, DETAIL_URL)
    assert (caught.value.kind, caught.value.url) == ("detail", DETAIL_URL)
    assert caught.value.missing in str(caught.value)
    assert DETAIL_URL in str(caught.value)


# --------------------------------------------------------------------------- episode


def test_episode_12_5_with_script_actions() -> None:
    html = wrap(episode_body(), tail=mirror_script("nonce123abc", "embed456def"))
    ep = parse_episode(html, EPISODE_URL)
    assert ep.slug == "kns-episode-12-5-sub-indo"
    assert ep.title == "Kumo no Shitateya Episode 12.5 Subtitle Indonesia"
    assert (ep.anime_slug, ep.prev_slug, ep.next_slug) == (
        "kumo-shitateya-sub-indo",
        "kns-episode-12-sub-indo",
        None,
    )
    assert ep.post_id == 50505
    assert ep.default_embed_url == "https://player.example/embed/?id=abc&x=1"
    assert [(m.quality, m.provider, m.token.i, m.is_default) for m in ep.mirrors] == [
        ("360p", "alpha", 0, True),
        ("360p", "beta", 1, False),
        ("720p", "gamma", 0, False),
    ]
    assert (ep.nonce_action, ep.embed_action) == ("nonce123abc", "embed456def")
    assert [(d.format, d.quality, d.provider, d.size) for d in ep.downloads] == [
        ("mp4", "480p", "HostA", "45.0 MB"),
        ("mp4", "480p", "HostB", "45.0 MB"),
        ("mkv", "720p", "HostA", "1.2 GB"),
        ("x265", "720p", "HostA", None),
    ]
    assert ep.downloads[2].size_bytes == int(1.2 * 1024**3)
    assert ep.released_text == "9:30 pm"


def test_episode_without_script_falls_back_to_known_actions() -> None:
    ep = parse_episode('<div id="venkonten">' + episode_body() + "</div>", EPISODE_URL)
    assert (ep.nonce_action, ep.embed_action) == (KNOWN_NONCE_ACTION, KNOWN_EMBED_ACTION)
    assert not ep.actions_from_script


def test_episode_with_only_downloads_or_only_player() -> None:
    only_downloads = parse_episode(wrap(episode_body(player=False, mirrors=False)), EPISODE_URL)
    assert only_downloads.default_embed_url is None
    assert only_downloads.mirrors == []
    assert only_downloads.post_id is None
    assert len(only_downloads.downloads) == 4
    only_player = parse_episode(wrap(episode_body(mirrors=False, downloads=False)), EPISODE_URL)
    assert only_player.downloads == []
    assert only_player.default_embed_url is not None


def test_episode_without_player_or_downloads_raises() -> None:
    html = wrap(episode_body(player=False, mirrors=False, downloads=False))
    with pytest.raises(ParseError) as caught:
        parse_episode(html, EPISODE_URL)
    assert caught.value.kind == "episode"
    assert "player" in caught.value.missing


def test_episode_prettified_other_domain() -> None:
    base = parse_episode(wrap(episode_body()), EPISODE_URL)
    other = parse_episode(prettify(wrap(episode_body(origin="https://otakudesu.blog"))), "")
    assert other.mirrors == base.mirrors
    assert other.downloads == base.downloads
    assert (other.anime_slug, other.prev_slug, other.title) == (
        base.anime_slug,
        base.prev_slug,
        base.title,
    )


def test_garbled_mirror_token_is_skipped() -> None:
    # The first mirror's token is valid base64 of "not json", the second is not base64.
    body = episode_body().replace('data-content="', 'data-content="bm90IGpzb24=" x="', 1)
    body = body.replace('data-content="eyJ', 'data-content="!!eyJ', 1)
    ep = parse_episode(wrap(body), EPISODE_URL)
    assert [m.provider for m in ep.mirrors] == ["gamma"]


def test_mirror_token_with_a_superscript_digit_is_skipped() -> None:
    # "²" passes str.isdigit() but int() refuses it: a skipped mirror, not a ValueError.
    odd = base64.b64encode(json.dumps({"id": "²", "i": 0, "q": "360p"}).encode()).decode()
    body = episode_body().replace('data-content="', f'data-content="{odd}" x="', 1)
    ep = parse_episode(wrap(body), EPISODE_URL)
    assert len(ep.mirrors) == len(parse_episode(wrap(episode_body()), EPISODE_URL).mirrors) - 1


# --------------------------------------------------------------------------- admin-ajax


def test_nonce_and_embed_answers() -> None:
    assert parse_nonce_response('{"data":"ca81c19476"}') == "ca81c19476"
    html = (
        '<div class="x"><iframe src="https://filedon.example/embed/Qv1" frameborder="0">'
        "</iframe></div>"
    )
    body = json.dumps({"data": base64.b64encode(html.encode()).decode()})
    assert parse_embed_response(body) == "https://filedon.example/embed/Qv1"


@pytest.mark.parametrize(
    "body",
    ["", "0", "<html>", '{"data": 5}', '{"data": ""}', "[[[[", '{"success": false}', "[" * 5000],
)
def test_junk_ajax_answers_raise_parse_error(body: str) -> None:
    with pytest.raises(ParseError):
        parse_nonce_response(body)
    with pytest.raises(ParseError):
        parse_embed_response(body)


def test_embed_answer_without_iframe_raises() -> None:
    body = json.dumps({"data": base64.b64encode(b"<p>nothing</p>").decode()})
    with pytest.raises(ParseError):
        parse_embed_response(body)
    with pytest.raises(ParseError):
        parse_embed_response('{"data": "%%% not base64 %%%"}')


# --------------------------------------------------------------------------- lists


def test_completed_list_page_two() -> None:
    cards = "".join(
        venz_card(f"show-{n}-sub-indo", f"Show {n}", f"{n} Episode", "7.0" + str(n), "02 Jan")
        for n in range(1, 4)
    ) + venz_card("old-sub-indo", "Old &amp; Gold", "24 Episode", "Fall 2025", "30 Des")
    body = (
        '<div class="venutama"><div class="rseries"><div class="rapi"><div class="venz"><ul>'
        + cards
        + "</ul></div></div></div>"
        + pagination(2, 9, f"{ORIGIN}/complete-anime/")
        + "</div>"
    )
    listing = parse_list_page(wrap(body), f"{ORIGIN}/complete-anime/page/2/")
    assert (listing.page, listing.last_page) == (2, 9)
    assert [c.score for c in listing.cards] == [7.01, 7.02, 7.03, None]
    assert [c.episode_number for c in listing.cards] == [1, 2, 3, 24]
    assert listing.cards[-1].title == "Old & Gold"
    assert listing.cards[-1].date == D(2025, 12, 30)
    assert listing.cards[0].date == D(2026, 1, 2)
    assert PARSERS["completed"] is PARSERS["ongoing"] is parse_list_page


def test_home_blocks_found_by_label_not_order() -> None:
    complete = (
        f'<div class="rapi"><a href="{ORIGIN}/complete-anime/"><div class="rvad">'
        '<h1>Complete Anime</h1></div></a><div class="venz"><ul>'
        + venz_card("done-sub-indo", "Done", "12 Episode", "8.1", "01 Jan")
        + "</ul></div></div>"
    )
    ongoing = (
        f'<div class="rapi"><a href="{ORIGIN}/ongoing-anime/"><div class="rvad">'
        '<h1>On-going Anime</h1></div></a><div class="venz"><ul>'
        + venz_card("airing-sub-indo", "Airing", "Episode 3", "Sabtu", "02 Jan")
        + "</ul></div></div>"
    )
    home = parse_home(wrap(f'<div class="venutama">{complete}{ongoing}</div>'), ORIGIN + "/")
    assert [c.slug for c in home.ongoing] == ["airing-sub-indo"]
    assert home.ongoing[0].day == "Sabtu"
    assert [c.slug for c in home.completed] == ["done-sub-indo"]
    assert home.completed[0].score == 8.1


def test_search_results_by_label() -> None:
    def item(slug: str, title: str, rows: str, *, img_first: bool = True) -> str:
        img = f'<img src="{ORIGIN}/wp-content/uploads/{slug}.jpg">'
        h2 = f'<h2><a href="{ORIGIN}/anime/{slug}/">{title}</a></h2>'
        return f'<li style="list-style:none;">{img + h2 if img_first else h2 + img}{rows}</li>'

    rows = (
        '<div class="set"><b>Genres</b> : <a href="/genres/action/" rel="tag">Action</a>, '
        '<a href="/genres/comedy/" rel="tag">Comedy</a></div>'
        '<div class="set"><b>Status</b> : Completed</div>'
        '<div class="set"><b>Rating</b> : 7.39</div>'
    )
    swapped = (
        '<div class="set"><b>Rating</b> : 6.1</div><div class="set"><b>Status</b> : Ongoing</div>'
    )
    body = (
        '<div class="venser"><div class="venutama"><ul class="chivsrc">'
        + item("kumo-sub-indo", "Kumo (Episode 1 - 24) Subtitle Indonesia", rows)
        + item("naga-sub-indo", "Naga Subtitle Indonesia", swapped, img_first=False)
        + '<li><h2><a href="/genres/action/">Action</a></h2></li>'
        + "</ul></div></div>"
    )
    page = parse_search(wrap(body), f"{ORIGIN}/?s=kumo&post_type=anime")
    assert [(r.slug, r.title, r.status, r.score) for r in page.results] == [
        ("kumo-sub-indo", "Kumo", "completed", 7.39),
        ("naga-sub-indo", "Naga", "ongoing", 6.1),
    ]
    assert [g.slug for g in page.results[0].genres] == ["action", "comedy"]
    assert page.results[1].poster_url == f"{ORIGIN}/wp-content/uploads/naga-sub-indo.jpg"


def test_empty_search_and_non_page() -> None:
    empty = parse_search(wrap('<div class="venser"><h2>Tidak ditemukan</h2></div>'), "")
    assert empty.results == []
    with pytest.raises(ParseError):
        parse_search("<p>hello</p>", "")


def test_genre_page_changed_layout_raises() -> None:
    with pytest.raises(ParseError) as caught:
        parse_genre_page(wrap('<div class="page"><div class="card">x</div></div>'), "/genres/x/")
    assert caught.value.kind == "genre"


def test_anime_list_relative_links() -> None:
    body = (
        '<div id="abtext"><div class="bariskelom"><div class="barispenz"><a name="K">K</a></div>'
        '<div class="penzbar"></div><div class="penzbar"><div class="jdlbar"><ul><li>'
        '<a class="hodebgst" href="/anime/kumo-sub-indo/" title="x">Kumo &amp; Ame '
        '<color <span style="c"><span style="d">On-Going</span></color></a></li></ul></div></div>'
        "</div></div>"
    )
    listing = parse_anime_list(wrap(body), "")
    assert to_jsonable(listing) == {"anime": [{"slug": "kumo-sub-indo", "title": "Kumo & Ame"}]}


# --------------------------------------------------------------------------- batch / lengkap


def _batch_body(label_a: str, label_b: str) -> str:
    return (
        '<div class="venser"><div class="jdlrx"><h1>Kumo no Shitateya Batch Subtitle Indonesia</h1>'
        '</div><div class="animeinfo"><div class="totalepisode">'
        f'<a href="{ORIGIN}/anime/kumo-shitateya-sub-indo/">Semua Episode</a></div></div>'
        '<div class="download2"><div class="batchlink"><h4>Kumo no Shitateya Batch</h4><ul>'
        f'<li><strong>{label_a}</strong><a href="https://files.example/b1">HostA</a>'
        '<a href="https://files.example/b2">HostB</a><i>1.1 GB</i></li>'
        f'<li><strong>{label_b}</strong><a href="https://files.example/b3">HostA</a>'
        "<i>2.5 GB</i></li></ul></div></div></div>"
    )


def test_batch_page_either_label_order() -> None:
    batch = parse_batch(wrap(_batch_body("MP4 480p", "720p MP4")), f"{ORIGIN}/batch/kns-batch/")
    assert batch.slug == "kns-batch"
    assert batch.anime_slug == "kumo-shitateya-sub-indo"
    assert batch.title == "Kumo no Shitateya Batch"
    assert [(d.format, d.quality, d.provider, d.size) for d in batch.downloads] == [
        ("mp4", "480p", "HostA", "1.1 GB"),
        ("mp4", "480p", "HostB", "1.1 GB"),
        ("mp4", "720p", "HostA", "2.5 GB"),
    ]
    with pytest.raises(ParseError):
        parse_batch(wrap(detail_body()), f"{ORIGIN}/batch/kns-batch/")


def test_lengkap_sections() -> None:
    def section(title: str, href: str) -> str:
        return (
            f"<h4>{title}</h4><ul><li><strong>Mp4 720p</strong>"
            f'<a href="{href}">HostA</a><i>100 MB</i></li></ul>'
        )

    body = (
        '<div class="venser"><div class="jdlrx"><h1>Kumo no Shitateya Lengkap</h1></div>'
        '<div class="download">'
        + section("Kumo no Shitateya Episode 1 Subtitle Indonesia", "https://files.example/e1")
        + section("Kumo no Shitateya Episode 2 Subtitle Indonesia", "https://files.example/e2")
        + section("Kumo no Shitateya Batch Subtitle Indonesia", "https://files.example/bb")
        + "</div></div>"
    )
    page = parse_lengkap(wrap(body), f"{ORIGIN}/lengkap/kns-sub-indo/")
    assert page.slug == "kns-sub-indo"
    assert [(s.episode_number, s.is_batch) for s in page.sections] == [
        (1, False),
        (2, False),
        (None, True),
    ]
    assert page.sections[1].downloads[0].url == "https://files.example/e2"
    with pytest.raises(ParseError):
        parse_lengkap(wrap('<div class="venser"></div>'), "")


def test_parse_error_never_hides_kind_for_every_parser() -> None:
    for kind, parser in PARSERS.items():
        if kind == "search":
            continue  # an empty result list is a valid search page
        with pytest.raises(ParseError):
            parser("<html><body><p>Maintenance</p></body></html>", "https://x/")


def test_genre_page_year_and_pagination_from_url() -> None:
    card = (
        '<div class="col-anime-con"><div class="col-anime"><div class="col-anime-title">'
        '<a href="/anime/kumo-sub-indo/">Kumo</a></div><div class="col-anime-eps">12 Eps</div>'
        "</div></div>"
    )
    page = parse_genre_page(wrap(f'<div class="page">{card}</div>'), "/genres/drama/page/4/")
    assert (page.genre_slug, page.page, page.last_page) == ("drama", 4, 4)
    assert page.cards[0].episode_number == 12


def test_comments_inside_cards_change_nothing() -> None:
    card = venz_card("kumo-sub-indo", "Kumo", "Episode 3", "Senin", "02 Jan")
    genre_card = (
        '<div class="col-anime-con"><div class="col-anime"><div class="col-anime-title">'
        '<a href="/anime/kumo-sub-indo/">Kumo</a></div><div class="col-anime-eps">12 Eps</div>'
        "</div></div>"
    )
    for parse, body in (
        (parse_list_page, f'<div class="venz"><ul>{card}</ul></div>'),
        (parse_home, f'<div class="venz"><ul>{card}</ul></div>'),
        (parse_genre_page, f'<div class="page">{genre_card}</div>'),
    ):
        commented = re.sub(r"(<div [^>]*>)", r"\1<!-- ad slot -->", body)
        assert parse(wrap(commented), "") == parse(wrap(body), "")


def test_head_metadata_any_attribute_order_and_css_mentioning_the_column() -> None:
    head = (
        "<html><head><style>#venkonten{width:800px}</style>"
        "<link href='https://otakudesu.example/anime/dari-kepala-sub-indo/' rel='canonical'>"
        '<link rel="shortlink" href="https://otakudesu.example/?p=777">'
        '<meta content="2025-12-31T20:00:00+00:00" property="article:published_time">'
        "</head><body>"
    )
    html = head + '<div class="x" id="venkonten">' + detail_body() + "</div></body></html>"
    assert parse_detail(html, "").slug == "dari-kepala-sub-indo"
    episode_html = head + '<div id="venkonten">' + episode_body(mirrors=False) + "</div>"
    episode = parse_episode(episode_html, "")
    assert episode.post_id == 777  # no mirror tokens: the shortlink gives it
    assert episode.published_on == D(2026, 1, 1)  # 20:00 UTC is 03:00 WIB the next day


# --------------------------------------------------------------------------- unseen variants


def test_synopsis_text_directly_in_box_and_line_breaks() -> None:
    synopsis = "Pembuka tanpa paragraf.<p>Baris satu<br>baris <i>dua</i>.</p><p> </p><p>Akhir.</p>"
    detail = parse_detail(wrap(detail_body(synopsis=synopsis)), DETAIL_URL)
    assert detail.synopsis == "Pembuka tanpa paragraf.\n\nBaris satu\nbaris dua.\n\nAkhir."
    card = (
        '<div class="col-anime-con"><div class="col-anime"><div class="col-anime-title">'
        '<a href="/anime/kumo-sub-indo/">Kumo</a></div>'
        '<div class="col-synopsis"><p></p><p>Hari pertama<br>di kota awan.</p></div></div></div>'
    )
    page = parse_genre_page(wrap(f'<div class="page">{card}</div>'), "/genres/drama/")
    assert page.cards[0].synopsis == "Hari pertama\ndi kota awan."


@pytest.mark.parametrize(
    ("shown", "date", "total", "score"),
    [
        ("Okt 03, 2025", D(2025, 10, 3), "?", ""),
        ("Oct 03, 2025", D(2025, 10, 3), "Unknown", "N/A"),
        ("3 Oktober 2025", D(2025, 10, 3), "", "-"),
        ("2025", None, "13 Episode", "8,5"),
        ("?", None, "24", "7.12"),
    ],
)
def test_detail_odd_release_total_and_score_values(
    shown: str, date: D | None, total: str, score: str
) -> None:
    rows = [
        ("Judul", "Kumo"),
        ("Skor", score),
        ("Total Episode", total),
        ("Tanggal Rilis", shown),
        ("Produser", "Aniplex, -, Sora Records,"),
        ("Studio", "-"),
    ]
    detail = parse_detail(wrap(detail_body(rows=rows)), DETAIL_URL)
    assert detail.release_date == date
    assert detail.total_episodes == {"13 Episode": 13, "24": 24}.get(total)
    assert detail.score == {"8,5": 8.5, "7.12": 7.12}.get(score)
    assert (detail.producers, detail.studios) == (["Aniplex", "Sora Records"], [])


def test_download_rows_with_label_outside_strong_or_without_label() -> None:
    rows = (
        '<div class="download"><h4>Kumo Episode 3 – [Fansub]</h4><ul>'
        '<li>Mp4 360p <a href="https://files.example/c1">HostC</a> <i>12.5 MB</i></li>'
        '<li><span>MKV 1080p</span> <a href="https://files.example/c2"> Host   D </a>'
        " <i>850 KB</i></li>"
        '<li><a href="https://files.example/c3">HostE</a></li></ul></div>'
    )
    body = episode_body(downloads=False)
    html = wrap(body[: -len("</div>")] + rows + "</div>")
    episode = parse_episode(html, EPISODE_URL)
    assert [(d.format, d.quality, d.provider, d.url, d.size) for d in episode.downloads] == [
        ("mp4", "360p", "HostC", "https://files.example/c1", "12.5 MB"),
        ("mkv", "1080p", "Host D", "https://files.example/c2", "850 KB"),
        (None, None, "HostE", "https://files.example/c3", None),
    ]


def test_episode_anime_link_from_help_box_before_other_column_links() -> None:
    body = episode_body().replace(
        f'<a href="{ORIGIN}/anime/kumo-shitateya-sub-indo/" rel="follow">See All Episodes</a>',
        "",
    )
    # An unrelated show linked inside the episode column (a "baca juga" note) must not win
    # over the help box's link to this episode's show.
    body = body.replace(
        '<div id="lightsVideo">',
        '<p>Baca juga <a href="/anime/lain-cerita-sub-indo/">Lain Cerita</a></p>'
        '<div id="lightsVideo">',
    )
    help_box = (
        '<div class="alert alert-info"><b>Sedikit Bantuan :</b>'
        '<li><a href="/blog/cara-unduh/">Cara unduh</a></li>'
        '<li><a href="http://otakudesu.cloud/anime/kumo-shitateya-sub-indo/" rel="follow">'
        "Episode lain <b>Kumo</b></a></li></div>"
    )
    episode = parse_episode(wrap(body + help_box), EPISODE_URL)
    assert episode.anime_slug == "kumo-shitateya-sub-indo"
    assert (episode.prev_slug, episode.next_slug) == ("kns-episode-12-sub-indo", None)


def test_search_poster_link_first_and_page_saying_nothing_found() -> None:
    item = (
        '<li style="list-style:none;"><a href="/anime/kumo-sub-indo/"><img src="/p/kumo.jpg"></a>'
        '<h2><a href="/anime/kumo-sub-indo/">Kumo &#8211; Ame &amp; Angin Subtitle Indonesia</a>'
        '</h2><div class="set"><b>Rating</b> : </div></li>'
    )
    page = parse_search(wrap(f'<div class="venser"><ul class="chivsrc">{item}</ul></div>'), "")
    assert [(r.slug, r.title, r.score, r.poster_url) for r in page.results] == [
        ("kumo-sub-indo", "Kumo \u2013 Ame & Angin", None, "/p/kumo.jpg")
    ]
    nothing = (
        '<html><body><div id="venkonten"><div class="page"><h2>Hasil pencarian "zzz"</h2>'
        "<p>Maaf, tidak ditemukan.</p></div></div></body></html>"
    )
    assert parse_search(nothing, f"{ORIGIN}/?s=zzz&post_type=anime").results == []


def test_ongoing_last_page_with_gap_and_curly_weekday() -> None:
    cards = venz_card("satu-sub-indo", "Satu", "Episode 4", "Jum&#8217;at", "02 Jan") + venz_card(
        "dua-sub-indo", "Dua", "Episode 9", "Random", "01 Jan"
    )
    pages = (
        '<div class="pagination"><div class="pagenavix"><span>Pages</span>'
        '<a class="prev page-numbers" href="/ongoing-anime/page/6/">« Sebelumnya</a>'
        '<a class="page-numbers" href="/ongoing-anime/page/1/">1</a>'
        '<span class="page-numbers dots">…</span>'
        '<a class="page-numbers" href="/ongoing-anime/page/6/">6</a>'
        '<span aria-current="page" class="page-numbers current">7</span></div></div>'
    )
    body = f'<div class="venutama"><div class="rapi"><div class="venz"><ul>{cards}</ul></div></div>'
    listing = parse_list_page(wrap(body + pages + "</div>"), "")
    assert (listing.page, listing.last_page) == (7, 7)
    assert [(c.day, c.episode_number) for c in listing.cards] == [("Jum\u2019at", 4), ("Random", 9)]
    single = parse_list_page(wrap(body + "</div>"), f"{ORIGIN}/complete-anime/")
    assert (single.page, single.last_page) == (1, 1)


def test_anime_list_titles_around_markers() -> None:
    def entry(slug: str, inner: str, title: str = "") -> str:
        shown = f' title="{title}"' if title else ""
        return f'<li><a class="hodebgst" href="/anime/{slug}/"{shown}>{inner}</a></li>'

    body = (
        '<div id="abtext"><div class="bariskelom"><div class="penzbar"><div class="jdlbar"><ul>'
        + entry("tebal-sub-indo", '<b>Judul Tebal</b> <span style="c">On-Going</span>')
        + entry(
            "kosong-sub-indo",
            '<span style="c">Movie</span>',
            "Film Kosong (Episode 1 – 1) Subtitle Indonesia",
        )
        + "</ul></div></div></div></div>"
    )
    listing = parse_anime_list(wrap(body), "")
    assert [(a.slug, a.title) for a in listing.anime] == [
        ("tebal-sub-indo", "Judul Tebal"),
        ("kosong-sub-indo", "Film Kosong"),
    ]


def test_icon_only_episode_navigation_and_default_1080p_mirror() -> None:
    body = episode_body(nxt="kns-episode-13-sub-indo", mirrors=False)
    body = body.replace(' title="Episode Sebelumnya">Previous Eps.', '><i class="fa fa-left"></i>')
    body = body.replace(' title="Episode Selanjutnya">Next Eps.', '><i class="fa fa-right"></i>')
    mirrors = (
        '<div class="mirrorstream"><ul class="m480p"><span></span> Mirror 480p'
        f'<li><a href="#" data-content="{token(7, 0, "480p")}">delta</a></li>'
        '<li><a href="#">tanpa token</a></li></ul>'
        '<ul class="m1080p"><span></span> Mirror 1080p'
        f'<li><a href="#" data-default="true" data-content="{token(7, 0, "1080p")}">'
        "  epsilon   hd </a></li></ul></div>"
    )
    body = body.replace('<div id="lightsVideo">', mirrors + '<div id="lightsVideo">')
    episode = parse_episode(wrap(body), EPISODE_URL)
    assert (episode.prev_slug, episode.next_slug) == (
        "kns-episode-12-sub-indo",
        "kns-episode-13-sub-indo",
    )
    assert [(m.quality, m.provider, m.is_default) for m in episode.mirrors] == [
        ("480p", "delta", False),
        ("1080p", "epsilon hd", True),
    ]
    last = episode_body(nxt=None).replace(
        ' title="Episode Sebelumnya">Previous Eps.', '><i class="fa fa-left"></i>'
    )
    episode = parse_episode(wrap(last), EPISODE_URL)
    assert (episode.prev_slug, episode.next_slug) == ("kns-episode-12-sub-indo", None)


def test_home_with_only_one_block() -> None:
    complete = (
        f'<div class="rapi"><a href="{ORIGIN}/complete-anime/"><div class="rvad">'
        '<h1>Complete Anime</h1></div></a><div class="venz"><ul>'
        + venz_card("tamat-sub-indo", "Tamat &amp; Usai", "12 Episode", "7.5", "01 Jan")
        + "</ul></div></div>"
    )
    home = parse_home(wrap(f'<div class="venutama">{complete}</div>'), ORIGIN + "/")
    assert home.ongoing == []
    assert [(c.slug, c.title, c.score) for c in home.completed] == [
        ("tamat-sub-indo", "Tamat & Usai", 7.5)
    ]


def test_schedule_random_day_and_day_without_anime() -> None:
    body = (
        '<div class="kgjdwl321"><h1>Jadwal Rilis</h1>'
        '<div class="kglist321"><h2>Senin</h2><ul></ul></div>'
        '<div class="kglist321"><h2>Random</h2><ul><li>'
        '<a href="http://otakudesu.lol/anime/acak-sub-indo/">Acak &#8211; Acakan</a>'
        "</li></ul></div></div>"
    )
    schedule = PARSERS["schedule"](wrap(body), f"{ORIGIN}/jadwal-rilis/")
    assert [(d.day, [(a.slug, a.title) for a in d.anime]) for d in schedule.days] == [
        ("Senin", []),
        ("Random", [("acak-sub-indo", "Acak \u2013 Acakan")]),
    ]


def test_lengkap_sections_each_in_its_own_wrapper() -> None:
    def section(title: str, href: str) -> str:
        return (
            f'<div class="epsdl"><h4>{title}</h4><ul><li><strong>MKV 480p</strong>'
            f'<a href="{href}">HostB</a><i>80 MB</i></li></ul></div>'
        )

    body = (
        '<div class="venser"><div class="jdlrx"><h1>Awan Lengkap</h1></div><div class="download">'
        + section("Awan Episode 1 Subtitle Indonesia", "https://files.example/w1")
        + section("Awan Episode 2 Subtitle Indonesia", "https://files.example/w2")
        + section("Awan Batch Subtitle Indonesia", "https://files.example/wb")
        + "</div></div>"
    )
    page = parse_lengkap(wrap(body), f"{ORIGIN}/lengkap/awan-sub-indo/")
    assert [
        (s.episode_number, s.is_batch, [d.url for d in s.downloads]) for s in page.sections
    ] == [
        (1, False, ["https://files.example/w1"]),
        (2, False, ["https://files.example/w2"]),
        (None, True, ["https://files.example/wb"]),
    ]


def test_lazy_loaded_poster_and_player_and_missing_poster() -> None:
    placeholder = "data:image/svg+xml,%3Csvg%3E%3C/svg%3E"
    real = f"{ORIGIN}/wp-content/uploads/2025/10/kumo.jpg"
    body = detail_body().replace(
        f'<img src="{real}"', f'<img src="{placeholder}" data-lazy-src="{real}"'
    )
    assert parse_detail(wrap(body), DETAIL_URL).poster_url == real
    # Without a poster, a recommended show's picture must not stand in for it.
    no_poster = detail_body().replace(f'<img src="{real}" class="wp-post-image">', "")
    no_poster = no_poster.replace(">Other</a>", f'><img src="{ORIGIN}/other.jpg"></a>')
    assert parse_detail(wrap(no_poster), DETAIL_URL).poster_url is None
    card = venz_card("malas-sub-indo", "Malas", "Episode 2", "Senin", "02 Jan").replace(
        f'<img src="{ORIGIN}/wp-content/uploads/malas-sub-indo.jpg"',
        f'<img src="{placeholder}" data-lazy-src="{ORIGIN}/p/malas.jpg"',
    )
    listing = parse_list_page(wrap(f'<div class="venz"><ul>{card}</ul></div>'), "")
    assert listing.cards[0].poster_url == f"{ORIGIN}/p/malas.jpg"
    player = episode_body().replace(
        '<iframe src="https://player.example/embed/?id=abc&amp;x=1"',
        '<iframe src="about:blank" data-lazy-src="https://player.example/embed/?id=abc&amp;x=1"',
    )
    episode = parse_episode(wrap(player), EPISODE_URL)
    assert episode.default_embed_url == "https://player.example/embed/?id=abc&x=1"


def test_batch_page_with_plain_download_block_and_batch_title() -> None:
    body = _batch_body("720p MP4", "MKV 1080p").replace(
        '<div class="download2"><div class="batchlink">', '<div class="download"><div>'
    )
    body = body.replace("Kumo no Shitateya Batch Subtitle", "Kumo no Shitateya [BATCH] Subtitle")
    batch = parse_batch(wrap(body), f"{ORIGIN}/batch/kns-batch-sub-indo/")
    assert batch.title == "Kumo no Shitateya [BATCH]"
    assert [(d.format, d.quality, d.size) for d in batch.downloads] == [
        ("mp4", "720p", "1.1 GB"),
        ("mp4", "720p", "1.1 GB"),
        ("mkv", "1080p", "2.5 GB"),
    ]


# --------------------------------------------------------------------------- adversarial variants


def _episode_with_rows(rows: str) -> str:
    body = episode_body(downloads=False)
    block = f'<div class="download"><h4>Kumo Episode 3 – [Fansub]</h4><ul>{rows}</ul></div>'
    return wrap(body[: -len("</div>")] + block + "</div>")


def test_download_row_with_some_links_wrapped_and_logo_links() -> None:
    rows = (
        '<li><strong>Mp4 720p</strong> <a href="https://files.example/w1">HostA</a> '
        '<span class="sep"><a href="https://files.example/w2">HostB</a></span> '
        '<b><a href="https://files.example/w3">HostC</a></b> <i>1.2 GB</i></li>'
        '<li><strong>Mp4 1080p</strong> <a href="https://files.example/w4"><img src="/m.png" '
        'alt="HostD"></a> <a href="https://files.example/w5" title="HostE"></a> <i>2 GB</i></li>'
    )
    episode = parse_episode(_episode_with_rows(rows), EPISODE_URL)
    assert [(d.format, d.quality, d.provider, d.url[-2:], d.size) for d in episode.downloads] == [
        ("mp4", "720p", "HostA", "w1", "1.2 GB"),
        ("mp4", "720p", "HostB", "w2", "1.2 GB"),
        ("mp4", "720p", "HostC", "w3", "1.2 GB"),
        ("mp4", "1080p", "HostD", "w4", "2 GB"),
        ("mp4", "1080p", "HostE", "w5", "2 GB"),
    ]


def test_download_label_holding_the_size_and_odd_qualities() -> None:
    rows = (
        '<li><strong>Mp4 720p [85 MB]</strong> <a href="https://files.example/s1">HostA</a></li>'
        '<li><i class="fa fa-download"></i><strong>MKV 4K</strong> '
        '<a href="https://files.example/s2">HostB</a> <i>3 GB</i></li>'
        '<li><strong>x265 [HEVC] 1080p</strong> <a href="https://files.example/s3">HostC</a> '
        "<i>400 MB</i></li>"
    )
    episode = parse_episode(_episode_with_rows(rows), EPISODE_URL)
    assert [(d.format, d.quality, d.size) for d in episode.downloads] == [
        ("mp4", "720p", "85 MB"),
        ("mkv", "4k", "3 GB"),
        ("x265 hevc", "1080p", "400 MB"),
    ]


def test_pagination_with_only_prev_next_links_and_thousands_separator() -> None:
    cards = venz_card("satu-sub-indo", "Satu", "12 Episode", "7.5", "02 Jan")
    body = f'<div class="venutama"><div class="rapi"><div class="venz"><ul>{cards}</ul></div></div>'
    only_arrows = (
        '<div class="pagination"><div class="pagenavix">'
        '<a class="prev page-numbers" href="/complete-anime/page/2/">« Sebelumnya</a>'
        '<a class="next page-numbers" href="/complete-anime/page/4/">Berikutnya »</a></div></div>'
    )
    listing = parse_list_page(wrap(body + only_arrows + "</div>"), "/complete-anime/page/3/")
    assert (listing.page, listing.last_page) == (3, 4)
    many = (
        '<div class="pagination"><div class="pagenavix">'
        '<span aria-current="page" class="page-numbers current">1</span>'
        '<a class="page-numbers" href="/complete-anime/page/2/">2</a>'
        '<span class="page-numbers dots">…</span>'
        '<a class="page-numbers" href="/complete-anime/page/1234/">1.234</a>'
        '<a class="next page-numbers" href="/complete-anime/page/2/">Berikutnya »</a></div></div>'
    )
    listing = parse_list_page(wrap(body + many + "</div>"), "/complete-anime/")
    assert (listing.page, listing.last_page) == (1, 1234)


def test_footer_word_in_a_comment_or_script_does_not_end_the_column() -> None:
    reference = parse_detail(wrap(detail_body()), DETAIL_URL)
    # No real footer after the column, a commented-out one inside it (before the lists).
    commented = detail_body().replace(
        '<div class="clear">', '<!-- <footer class="old"> --><div class="clear">', 1
    )
    scripted = detail_body().replace(
        '<div class="clear">', '<script>document.write("<footer>")</script><div class="clear">', 1
    )
    for body in (commented, scripted):
        detail = parse_detail(wrap(body), DETAIL_URL)
        assert [e.slug for e in detail.episodes] == [e.slug for e in reference.episodes]
        assert detail.synopsis == reference.synopsis
    # A real footer, then a script that mentions one.
    tail = '<footer><div id="credit">c</div></footer><script>var f = "<footer";</script>'
    assert parse_detail(wrap(detail_body(), tail=tail), DETAIL_URL) == reference


def test_info_labels_in_their_own_wrapper_and_full_width_colons() -> None:
    genres = '<a href="/genres/drama/">Drama</a>, <a href="/genres/magic/">Magic</a>'
    info = (
        "<p><span><b>Judul</b></span>: Kumo Lain</p>"
        "<p><span><em><b>Skor</b></em></span> : 8.1</p>"
        f"<p><span><b>Genre</b></span>: {genres}</p>"
        "<p><b>Tipe</b>\uff1a Movie</p>"
        "<p><span><b>Status</b></span>: Completed <span><b>Total Episode</b></span>: 1</p>"
    )
    body = detail_body().replace(
        detail_body().split('<div class="infozingle">', 1)[1].split("</div>", 1)[0], info, 1
    )
    detail = parse_detail(wrap(body), DETAIL_URL)
    assert (detail.title, detail.score, detail.type, detail.status, detail.total_episodes) == (
        "Kumo Lain",
        8.1,
        "Movie",
        "completed",
        1,
    )
    assert [g.slug for g in detail.genres] == ["drama", "magic"]


# The boxes after what the detail and episode parsers read (`.keyword`, `.cukder`) change
# nothing, wherever they sit and however the markup is written.

_KEYWORD_BOX = '<div class="keyword"><p>Kata kunci: Kumo no Shitateya sub indo</p></div>'
_CUKDER_BOX = (
    '<div class="cukder"><img src="/p/kumo.jpg" class="wp-post-image"><div class="infozin">'
    '<div class="infozingle"><p><b>Genres</b>: <a href="/genres/drama/">Drama</a></p></div></div>'
    '<div class="keyingpost"><li><a href="/episode/kns-episode-1-sub-indo/">Episode 1</a></li>'
    "</div></div>"
)


def _detail_variants() -> dict[str, str]:
    body = detail_body(batch=("kns-batch-sub-indo", "Kumo [BATCH]"))
    lists_start = body.index('<div id="serieslist">')
    lists_end = body.index('<div id="recommend')
    lists = body[lists_start:lists_end]
    info = body[body.index('<div class="infozin">') : body.index('<div class="sinopc">')]
    synopsis = body[body.index('<div class="sinopc">') : body.index('<div class="clear">')]
    plain = body[:lists_end] + _KEYWORD_BOX + body[lists_end:]
    return {
        "plain": plain,
        "lists after the box": body[:lists_start] + _KEYWORD_BOX + body[lists_end:] + lists,
        "box around the lists": body[:lists_start]
        + '<div class="keyword">'
        + lists
        + "</div>"
        + body[lists_end:],
        "synopsis after the box": plain.replace(synopsis, "", 1) + synopsis,
        "info inside the box": plain.replace(info, "", 1).replace(
            "<p>Kata kunci", info + "<p>Kata kunci"
        ),
        "marker in a comment and a script": plain.replace(
            '<div id="recommend',
            '<!-- <div class="keyword"> --><script>var k = "<div class=\'keyword\'>";</script>'
            '<div id="recommend',
        ),
        "uppercase tags": re.sub(r"<(/?)(div|ul|li|span|p|a|h1)\b", _upper_tag, plain),
        "prettified": prettify(plain),
    }


def _upper_tag(match: re.Match[str]) -> str:
    return f"<{match.group(1)}{match.group(2).upper()}"


@pytest.mark.parametrize("name", list(_detail_variants()))
def test_detail_same_with_or_without_the_keyword_box(name: str) -> None:
    html = wrap(_detail_variants()[name], tail="<footer>f</footer>")
    without_box = html.replace("keyword", "kw-box")
    detail = parse_detail(html, DETAIL_URL)
    assert detail == parse_detail(without_box, DETAIL_URL)
    assert len(detail.episodes) == 2
    assert detail.batch is not None
    assert detail.synopsis
    assert detail.score == 7.91
    assert len(detail.genres) == 2


def _episode_variants() -> dict[str, str]:
    body = episode_body(nxt="kns-episode-13-sub-indo")
    download = body[body.index('<div class="download">') : -len("</div>")]
    mirrors = body[body.index('<div class="mirrorstream">') : body.index('<div class="download">')]
    mirrors = mirrors[: -len("</div>")]  # without the .venutama end
    nav = body[body.index('<div class="prevnext">') : body.index('<div id="lightsVideo">')]
    player = body[body.index('<div id="lightsVideo">') : body.index('<div class="mirrorstream">')]
    plain = body + _CUKDER_BOX
    return {
        "plain": plain,
        "downloads after the box": body.replace(download, "", 1) + _CUKDER_BOX + download,
        "box inside the downloads": body.replace(
            download, download[: -len("</div>")] + _CUKDER_BOX + "</div>", 1
        ),
        "mirrors after the box": plain.replace(mirrors, "", 1) + mirrors,
        "navigation after the box": plain.replace(nav, "", 1) + nav,
        "player after the box": plain.replace(player, "", 1) + player,
        "marker in a title and a comment": episode_body(
            title="Cukder Episode 12.5 Subtitle Indonesia", nxt="kns-episode-13-sub-indo"
        )
        + _CUKDER_BOX
        + '<!-- <div class="cukder"> -->',
        "uppercase tags": re.sub(r"<(/?)(div|ul|li|span|p|a|h1)\b", _upper_tag, plain),
        "prettified": prettify(plain),
    }


@pytest.mark.parametrize("name", list(_episode_variants()))
def test_episode_same_with_or_without_the_info_box(name: str) -> None:
    html = wrap(_episode_variants()[name], tail="<footer>f</footer>" + mirror_script("n1", "e2"))
    without_box = html.replace("cukder", "info-box")
    episode = parse_episode(html, EPISODE_URL)
    assert episode == parse_episode(without_box, EPISODE_URL)
    # (The box nested in the download block adds its episode link as one more row.)
    assert sum(d.url.startswith("https://files.example/") for d in episode.downloads) == 4
    assert len(episode.mirrors) == 3
    assert (episode.prev_slug, episode.next_slug) == (
        "kns-episode-12-sub-indo",
        "kns-episode-13-sub-indo",
    )
    assert episode.anime_slug == "kumo-shitateya-sub-indo"
    assert episode.default_embed_url is not None


def test_search_rows_without_colon_or_with_label_in_strong() -> None:
    rows = (
        '<div class="set"><b>Genres</b> <a href="/genres/drama/" rel="tag">Drama</a></div>'
        '<div class="set"><strong>Status:</strong> Ongoing</div>'
        '<div class="set"><b>Rating</b> 8.02</div>'
    )
    item = (
        '<li style="list-style:none;"><img src="/p/kumo.jpg">'
        f'<h2><a href="/anime/kumo-sub-indo/">Kumo Subtitle Indonesia</a></h2>{rows}</li>'
    )
    page = parse_search(wrap(f'<div class="venser"><ul class="chivsrc">{item}</ul></div>'), "")
    assert [(r.slug, r.status, r.score) for r in page.results] == [
        ("kumo-sub-indo", "ongoing", 8.02)
    ]
    assert [g.slug for g in page.results[0].genres] == ["drama"]


def test_separator_posts_named_after_the_show_are_not_episodes() -> None:
    episodes = [
        ("btr-episode-2-sub-indo", "Batu Episode 2 Subtitle Indonesia", "2 Januari,2026"),
        ("btr-pembatas-episode-1-900", "Pembatas Episode 1-900", ""),
        ("pembatas-episode-episode-1-900-dalam-proses", "Pembatas Episode 1-900", ""),
        ("btr-episode-1-sub-indo", "Batu Episode 1 Subtitle Indonesia", "1 Januari,2026"),
    ]
    detail = parse_detail(wrap(detail_body(episodes=episodes)), DETAIL_URL)
    assert [e.number for e in detail.episodes] == [2, 1]
