"""`manage.py scrape ... --base-url` against a local server that serves the real captured
otakudesu pages of ../shared/otakudesu-pages at their paths (issue 5).

The captured pages link to https://otakudesu.best/...; the crawler must still fetch every
page from the base URL it was given. Only a handful of pages were captured, so most links
lead to a 404 here: those must become errors of the run, never a crash, and never cost the
rows that could be stored.

Expected values below were read off the captured HTML by a person (titles, numbers, names);
URLs are checked against the page served at runtime, nothing of the pages is copied here.
"""

from __future__ import annotations

import datetime
import io
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command

from catalog.models import Anime, DownloadLink, EmbedHost, Episode, ScrapeRun, StreamLink
from tests.conftest import SHARED_PAGES
from tests.http_helpers import Reply, ScriptedServer, scripted_server

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(not SHARED_PAGES.is_dir(), reason="../shared/otakudesu-pages absent"),
]

OSHI = "oshi-ko-s3-sub-indo"
SHIBOU = "shibou-yuugi-meshi-kuu-sub-indo"
EP1 = "onk-s3-episode-1-sub-indo"
EP2 = "onk-s3-episode-2-sub-indo"
OSHI_EPISODES = [f"onk-s3-episode-{n}-sub-indo" for n in range(1, 6)]

# Path on the origin -> captured file (paths as SOURCES.md gives them).
SERVED = {
    "/": "home--illhm.html",
    "/ongoing-anime/": "ongoing--illhm.html",
    "/anime-list/": "anime-list--illhm.html",
    "/jadwal-rilis/": "schedule--illhm.html",
    "/genre-list/": "genre-list--illhm.html",
    "/genres/romance/": "genre-romance--illhm.html",
    "/genres/romance/page/2/": "genre-romance-page2--illhm.html",
    "/genres/romance/page/3/": "genre-romance-page3--illhm.html",
    f"/anime/{OSHI}/": "detail-oshi-ko-s3--illhm.html",
    f"/anime/{SHIBOU}/": "detail-shibou-yuugi--illhm.html",
    f"/episode/{EP1}/": "episode-onk-s3-ep1--illhm.html",
    f"/episode/{EP2}/": "episode-onk-s3-ep2--illhm.html",
}


def real_page(path: str) -> str:
    return (Path(SHARED_PAGES) / SERVED[path]).read_text(encoding="utf-8")


@pytest.fixture
def origin() -> Iterator[ScriptedServer]:
    """The captured pages at their paths on 127.0.0.1; anything else is a 404."""
    with scripted_server() as server:
        for path in SERVED:
            server.default(path, Reply(200, real_page(path)))
        yield server


@pytest.fixture(autouse=True)
def _scraper_settings(settings, tmp_path: Path) -> None:
    settings.SCRAPER_RATE_LIMIT = 0  # no politeness delay toward our own test server
    settings.SCRAPER_RETRIES = 0  # a 404 is never retried anyway; nothing else fails here
    settings.SCRAPER_TIMEOUT = 5
    settings.SCRAPER_COOKIE_PATH = tmp_path / "cookies.json"
    # A crawl must never fall back to the configured origin: make that one unreachable.
    settings.OTAKUDESU_BASE_URL = "http://127.0.0.1:9"


def scrape(*args: str, exit_status: int = 0) -> tuple[str, str]:
    """Run `manage.py scrape`; a CommandError (an unclean exit) fails the test, and so does
    an exit status other than ``exit_status`` (2: finished, but some pages failed)."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("scrape", *args, stdout=out, stderr=err)
        status = 0
    except SystemExit as exc:
        status = exc.code
    assert status == exit_status, err.getvalue()
    return out.getvalue(), err.getvalue()


def assert_only_local_requests(origin: ScriptedServer, run: ScrapeRun) -> None:
    """Every request the crawl made reached this server, addressed to it."""
    seen = origin.seen()
    assert run.requests_made == len(seen) > 0
    assert {r.headers["host"] for r in seen} == {f"127.0.0.1:{origin.port}"}
    assert run.base_url == origin.base_url


def errored_slugs(run: ScrapeRun, prefix: str) -> set[str]:
    """Slugs named in the run's error lines that start with `prefix` ("anime", "episode")."""
    slugs = set()
    for line in run.errors.splitlines():
        if line.startswith(prefix + " "):
            slugs.add(line.split(" ", 2)[1].rstrip(":"))
    return slugs


# --------------------------------------------------------------------------- expectations


def assert_oshi_detail_stored() -> Anime:
    anime = Anime.objects.get(slug=OSHI)
    assert anime.title == "Oshi no Ko Season 3"
    assert anime.title_japanese == "【推しの子】 第3期"
    assert anime.score == Decimal("8.25")
    assert anime.producers == ["Kadokawa"]
    assert anime.type == "TV"
    assert anime.status == Anime.Status.ONGOING
    assert anime.total_episodes == 11
    assert anime.duration == "24 Min."
    assert anime.release_date == datetime.date(2026, 1, 14)
    assert anime.studios == ["Doga Kobo"]
    assert sorted(g.name for g in anime.genres.all()) == [
        "Drama",
        "Reincarnation",
        "Seinen",
        "Showbiz",
    ]
    assert anime.synopsis == ""  # this capture has an empty synopsis block
    # The poster is an image the viewer's browser loads; it is stored, never fetched.
    assert anime.poster_url.endswith("/153329.jpg")

    episodes = {e.slug: e for e in anime.episodes.all()}
    assert sorted(episodes) == sorted(OSHI_EPISODES)  # all five listed on the page
    fifth = episodes["onk-s3-episode-5-sub-indo"]
    assert fifth.title == "Oshi no Ko Season 3 Episode 5 Subtitle Indonesia"
    assert fifth.number == 5
    assert fifth.published_on == datetime.date(2026, 2, 11)
    assert episodes[EP1].published_on == datetime.date(2026, 1, 15)
    return anime


def mirrors(slug: str) -> dict[str, list[tuple[str, bool]]]:
    """quality -> [(provider, is default)] in page order."""
    result: dict[str, list[tuple[str, bool]]] = {}
    for link in StreamLink.objects.filter(episode__slug=slug).order_by("position"):
        result.setdefault(link.quality, []).append((link.provider, link.is_default))
    return result


def downloads(slug: str) -> dict[tuple[str, str], tuple[list[str], set[str]]]:
    """(format, quality) -> (providers in page order, sizes shown)."""
    result: dict[tuple[str, str], tuple[list[str], set[str]]] = {}
    for link in DownloadLink.objects.filter(episode__slug=slug).order_by("position"):
        providers, sizes = result.setdefault((link.format.lower(), link.quality), ([], set()))
        providers.append(link.provider)
        sizes.add(link.size_text)
    return result


PROVIDERS = ["ODFiles", "Pdrain", "Acefile", "GoFile", "Mega", "KFiles"]


def assert_episode_1_stored() -> None:
    episode = Episode.objects.get(slug=EP1)
    assert episode.post_id == 192092
    html = real_page(f"/episode/{EP1}/")
    # The default player is the iframe the page shows, on the stream host it names.
    assert episode.default_embed_url.startswith("https://str.desustream.com/dstream/ondesu3/")
    assert f'src="{episode.default_embed_url}"' in html
    assert mirrors(EP1) == {
        "360p": [("vidhide", False), ("filedon", False), ("mega", False)],
        "480p": [("ondesu3", True), ("vidhide", False), ("filedon", False), ("mega", False)],
        "720p": [("filedon", False), ("vidhide", False), ("mega", False)],
    }
    tokens = set(StreamLink.objects.filter(episode=episode).values_list("token_id", flat=True))
    assert tokens == {192092}
    assert downloads(EP1) == {
        ("mp4", "360p"): (PROVIDERS, {"39.5 MB"}),
        ("mp4", "480p"): (PROVIDERS, {"69.3 MB"}),
        ("mp4", "720p"): (PROVIDERS, {"130.4 MB"}),
        ("mkv", "480p"): (PROVIDERS, {"68.4 MB"}),
        ("mkv", "720p"): (PROVIDERS, {"129.7 MB"}),
        ("mkv", "1080p"): (PROVIDERS, {"290.8 MB"}),
    }
    for url in DownloadLink.objects.filter(episode=episode).values_list("url", flat=True):
        assert f'href="{url}"' in html


def assert_episode_2_stored() -> None:
    episode = Episode.objects.get(slug=EP2)
    assert episode.post_id == 192488
    assert episode.anime.slug == OSHI
    html = real_page(f"/episode/{EP2}/")
    assert episode.default_embed_url.startswith("https://str.desustream.com/dstream/ondesu/")
    assert f'src="{episode.default_embed_url}"' in html
    assert mirrors(EP2) == {
        "360p": [("vidhide", False), ("filedon", False), ("mega", False)],
        "480p": [("ondesu", True), ("vidhide", False), ("filedon", False), ("mega", False)],
        "720p": [("ondesuhd", False), ("filedon", False), ("vidhide", False), ("mega", False)],
    }
    assert downloads(EP2) == {
        ("mp4", "360p"): (PROVIDERS, {"39.5 MB"}),
        ("mp4", "480p"): (PROVIDERS, {"64.3 MB"}),
        ("mp4", "720p"): (PROVIDERS, {"98.6 MB"}),
        ("mp4", "1080p"): (PROVIDERS, {"188.3 MB"}),
        ("mkv", "480p"): (PROVIDERS, {"73.4 MB"}),
        ("mkv", "720p"): (PROVIDERS, {"116.2 MB"}),
        ("mkv", "1080p"): (PROVIDERS, {"228.2 MB"}),
    }
    for url in DownloadLink.objects.filter(episode=episode).values_list("url", flat=True):
        assert f'href="{url}"' in html


# --------------------------------------------------------------------------- tests


def test_scrape_anime_stores_what_the_real_detail_and_episode_pages_show(
    origin: ScriptedServer,
) -> None:
    # Episodes 3-5 were not captured: the run finishes "partial" (exit 2) and names them.
    out, err = scrape("anime", OSHI, "--base-url", origin.base_url, exit_status=2)

    run = ScrapeRun.objects.get()
    assert run.status == ScrapeRun.Status.PARTIAL
    assert "anime partial" in out
    assert_oshi_detail_stored()
    assert_episode_1_stored()
    assert_episode_2_stored()
    # Episodes 3-5 were not captured: their 404s are errors of the run, and the rest is kept.
    assert errored_slugs(run, "episode") == {f"onk-s3-episode-{n}-sub-indo" for n in (3, 4, 5)}
    assert run.error_count == 3
    assert "onk-s3-episode-3-sub-indo" in err
    for n in (3, 4, 5):
        # Listed on the detail page, so stored; never fetched, so without a player.
        missing = Episode.objects.get(slug=f"onk-s3-episode-{n}-sub-indo")
        assert (missing.post_id, missing.default_embed_url) == (None, "")
        assert not missing.stream_links.exists()

    # The page's links name otakudesu.best; every one was fetched from the given base.
    assert_only_local_requests(origin, run)
    assert [r.path for r in origin.seen()] == [
        f"/anime/{OSHI}/",
        *(f"/episode/{slug}/" for slug in reversed(OSHI_EPISODES)),  # the page lists newest first
    ]
    # The default players' host is what the site's CSP will allow in frame-src.
    assert EmbedHost.objects.filter(host="str.desustream.com").exists()


def test_scrape_anime_twice_writes_nothing_the_second_time(origin: ScriptedServer) -> None:
    scrape("anime", OSHI, "--base-url", origin.base_url, exit_status=2)
    version = Anime.objects.get(slug=OSHI).version
    scrape("anime", OSHI, "--base-url", origin.base_url, exit_status=2)
    second = ScrapeRun.objects.order_by("-pk").first()
    assert second is not None
    assert (second.created, second.updated) == (0, 0)
    assert second.unchanged > 0
    assert Anime.objects.get(slug=OSHI).version == version


def test_scrape_episode_stores_it_with_its_anime(origin: ScriptedServer) -> None:
    scrape("episode", EP2, "--base-url", origin.base_url)

    run = ScrapeRun.objects.get()
    assert run.status == ScrapeRun.Status.OK
    assert run.kind == "episode"
    assert_episode_2_stored()
    # The episode page names its anime, whose detail is fetched and stored (with its
    # episode list), but not the pages of the other episodes: one episode was asked for.
    assert_oshi_detail_stored()
    assert Episode.objects.get(slug=EP1).post_id is None
    assert run.error_count == 0
    assert_only_local_requests(origin, run)
    assert origin.seen()[0].path == f"/episode/{EP2}/"
    # Episode 2 came with the command: its page is not fetched a second time.
    assert len(origin.seen(f"/episode/{EP2}/")) == 1


def test_scrape_anime_whose_detail_page_is_missing_exits_with_an_error(
    origin: ScriptedServer,
) -> None:
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="not-captured-sub-indo"):
        scrape("anime", "not-captured-sub-indo", "--base-url", origin.base_url)
    run = ScrapeRun.objects.get()
    assert run.status == ScrapeRun.Status.FAILED
    assert not Anime.objects.exists()
    assert_only_local_requests(origin, run)


def test_scrape_ongoing_stores_the_captured_anime_and_records_the_rest_as_errors(
    origin: ScriptedServer,
) -> None:
    out, _err = scrape("ongoing", "--base-url", origin.base_url, exit_status=2)

    run = ScrapeRun.objects.get()
    assert run.status == ScrapeRun.Status.PARTIAL
    assert "ongoing partial" in out
    # Only two detail pages were captured; the home and ongoing pages list many more.
    assert set(Anime.objects.values_list("slug", flat=True)) == {OSHI, SHIBOU}
    oshi = assert_oshi_detail_stored()
    assert_episode_1_stored()
    assert_episode_2_stored()
    # Both are on the home page's Thursday row.
    assert oshi.release_day == "Kamis"

    shibou = Anime.objects.get(slug=SHIBOU)
    assert shibou.title == "Shibou Yuugi de Meshi wo Kuu."
    assert shibou.title_japanese == "死亡遊戯で飯を食う。"
    assert shibou.score == Decimal("7.44")
    assert shibou.producers == ["Nippon Columbia", "Kadokawa", "Bit grooove promotion"]
    assert shibou.studios == ["Studio Deen"]
    assert shibou.duration == "23 Min."
    assert shibou.release_date == datetime.date(2026, 1, 8)
    assert shibou.release_day == "Kamis"
    assert sorted(g.name for g in shibou.genres.all()) == ["Action", "Suspense"]
    assert shibou.synopsis.startswith("Di sebuah dunia distopia")
    assert "Permainan ke-99" in shibou.synopsis
    assert shibou.episodes.count() == 6
    assert not Episode.objects.filter(anime=shibou, post_id__isnull=False).exists()

    # Home: 15 ongoing + 10 completed cards; ongoing page 1 adds 10 more ongoing ones.
    failed_anime = errored_slugs(run, "anime")
    assert len(failed_anime) == 25 + 10 - 2
    assert {OSHI, SHIBOU}.isdisjoint(failed_anime)
    assert {"towa-yuugure-sub-indo", "gnosia-sub-indo"} <= failed_anime
    assert errored_slugs(run, "episode") == {
        *(f"onk-s3-episode-{n}-sub-indo" for n in (3, 4, 5)),
        *(f"symk-episode-{n}-sub-indo" for n in range(1, 7)),
    }
    # Ongoing page 1 says there are 6 pages: page 2 is missing here, paging stops there.
    assert any(line.startswith("ongoing page 2") for line in run.errors.splitlines())
    assert run.error_count == len(run.errors.splitlines())
    assert_only_local_requests(origin, run)
    assert not origin.seen("/ongoing-anime/page/3/")


def test_scrape_full_reads_the_real_a_z_list_and_schedule(origin: ScriptedServer) -> None:
    out, _err = scrape("full", "--limit", "3", "--base-url", origin.base_url, exit_status=2)

    run = ScrapeRun.objects.get()
    assert run.status == ScrapeRun.Status.PARTIAL
    assert "full partial" in out
    paths = [r.path for r in origin.seen()]
    assert paths[:2] == ["/anime-list/", "/jadwal-rilis/"]
    # The first three titles of the A-Z list; none of them was captured.
    assert len(paths) == 5
    assert all(p.startswith("/anime/") for p in paths[2:])
    assert errored_slugs(run, "anime") == {p.split("/")[2] for p in paths[2:]}
    assert not Anime.objects.exists()
    assert_only_local_requests(origin, run)
