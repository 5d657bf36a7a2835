"""The fake otakudesu origin (tests/fake_origin) over real HTTP on 127.0.0.1."""

from __future__ import annotations

import base64
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from selectolax.lexbor import LexborHTMLParser

from tests.fake_origin import (
    GENRE_PAGE_SIZE,
    LIST_PAGE_SIZE,
    WIB,
    FakeOrigin,
    generate_catalog,
    iter_pages,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
REAL_PAGES = REPO_ROOT.parent / "shared" / "otakudesu-pages"
FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=UTF-8"}


@pytest.fixture(scope="module")
def origin() -> Iterator[FakeOrigin]:
    with FakeOrigin(seed=1, size=50) as server:
        yield server


@pytest.fixture
def fresh() -> Iterator[FakeOrigin]:
    """An origin a test may change (faults, moves, challenge, catalogue edits)."""
    with FakeOrigin(seed=3, size=50) as server:
        yield server


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10, follow_redirects=False, trust_env=False) as client:
        yield client


def tree(response: httpx.Response) -> LexborHTMLParser:
    return LexborHTMLParser(response.text)


def ajax(client: httpx.Client, base: str, data: dict[str, object]) -> httpx.Response:
    return client.post(f"{base}/wp-admin/admin-ajax.php", data=data, headers=FORM)


def actions_of(html: str) -> tuple[str, str]:
    """(embed action, nonce action) the way a crawler reads them off the inline script."""
    script = next(s for s in re.findall(r"<script>(.*?)</script>", html) if "__x__nonce" in s)
    names = list(dict.fromkeys(re.findall(r'action:"([0-9a-f]{32})"', script)))
    return names[0], names[1]


# --- the catalogue ------------------------------------------------------------------
def test_same_seed_gives_same_catalogue_and_another_seed_another() -> None:
    assert generate_catalog(7, 50) == generate_catalog(7, 50)
    other = generate_catalog(8, 50)
    assert [a.title for a in other.anime.values()] != [
        a.title for a in generate_catalog(7, 50).anime.values()
    ]


def test_catalogue_contains_the_awkward_cases_a_crawler_must_handle() -> None:
    cat = generate_catalog(1, 50)
    episodes = list(cat.episodes.values())
    assert any(ep.number == 12.5 for ep in episodes)
    assert any(ep.number is None for ep in episodes), "a special without a number"
    assert any(not a.episodes for a in cat.anime.values()), "an anime with no episode yet"
    assert any(a.is_ongoing and a.total_episodes is None for a in cat.anime.values())
    assert any(not a.synopsis for a in cat.anime.values())
    titles = [a.title for a in cat.anime.values()]
    assert any("&" in t and "<script>" in t for t in titles)
    assert any(re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", t) for t in titles)
    assert any(ord(c) > 0xFFFF for t in titles for c in t), "an emoji title"
    assert all(isinstance(ep.post_id, int) for ep in episodes)
    assert len({ep.post_id for ep in episodes}) == len(episodes)
    for a in cat.anime.values():
        dates = [ep.published for ep in a.episodes]
        assert dates == sorted(dates, reverse=True), "episodes are kept newest first"
        assert (a.batch is not None) == (a.lengkap is not None)
        if a.batch:
            assert a.status == "Completed"


def test_three_hundred_anime_generate_quickly() -> None:
    cat = generate_catalog(1, 300)  # the standalone default; a slow build would show here
    assert len(cat.anime) == 300
    assert len(cat.ongoing()) > LIST_PAGE_SIZE, "ongoing list needs a second page"


# --- every page kind ------------------------------------------------------------------
def _paths(origin: FakeOrigin) -> dict[str, str]:
    cat = origin.truth
    completed = next(a for a in cat.completed() if a.batch)
    episode = next(a for a in cat.anime.values() if len(a.episodes) > 2).episodes[1]
    return {
        "home": "/",
        "ongoing": "/ongoing-anime/",
        "complete": "/complete-anime/",
        "complete2": "/complete-anime/page/2/",
        "anime_list": "/anime-list/",
        "genre_list": "/genre-list/",
        "genre": f"/genres/{cat.genres[0].slug}/",
        "schedule": "/jadwal-rilis/",
        "search": "/?s=no&post_type=anime",
        "anime": f"/anime/{completed.slug}/",
        "episode": f"/episode/{episode.slug}/",
        "batch": f"/batch/{completed.batch.slug}/",
        "lengkap": f"/lengkap/{completed.lengkap.slug}/",
    }


LANDMARKS = {
    "home": [".venutama .rseries .rapi .venz ul li .detpost .thumb a", "#rvod.rvad h1"],
    "ongoing": [".venz ul li .detpost .epz", ".venz .epztipe", ".venz .newnime"],
    "complete": [".venz ul li .detpost", ".pagination .pagenavix .next.page-numbers"],
    "complete2": [".pagination .pagenavix .prev.page-numbers", ".page-numbers.current"],
    "anime_list": ["#abtext .bariskelom .barispenz a[name]", ".jdlbar ul li a.hodebgst"],
    "genre_list": [".venser ul.genres li a[href^='/genres/']"],
    "genre": [".col-anime-con .col-anime .col-anime-title a", ".col-anime-genre a[rel=tag]"],
    "schedule": [".kgjdwl321 .kglist321 h2", ".kglist321 ul li a"],
    "search": ["ul.chivsrc li h2 a", "ul.chivsrc li .set b"],
    "anime": [
        ".venser .jdlrx h1",
        ".fotoanime img.wp-post-image",
        ".fotoanime .infozin .infozingle p span b",
        ".fotoanime .sinopc",
        ".episodelist .smokelister .monktit",
        ".episodelist ul li span a[rel=nofollow]",
        ".episodelist ul li span.zeebr",
    ],
    "episode": [
        ".venutama h1.posttl",
        ".kategoz span",
        ".prevnext .flir a[rel=follow]",
        "#lightsVideo #embed_holder #pembed.player-embed .responsive-embed-stream iframe",
        ".venutama .mirrorstream ul.m360p li a[data-content]",
        ".mirrorstream ul.m480p a[data-default='true']",
        ".mirrorstream ul.m720p li a",
        ".venser > .download h4",
        ".download ul li strong",
        ".download ul li i",
        "#venkonten .cukder .infozingle p b",
        ".cukder .keyingpost li a",
    ],
    "batch": [".download2 .batchlink h4", ".batchlink ul li strong", ".animeinfo .infos b"],
    "lengkap": [".download h4", ".download ul li a"],
}


def test_every_page_kind_answers_200_in_the_sites_markup(
    origin: FakeOrigin, http: httpx.Client
) -> None:
    for kind, path in _paths(origin).items():
        response = http.get(origin.base_url + path)
        assert response.status_code == 200, (kind, path)
        assert response.headers["content-type"].startswith("text/html")
        text = response.text
        head, _, rest = text.partition("\n</BODY></html>\n")
        assert rest, f"{kind}: upper-case </BODY> then the cache comment"
        assert "\n" not in head, f"{kind}: minified into one line"
        assert "<BODY>" in head
        assert re.fullmatch(r"<!-- [^\n]* Debug: cached@\d{10} -->", rest), kind
        page = tree(response)
        for selector in LANDMARKS[kind]:
            assert page.css_first(selector) is not None, (kind, selector)


def test_pages_link_only_to_the_origin_and_embed_hosts(
    origin: FakeOrigin, http: httpx.Client
) -> None:
    allowed = (origin.base_url, origin.embed_base)
    for path in _paths(origin).values():
        page = tree(http.get(origin.base_url + path))
        for node in page.css("[href], [src]"):
            for name in ("href", "src"):
                url = node.attributes.get(name) or ""
                if url.startswith("http") and "fakedesu.invalid" not in url:
                    assert url.startswith(allowed), (path, url)


def test_cache_stamp_is_stable_for_a_fixed_now(http: httpx.Client) -> None:
    now = datetime(2026, 3, 1, 10, 0, tzinfo=WIB)
    stamps = []
    for _ in range(2):
        with FakeOrigin(seed=2, size=20, now=now) as server:
            text = http.get(server.base_url + "/").text
            stamps.append(int(re.search(r"cached@(\d+)", text).group(1)))
    assert stamps[0] == stamps[1]
    assert 0 <= now.timestamp() - stamps[0] <= 86_400


def test_list_pages_hold_25_cards_and_paginate_like_wordpress(
    origin: FakeOrigin, http: httpx.Client
) -> None:
    completed = origin.truth.completed()
    pages = -(-len(completed) // LIST_PAGE_SIZE)
    assert pages >= 2
    first = tree(http.get(origin.base_url + "/complete-anime/"))
    assert len(first.css(".venz ul li")) == LIST_PAGE_SIZE
    assert first.css_first(".prev.page-numbers") is None
    last = tree(http.get(f"{origin.base_url}/complete-anime/page/{pages}/"))
    assert last.css_first(".next.page-numbers") is None
    assert last.css_first(".page-numbers.current").text() == str(pages)
    beyond = http.get(f"{origin.base_url}/complete-anime/page/{pages + 1}/")
    assert beyond.status_code == 404


def test_home_shows_the_newest_ongoing_and_completed_cards(
    origin: FakeOrigin, http: httpx.Client
) -> None:
    page = tree(http.get(origin.base_url + "/"))
    blocks = page.css(".venz")
    ongoing_slugs = [a.attributes["href"].split("/")[-2] for a in blocks[0].css(".thumb a")]
    completed_slugs = [a.attributes["href"].split("/")[-2] for a in blocks[1].css(".thumb a")]
    assert ongoing_slugs == [a.slug for a in origin.truth.ongoing()[:15]]
    assert completed_slugs == [a.slug for a in origin.truth.completed()[:10]]
    newest = origin.truth.ongoing()[0]
    date = newest.updated
    months = ["Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov", "Des"]
    assert blocks[0].css_first(".newnime").text() == f"{date.day:02d} {months[date.month - 1]}"


def test_detail_dates_are_written_the_sites_way(origin: FakeOrigin, http: httpx.Client) -> None:
    anime = next(a for a in origin.truth.anime.values() if a.episodes)
    page = tree(http.get(f"{origin.base_url}/anime/{anime.slug}/"))
    shown = page.css_first(".episodelist ul li .zeebr").text()
    assert re.fullmatch(r"\d{1,2} [A-Z][a-z]+,\d{4}", shown)
    assert shown.startswith(f"{anime.episodes[0].published.day} ")


def test_genre_page_one_is_also_served_at_page_1(origin: FakeOrigin, http: httpx.Client) -> None:
    genre = max(origin.truth.genres, key=lambda g: len(origin.truth.in_genre(g.slug)))
    assert len(origin.truth.in_genre(genre.slug)) > GENRE_PAGE_SIZE
    a = http.get(f"{origin.base_url}/genres/{genre.slug}/")
    b = http.get(f"{origin.base_url}/genres/{genre.slug}/page/1/")
    assert a.status_code == b.status_code == 200
    assert len(tree(a).css(".col-anime")) == GENRE_PAGE_SIZE
    assert tree(a).css_first(".pagination .pagipagi .pagenavix") is not None


def test_unknown_pages_404_and_missing_slash_redirects(
    origin: FakeOrigin, http: httpx.Client
) -> None:
    assert http.get(origin.base_url + "/anime/no-such-anime/").status_code == 404
    moved = http.get(origin.base_url + "/anime-list")
    assert moved.status_code == 301
    assert moved.headers["location"] == origin.base_url + "/anime-list/"


def test_search_finds_titles_and_lists_a_genre_post_too(
    origin: FakeOrigin, http: httpx.Client
) -> None:
    target = next(iter(origin.truth.anime.values()))
    word = target.title.split()[0]
    response = http.get(origin.base_url + "/", params={"s": word, "post_type": "anime"})
    hrefs = [a.attributes["href"] for a in tree(response).css("ul.chivsrc li h2 a")]
    assert f"{origin.base_url}/anime/{target.slug}/" in hrefs
    genre = origin.truth.genres[0]
    response = http.get(origin.base_url + "/", params={"s": genre.name, "post_type": "anime"})
    hrefs = [a.attributes["href"] for a in tree(response).css("ul.chivsrc li h2 a")]
    assert f"{origin.base_url}/genres/{genre.slug}/" in hrefs


def test_titles_with_markup_characters_are_escaped(origin: FakeOrigin, http: httpx.Client) -> None:
    anime = next(a for a in origin.truth.anime.values() if "<script>" in a.title)
    response = http.get(f"{origin.base_url}/anime/{anime.slug}/")
    assert "<script>alert" not in response.text
    assert tree(response).css_first(".jdlrx h1").text().startswith(anime.title)


# --- admin-ajax ----------------------------------------------------------------------
def test_nonce_then_embed_resolves_to_the_truths_embed_url(
    origin: FakeOrigin, http: httpx.Client
) -> None:
    episode = next(iter(origin.truth.episodes.values()))
    page = http.get(f"{origin.base_url}/episode/{episode.slug}/")
    embed_action, nonce_action = actions_of(page.text)
    nonce = ajax(http, origin.base_url, {"action": nonce_action}).json()["data"]
    assert re.fullmatch(r"[0-9a-f]{10}", nonce)
    links = tree(page).css(".mirrorstream a[data-content]")
    assert len(links) == len(episode.mirrors)
    for link, mirror in zip(links, episode.mirrors, strict=True):
        token = json.loads(base64.b64decode(link.attributes["data-content"]))
        assert token == {"id": episode.post_id, "i": mirror.i, "q": mirror.quality}
        answer = ajax(http, origin.base_url, {**token, "nonce": nonce, "action": embed_action})
        assert answer.status_code == 200
        snippet = base64.b64decode(answer.json()["data"]).decode()
        src = LexborHTMLParser(snippet).css_first("iframe").attributes["src"]
        assert src == mirror.embed_url
        assert src.startswith(origin.embed_base)
    default = tree(page).css_first("#pembed iframe").attributes["src"]
    assert default == episode.default_embed
    assert http.get(default).status_code == 200


def test_expired_or_unknown_nonce_is_refused(http: httpx.Client) -> None:
    now = [1000.0]
    with FakeOrigin(seed=4, size=10, nonce_ttl=60, clock=lambda: now[0]) as server:
        episode = next(iter(server.truth.episodes.values()))
        mirror = episode.mirrors[0]
        token = {"id": episode.post_id, "i": mirror.i, "q": mirror.quality}
        nonce = ajax(http, server.base_url, {"action": server.nonce_action}).json()["data"]
        fresh = ajax(
            http, server.base_url, {**token, "nonce": nonce, "action": server.embed_action}
        )
        assert fresh.status_code == 200
        now[0] += 61
        stale = ajax(
            http, server.base_url, {**token, "nonce": nonce, "action": server.embed_action}
        )
        assert stale.status_code == 400
        assert not isinstance(stale.json()["data"], str)
        forged = {**token, "nonce": "0123456789", "action": server.embed_action}
        assert ajax(http, server.base_url, forged).status_code == 400


def test_unknown_action_and_non_form_bodies_get_wordpress_zero(
    origin: FakeOrigin, http: httpx.Client
) -> None:
    unknown = ajax(http, origin.base_url, {"action": "nope"})
    assert (unknown.status_code, unknown.text) == (400, "0")
    as_json = http.post(
        f"{origin.base_url}/wp-admin/admin-ajax.php", json={"action": origin.nonce_action}
    )
    assert (as_json.status_code, as_json.text) == (400, "0")


# --- faults ----------------------------------------------------------------------------
def _statuses(server: FakeOrigin, client: httpx.Client, paths: list[str]) -> list[int]:
    return [client.get(server.base_url + p).status_code for p in paths]


def test_faults_hit_about_the_requested_share_and_repeat_exactly(
    fresh: FakeOrigin, http: httpx.Client
) -> None:
    paths = [f"/?s=q{i}" for i in range(300)]
    fresh.faults(rate=0.3, kinds=("500", "502", "503", "429"), seed=11)
    first = _statuses(fresh, http, paths)
    failed = sum(s != 200 for s in first)
    assert 0.2 * len(paths) < failed < 0.4 * len(paths)
    assert set(first) - {200} <= {500, 502, 503, 429}
    fresh.faults(rate=0.3, kinds=("500", "502", "503", "429"), seed=11)
    assert _statuses(fresh, http, paths) == first
    fresh.faults(rate=0)
    assert set(_statuses(fresh, http, paths[:20])) == {200}


def test_429_carries_retry_after(fresh: FakeOrigin, http: httpx.Client) -> None:
    fresh.faults(rate=1.0, kinds=("429",), retry_after=7)
    response = http.get(fresh.base_url + "/")
    assert response.status_code == 429
    assert response.headers["retry-after"] == "7"


def test_a_url_succeeds_after_max_consecutive_faults(fresh: FakeOrigin, http: httpx.Client) -> None:
    fresh.faults(rate=1.0, kinds=("503",), max_consecutive=3)
    assert _statuses(fresh, http, ["/"] * 4) == [503, 503, 503, 200]
    events = Counter(e.kind for e in fresh.fault_events)
    assert events == {"503": 3}


def test_connection_level_faults(fresh: FakeOrigin) -> None:
    with httpx.Client(timeout=httpx.Timeout(5, read=0.3), trust_env=False) as client:
        fresh.faults(rate=1.0, kinds=("reset",))
        with pytest.raises(httpx.TransportError):
            client.get(fresh.base_url + "/jadwal-rilis/")
        fresh.faults(rate=1.0, kinds=("truncated",))
        with pytest.raises(httpx.RemoteProtocolError):
            client.get(fresh.base_url + "/jadwal-rilis/")
        fresh.faults(rate=1.0, kinds=("timeout",), timeout_seconds=2)
        with pytest.raises(httpx.ReadTimeout):
            client.get(fresh.base_url + "/jadwal-rilis/")
    statuses = [r.status for r in fresh.requests]
    assert statuses[0] == 0
    assert statuses[-1] == 0


# --- domain move -----------------------------------------------------------------------
def test_move_domain_redirects_old_base_to_the_same_path(
    fresh: FakeOrigin, http: httpx.Client
) -> None:
    old = fresh.base_url
    anime = next(iter(fresh.truth.anime.values()))
    new = fresh.move_domain()
    assert new != old
    assert fresh.base_url == new
    response = http.get(f"{old}/anime/{anime.slug}/?x=1")
    assert response.status_code == 301
    assert response.headers["location"] == f"{new}/anime/{anime.slug}/?x=1"
    page = http.get(f"{new}/anime/{anime.slug}/")
    assert page.status_code == 200
    assert f'href="{new}/genres/' in page.text
    assert f"{old}/" not in page.text
    episode = next(iter(fresh.truth.episodes.values()))
    assert http.get(episode.default_embed).status_code == 200  # embeds did not move


# --- Cloudflare-style challenge ---------------------------------------------------------
NODE_SHIM = """
const vm = require('vm');
const html = require('fs').readFileSync(0, 'utf8');
const code = html.match(/<script>([\\s\\S]*?)<\\/script>/)[1];
const cookies = [];
const ctx = {
  document: { set cookie(v) { cookies.push(v); }, get cookie() { return ''; } },
  location: { reload() { process.stdout.write(JSON.stringify(cookies)); } },
  setTimeout: (f) => f(), Math,
};
vm.runInNewContext(code, ctx);
"""


def test_challenge_blocks_until_the_page_script_sets_its_cookie(
    fresh: FakeOrigin, http: httpx.Client
) -> None:
    fresh.challenge(True)
    blocked = http.get(fresh.base_url + "/")
    assert blocked.status_code in (403, 503)
    assert blocked.headers["cf-mitigated"] == "challenge"
    assert "<title>Just a moment...</title>" in blocked.text
    assert ajax(http, fresh.base_url, {"action": fresh.nonce_action}).status_code == 403
    http.cookies.set("cf_clearance", "abc.00000000")
    assert http.get(fresh.base_url + "/").status_code == 403
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is needed to run the challenge script")
    ran = subprocess.run(
        [node, "-e", NODE_SHIM], input=blocked.text, capture_output=True, text=True, check=True
    )
    cookie = json.loads(ran.stdout)[0]
    value = re.match(r"cf_clearance=([^;]+)", cookie).group(1)
    http.cookies.set("cf_clearance", value)
    passed = http.get(fresh.base_url + "/")
    assert passed.status_code == 200
    assert passed.headers.get("cf-mitigated") is None
    episode = next(iter(fresh.truth.episodes.values()))
    assert http.get(episode.default_embed).status_code == 200  # embed hosts are not guarded
    fresh.challenge(False)
    assert http.get(fresh.base_url + "/").status_code == 200


# --- catalogue changes ------------------------------------------------------------------
def test_added_episode_tops_home_and_detail(fresh: FakeOrigin, http: httpx.Client) -> None:
    anime = fresh.truth.ongoing()[-1]
    slug = fresh.add_episode(anime.slug)
    home = tree(http.get(fresh.base_url + "/"))
    first_card = home.css_first(".venz .thumb a").attributes["href"]
    assert first_card == f"{fresh.base_url}/anime/{anime.slug}/"
    detail = tree(http.get(f"{fresh.base_url}/anime/{anime.slug}/"))
    newest = detail.css(".episodelist")[1].css_first("ul li a").attributes["href"]
    assert newest == f"{fresh.base_url}/episode/{slug}/"
    assert http.get(newest).status_code == 200


def test_completing_an_anime_moves_it_and_adds_batch_pages(
    fresh: FakeOrigin, http: httpx.Client
) -> None:
    anime = next(a for a in fresh.truth.ongoing() if len(a.episodes) >= 2)
    fresh.retitle(anime.slug, "Judul Baru Sekali")
    fresh.complete(anime.slug)
    ongoing = http.get(fresh.base_url + "/ongoing-anime/").text
    assert f"/anime/{anime.slug}/" not in ongoing
    detail = http.get(f"{fresh.base_url}/anime/{anime.slug}/")
    assert "<b>Judul</b>: Judul Baru Sekali" in detail.text
    assert "<b>Status</b>: Completed" in detail.text
    assert http.get(f"{fresh.base_url}/batch/{anime.batch.slug}/").status_code == 200
    assert http.get(f"{fresh.base_url}/lengkap/{anime.lengkap.slug}/").status_code == 200


def test_changed_layout_drops_the_landmarks_of_chosen_pages_only(
    fresh: FakeOrigin, http: httpx.Client
) -> None:
    anime = next(a for a in fresh.truth.anime.values() if a.episodes)
    fresh.change_layout(["anime"])
    detail = tree(http.get(f"{fresh.base_url}/anime/{anime.slug}/"))
    assert detail.css_first(".infozingle") is None
    assert detail.css_first(".episodelist") is None
    episode = tree(http.get(f"{fresh.base_url}/episode/{anime.episodes[0].slug}/"))
    assert episode.css_first(".mirrorstream") is not None
    fresh.change_layout(())
    assert tree(http.get(f"{fresh.base_url}/anime/{anime.slug}/")).css_first(".infozingle")


def test_request_log_names_host_and_status(fresh: FakeOrigin, http: httpx.Client) -> None:
    fresh.reset_log()
    http.get(fresh.base_url + "/genre-list/")
    http.get(fresh.base_url + "/anime/nothing/")
    episode = next(iter(fresh.truth.episodes.values()))
    http.get(episode.default_embed)
    port = fresh.port
    # Each record also has its arrival time (r.at), in order.
    assert [r.at for r in fresh.requests] == sorted(r.at for r in fresh.requests)
    assert [(r.method, r.path, r.host, r.status) for r in fresh.requests] == [
        ("GET", "/genre-list/", f"127.0.0.1:{port}", 200),
        ("GET", "/anime/nothing/", f"127.0.0.1:{port}", 404),
        ("GET", episode.default_embed.split(str(port), 1)[1], f"localhost:{port}", 200),
    ]


# --- standalone --------------------------------------------------------------------------
def test_runs_standalone_and_stops_on_ctrl_c(http: httpx.Client) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fake_origin", "--port", "0", "--size", "20"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        base = proc.stdout.readline().strip()
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", base)
        assert http.get(base + "/").status_code == 200
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


# --- same structure as the real pages ------------------------------------------------------
# (real capture, our page kind, selectors both must have): the fake is only useful if what
# a parser looks for on the real site is where it is on the fake.
REAL_VS_FAKE = [
    ("home--illhm.html", "home", LANDMARKS["home"] + [".rseries .rapi .infoupdate"]),
    ("ongoing--illhm.html", "complete", LANDMARKS["ongoing"] + [".pagination > .pagenavix"]),
    ("anime-list--illhm.html", "anime_list", LANDMARKS["anime_list"] + [".abjtext a"]),
    ("genre-list--illhm.html", "genre_list", LANDMARKS["genre_list"]),
    ("genre-romance-page2--illhm.html", "genre", LANDMARKS["genre"] + [".prev.page-numbers"]),
    ("schedule--illhm.html", "schedule", LANDMARKS["schedule"]),
    ("detail-shibou-yuugi--illhm.html", "anime", LANDMARKS["anime"]),
    ("episode-onk-s3-ep2--illhm.html", "episode", LANDMARKS["episode"]),
]


@pytest.mark.parametrize(("real", "kind", "selectors"), REAL_VS_FAKE)
def test_fake_pages_share_the_real_pages_structure(
    origin: FakeOrigin, http: httpx.Client, real: str, kind: str, selectors: list[str]
) -> None:
    path = REAL_PAGES / real
    if not path.exists():
        pytest.skip("real captures not available")
    paths = _paths(origin)
    if kind == "genre":
        genre = max(origin.truth.genres, key=lambda g: len(origin.truth.in_genre(g.slug)))
        paths["genre"] = f"/genres/{genre.slug}/page/2/"
    real_tree = LexborHTMLParser(path.read_text(encoding="utf-8", errors="replace"))
    fake_tree = tree(http.get(origin.base_url + paths[kind]))
    for selector in selectors:
        assert real_tree.css_first(selector) is not None, f"real {real} lacks {selector}"
        assert fake_tree.css_first(selector) is not None, f"fake {kind} lacks {selector}"
    real_labels = [b.text() for b in real_tree.css(".fotoanime .infozingle b")]
    fake_labels = [b.text() for b in fake_tree.css(".fotoanime .infozingle b")]
    assert fake_labels == real_labels


def test_every_catalogue_page_answers(origin: FakeOrigin, http: httpx.Client) -> None:
    statuses = Counter(http.get(origin.base_url + p).status_code for p in iter_pages(origin))
    assert statuses == {200: sum(statuses.values())}


# --- the parsers read the fake pages back to the truth ------------------------------------
@pytest.fixture(scope="module")
def parsers():
    return pytest.importorskip("scraper.parsers")


def _get(http: httpx.Client, url: str) -> str:
    response = http.get(url)
    assert response.status_code == 200, url
    return response.text


def test_parsers_read_every_detail_page_back_to_the_truth(
    origin: FakeOrigin, http: httpx.Client, parsers
) -> None:
    for a in origin.truth.anime.values():
        url = f"{origin.base_url}/anime/{a.slug}/"
        d = parsers.parse_detail(_get(http, url), url)
        assert (d.slug, d.title, d.title_japanese) == (a.slug, a.title, a.japanese)
        assert (d.score, d.type, d.status) == (a.score, a.type, a.status.lower())
        assert (d.total_episodes, d.duration, d.release_date) == (
            a.total_episodes,
            a.duration,
            a.release_date,
        )
        assert (d.producers, d.studios) == (a.producers, a.studios)
        assert [(g.slug, g.name) for g in d.genres] == [(g.slug, g.name) for g in a.genres]
        assert d.poster_url == origin.url(a.poster_path)
        assert d.synopsis == "\n\n".join(a.synopsis)
        assert [(e.slug, e.title, e.number, e.published_on) for e in d.episodes] == [
            (e.slug, e.title, e.number, e.published.date()) for e in a.episodes
        ]
        assert (d.batch.slug if d.batch else None) == (a.batch.slug if a.batch else None)
        assert (d.lengkap.slug if d.lengkap else None) == (a.lengkap.slug if a.lengkap else None)


def test_parsers_read_every_episode_page_back_to_the_truth(
    origin: FakeOrigin, http: httpx.Client, parsers
) -> None:
    for a in origin.truth.anime.values():
        for pos, ep in enumerate(a.episodes):
            url = f"{origin.base_url}/episode/{ep.slug}/"
            p = parsers.parse_episode(_get(http, url), url)
            newer = a.episodes[pos - 1].slug if pos else None
            older = a.episodes[pos + 1].slug if pos + 1 < len(a.episodes) else None
            assert (p.slug, p.title, p.anime_slug) == (ep.slug, ep.title, a.slug)
            assert (p.prev_slug, p.next_slug) == (older, newer)
            assert (p.post_id, p.default_embed_url) == (ep.post_id, ep.default_embed)
            assert [
                (m.quality, m.provider, m.token.id, m.token.i, m.token.q, m.is_default)
                for m in p.mirrors
            ] == [
                (m.quality, m.provider, ep.post_id, m.i, m.quality, m.is_default)
                for m in ep.mirrors
            ]
            assert [(d.format, d.quality, d.provider, d.url, d.size) for d in p.downloads] == [
                (d.format.lower(), d.quality, d.provider, d.url, d.size) for d in ep.downloads
            ]
            assert (p.embed_action, p.nonce_action) == (origin.embed_action, origin.nonce_action)
            assert p.actions_from_script


def test_parsers_resolve_a_mirror_through_admin_ajax(
    origin: FakeOrigin, http: httpx.Client, parsers
) -> None:
    ep = next(iter(origin.truth.episodes.values()))
    url = f"{origin.base_url}/episode/{ep.slug}/"
    page = parsers.parse_episode(_get(http, url), url)
    nonce = parsers.parse_nonce_response(
        ajax(http, origin.base_url, {"action": page.nonce_action}).text
    )
    for mirror, truth in zip(page.mirrors, ep.mirrors, strict=True):
        data = {"id": mirror.token.id, "i": mirror.token.i, "q": mirror.token.q}
        answer = ajax(http, origin.base_url, {**data, "nonce": nonce, "action": page.embed_action})
        assert parsers.parse_embed_response(answer.text) == truth.embed_url


def test_parsers_read_the_lists_back_to_the_truth(
    origin: FakeOrigin, http: httpx.Client, parsers
) -> None:
    cat, base = origin.truth, origin.base_url
    home = parsers.parse_home(_get(http, base + "/"), base + "/")
    assert [c.slug for c in home.ongoing] == [a.slug for a in cat.ongoing()[:15]]
    assert [c.slug for c in home.completed] == [a.slug for a in cat.completed()[:10]]
    for which, truth in (("ongoing", cat.ongoing()), ("complete", cat.completed())):
        cards, page_no, last = [], 1, 1
        while page_no <= last:
            url = f"{base}/{which}-anime/" + (f"page/{page_no}/" if page_no > 1 else "")
            parsed = parsers.parse_list_page(_get(http, url), url)
            assert parsed.page == page_no
            cards += parsed.cards
            page_no, last = page_no + 1, parsed.last_page
        assert [(c.slug, c.title) for c in cards] == [(a.slug, a.title) for a in truth]
        if which == "ongoing":
            assert [(c.episode_number, c.day, c.date) for c in cards] == [
                (a.latest_episode.number, a.release_day, a.updated.date()) for a in truth
            ]
        else:
            assert [c.score for c in cards] == [a.score for a in truth]
    az = parsers.parse_anime_list(_get(http, base + "/anime-list/"), base + "/anime-list/")
    assert [(r.slug, r.title) for r in az.anime] == [(a.slug, a.title) for a in cat.alphabetical()]
    genres = parsers.parse_genre_list(_get(http, base + "/genre-list/"), base + "/genre-list/")
    assert [(g.slug, g.name) for g in genres.genres] == [
        (g.slug, g.name) for g in cat.genres if g.listed
    ]
    schedule = parsers.parse_schedule(_get(http, base + "/jadwal-rilis/"), base + "/jadwal-rilis/")
    assert {d.day: [r.slug for r in d.anime] for d in schedule.days} == {
        day: [a.slug for a in items] for day, items in cat.schedule().items()
    }
    for genre in cat.genres:
        cards, page_no, last = [], 1, 1
        while page_no <= last:
            url = f"{base}/genres/{genre.slug}/page/{page_no}/"
            parsed = parsers.parse_genre_page(_get(http, url), url)
            assert (parsed.genre_slug, parsed.genre_name) == (genre.slug, genre.name)
            cards += parsed.cards
            page_no, last = page_no + 1, parsed.last_page
        truth = cat.in_genre(genre.slug)
        assert [(c.slug, c.title, c.studio, c.score, c.season) for c in cards] == [
            (a.slug, a.title, ", ".join(a.studios), a.score, a.season) for a in truth
        ]
    word = "no"
    url = f"{base}/?s={word}&post_type=anime"
    found = parsers.parse_search(_get(http, url), url)
    assert [(c.slug, c.title, c.status, c.score) for c in found.results] == [
        (a.slug, a.title, a.status.lower(), a.score) for a in cat.search(word)
    ]


def test_parsers_read_batch_and_lengkap_pages_back_to_the_truth(
    origin: FakeOrigin, http: httpx.Client, parsers
) -> None:
    for a in origin.truth.completed():
        if not a.batch:
            continue
        url = f"{origin.base_url}/batch/{a.batch.slug}/"
        batch = parsers.parse_batch(_get(http, url), url)
        assert (batch.slug, batch.anime_slug) == (a.batch.slug, a.slug)
        assert [(d.format, d.quality, d.provider, d.url, d.size) for d in batch.downloads] == [
            (d.format.lower(), d.quality, d.provider, d.url, d.size) for d in a.batch.downloads
        ]
        url = f"{origin.base_url}/lengkap/{a.lengkap.slug}/"
        lengkap = parsers.parse_lengkap(_get(http, url), url)
        assert lengkap.anime_slug == a.slug
        assert [(s.episode_number, s.is_batch, len(s.downloads)) for s in lengkap.sections] == [
            *((e.number, False, len(e.downloads)) for e in reversed(a.episodes)),
            (None, True, len(a.batch.downloads)),
        ]


def test_changed_layout_makes_the_parsers_fail(
    fresh: FakeOrigin, http: httpx.Client, parsers
) -> None:
    anime = next(a for a in fresh.truth.anime.values() if a.episodes)
    fresh.change_layout(["detail", "episode", "home", "ongoing", "anime-list"])
    cases = [
        (parsers.parse_detail, f"/anime/{anime.slug}/"),
        (parsers.parse_episode, f"/episode/{anime.episodes[0].slug}/"),
        (parsers.parse_home, "/"),
        (parsers.parse_list_page, "/ongoing-anime/"),
        (parsers.parse_anime_list, "/anime-list/"),
    ]
    for parse, path in cases:
        with pytest.raises(parsers.ParseError):
            parse(_get(http, fresh.base_url + path), fresh.base_url + path)


# --- a real browser -------------------------------------------------------------------------
CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is not installed")
def test_chromium_passes_the_challenge_and_switches_mirrors(
    fresh: FakeOrigin, http: httpx.Client
) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    episode = next(ep for ep in fresh.truth.episodes.values() if len(ep.mirrors) > 3)
    other = next(m for m in episode.mirrors if not m.is_default)
    fresh.challenge(True)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            page = browser.new_page()
            page.goto(f"{fresh.base_url}/episode/{episode.slug}/")
            page.wait_for_selector("h1.posttl", timeout=20_000)  # after the script's reload
            clearance = {c["name"]: c["value"] for c in page.context.cookies()}["cf_clearance"]
            page.click("#close-button2")  # the ad overlay covers the page, as on the site
            page.click(f'a[data-content="{episode.token(other)}"]')
            page.wait_for_function(
                "url => document.querySelector('#pembed iframe').src === url",
                arg=other.embed_url,
                timeout=20_000,
            )
        finally:
            browser.close()
    http.cookies.set("cf_clearance", clearance)
    assert http.get(fresh.base_url + "/").status_code == 200


def test_posters_on_the_origin_are_served_as_pictures(fresh: FakeOrigin, http) -> None:
    anime = next(iter(fresh.truth.anime.values()))
    response = http.get(fresh.url(anime.poster_path))
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/jpeg"
    from PIL import Image

    with Image.open(io.BytesIO(response.content)) as picture:  # a real raster poster
        assert (picture.format, picture.size) == ("JPEG", (400, 566))
    assert http.get(fresh.url(anime.poster_path)).content == response.content  # deterministic
    other = next(a for a in fresh.truth.anime.values() if a.poster_path != anime.poster_path)
    assert http.get(fresh.url(other.poster_path)).content != response.content
