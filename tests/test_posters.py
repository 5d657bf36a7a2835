"""Posters on our own domain: the worker fetches each anime's poster once from the fake
origin over real HTTP (the scraper's client), stores WebP + JPEG in the widths the pages
show, and the pages point at those files (srcset, <picture>); a missing or unreachable
poster leaves the placeholder and the catalogue untouched."""

from __future__ import annotations

import io
import os
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.test import Client
from PIL import Image

from catalog import posters
from catalog.models import Anime
from scraper import posters as fetcher
from scraper.crawl import run_crawl
from tests.fake_origin import FakeOrigin
from tests.fake_origin.posters import poster_jpeg
from tests.pipeline_helpers import expected_catalog, fast_client, stored_catalog

pytestmark = pytest.mark.django_db

_MEDIA_URL = re.compile(r"/media/posters/[0-9a-f]+-w?\d+\.(?:webp|jpg)")


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def origin() -> Iterator[FakeOrigin]:
    with FakeOrigin(seed=21, size=6) as fake:
        yield fake


def crawl(origin: FakeOrigin) -> None:
    with fast_client(origin.base_url) as client:
        run_crawl("full", client=client)


def fetch(origin: FakeOrigin, **overrides) -> fetcher.PosterRun:
    with fast_client(origin.base_url, **overrides) as client:
        return fetcher.fetch_pending(client=client)


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def poster_requests(origin: FakeOrigin) -> list[str]:
    return [r.path for r in origin.requests if r.path.startswith("/wp-content/uploads/")]


def test_encode_gives_every_width_and_shape_in_webp_and_jpeg() -> None:
    encoded = fetcher.encode(poster_jpeg("/wp-content/uploads/2026/01/some-show-abc123.jpg"))
    assert set(encoded) == {
        (w, ext, shape) for w in (180, 270, 360) for ext in ("webp", "jpg") for shape in "pw"
    }
    for (width, ext, shape), data in encoded.items():
        image = decode(data)
        assert image.format == {"webp": "WEBP", "jpg": "JPEG"}[ext]
        # Portrait 225:320 for the cards, 16:10 for the episode cards.
        height = round(width * 320 / 225) if shape == "p" else round(width * 10 / 16)
        assert image.size == (width, height)


@pytest.mark.parametrize(
    "data", [b"<html><body>not found</body></html>", b"", b"\xff\xd8\xff" + b"\0" * 64]
)
def test_encode_refuses_what_is_not_a_picture(data: bytes) -> None:
    with pytest.raises(fetcher.BadImage):
        fetcher.encode(data)


def test_posters_are_fetched_once_stored_and_served_from_our_domain(origin: FakeOrigin) -> None:
    crawl(origin)
    origin.reset_log()
    run = fetch(origin)
    assert (run.stored, run.failed, run.given_up) == (6, 0, 0)
    # One request per poster, through the client (the origin's host, nothing else).
    wanted = sorted(a.poster_path for a in origin.truth.anime.values())
    assert sorted(poster_requests(origin)) == wanted
    origin.reset_log()
    assert fetch(origin).stored == 0
    assert poster_requests(origin) == []

    client = Client()
    anime = Anime.objects.order_by("title").first()
    assert anime is not None
    assert anime.poster_key
    page = client.get(anime.get_absolute_url()).content.decode()
    assert "<picture>" in page
    assert f'srcset="{posters.srcset(anime.poster_key, "webp")}"' in page
    assert f'srcset="{posters.srcset(anime.poster_key, "jpg")}"' in page
    assert origin.base_url not in page  # no image from the origin's host
    home = client.get("/").content.decode()
    assert _MEDIA_URL.search(home)
    assert origin.base_url not in home
    # Cards after the first few wait for posters.js; without JavaScript, <noscript> has them.
    deferred = re.findall(r'<img data-poster-defer data-src="([^"]+)"', home)
    assert deferred
    noscript = re.findall(r"<noscript><picture>.*?<img src=\"([^\"]+)\"", home)
    assert noscript == deferred

    # Episode cards take the wide crops.
    assert re.search(
        r'<article class="card card-episode".*?srcset="[^"]*-w360\.webp 360w"', home, re.S
    )
    for width, ext, shape in fetcher.FILES:
        response = client.get(posters.url(anime.poster_key, width, ext, shape))
        assert response.status_code == 200
        assert response["Content-Type"] == posters.FORMATS[ext]
        assert "immutable" in response["Cache-Control"]
        assert "max-age=31536000" in response["Cache-Control"]
        image = decode(b"".join(response.streaming_content))
        assert image.size == (width, posters.height_for(width, shape))


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_missing_or_unreachable_poster_leaves_the_placeholder(origin: FakeOrigin) -> None:
    crawl(origin)
    before = stored_catalog()
    missing, unreachable, *_ = Anime.objects.order_by("slug")
    origin.fail_paths([origin.truth.anime[missing.slug].poster_path], status=404)
    dead = f"http://127.0.0.1:{_closed_port()}/wp-content/uploads/2026/01/gone.jpg"
    Anime.objects.filter(pk=unreachable.pk).update(poster_url=dead)

    run = fetch(origin, retries=1)
    assert (run.stored, run.failed, run.given_up) == (4, 1, 1)
    client = Client()
    for anime in (missing, unreachable):
        response = client.get(anime.get_absolute_url())
        assert response.status_code == 200
        page = response.content.decode()
        assert 'class="poster-fallback"' in page
        assert "<picture>" not in page
        assert "/wp-content/uploads/" not in page
    assert client.get("/").status_code == 200
    # Every title, episode and link is as the crawl stored it from the origin.
    assert stored_catalog() == before == expected_catalog(origin.truth)

    # A 404 is given up at once; an unreachable host is tried again, a bounded number of times.
    for _ in range(fetcher.MAX_TRIES + 1):
        fetch(origin, retries=0)
    unreachable.refresh_from_db()
    assert unreachable.poster_tries == fetcher.MAX_TRIES
    assert not unreachable.poster_key
    assert fetcher.pending().count() == 0


def test_a_new_poster_url_is_fetched_and_a_failing_one_keeps_the_old_copy(
    origin: FakeOrigin,
) -> None:
    crawl(origin)
    fetch(origin)
    anime = Anime.objects.order_by("slug").first()
    assert anime is not None
    old_key, old_version = anime.poster_key, anime.version
    new_path = "/wp-content/uploads/2026/02/another-poster.jpg"
    Anime.objects.filter(pk=anime.pk).update(poster_url=origin.url(new_path))
    assert fetch(origin).stored == 1
    anime.refresh_from_db()
    assert anime.poster_key not in {"", old_key}
    assert anime.version > old_version  # cached pages show the new poster at once

    kept = anime.poster_key
    broken = "/wp-content/uploads/2026/03/broken.jpg"
    origin.fail_paths([broken], status=503)
    Anime.objects.filter(pk=anime.pk).update(poster_url=origin.url(broken))
    assert fetch(origin, retries=0).failed == 1
    anime.refresh_from_db()
    assert anime.poster_key == kept


def test_a_crawl_task_stores_its_data_even_when_the_poster_task_cannot_be_queued(
    origin: FakeOrigin, monkeypatch: pytest.MonkeyPatch, settings
) -> None:
    from django_q import tasks as q_tasks

    from scraper.tasks import crawl_task

    queued: list[str] = []

    def broken_queue(name: str, **_kw) -> None:
        queued.append(name)
        raise ConnectionError("broker down")

    monkeypatch.setattr(q_tasks, "async_task", broken_queue)
    settings.SCRAPER_RATE_LIMIT = 0
    assert crawl_task("full", base_url=origin.base_url)
    assert queued == ["scraper.posters.fetch_posters_task"]
    assert Anime.objects.count() == 6
    assert not Anime.objects.exclude(poster_key="").exists()  # placeholders until fetched


@pytest.mark.parametrize(
    "path",
    [
        "/media/posters/",
        "/media/posters/..%2F..%2Fsettings.py",
        "/media/posters/0123456789abcdef0123-180.png",
        "/media/posters/0123456789abcdef0123-999.webp",
        "/media/posters/0123456789abcdef0123-x180.webp",
        "/media/posters/0123456789abcdef0123-180.webp",  # well-formed, not stored
        "/media/posters/NOTHEX-180.jpg",
        "/media/other/file.jpg",
        "/media/posters/0123456789abcdef0123-180.webp/x",
    ],
)
def test_odd_media_urls_are_404(path: str) -> None:
    assert Client().get(path).status_code == 404


CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
# As a viewer scrolling down: each poster comes into view, two frames apart (the posters
# after the first cards are given their srcset by static/js/posters.js when near the screen).
_SCROLL_PAST_EVERY_POSTER = """async () => {
  const frame = () => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  for (const img of document.querySelectorAll('.poster img')) {
    img.scrollIntoView();
    await frame();
  }
}"""
# Every poster has a source and is done: decoded, or broken (naturalWidth 0, asserted below).
_ALL_POSTERS_DONE = """() => {
  const imgs = Array.from(document.querySelectorAll('.poster img'));
  return imgs.length > 0 && imgs.every(i => i.currentSrc && i.complete);
}"""


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is not installed")
def test_posters_load_in_chromium_from_our_domain(origin: FakeOrigin, live_server) -> None:
    playwright_api = pytest.importorskip("playwright.sync_api")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # the ORM calls here are the test's
    from scraper.solver import CHROMIUM_ARGS

    crawl(origin)
    assert fetch(origin).stored == 6
    site = live_server.url
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=list(CHROMIUM_ARGS))
        context = browser.new_context(
            viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True
        )
        page = context.new_page()
        hosts: set[str] = set()
        page.on("request", lambda request: hosts.add(urlsplit(request.url).netloc))
        for path in ("/", Anime.objects.order_by("slug").first().get_absolute_url()):
            page.goto(site + path)
            page.evaluate(_SCROLL_PAST_EVERY_POSTER)
            page.wait_for_function(_ALL_POSTERS_DONE, timeout=60_000)
            loaded = page.eval_on_selector_all(
                ".poster img", "imgs => imgs.map(i => [i.currentSrc, i.naturalWidth])"
            )
            assert loaded, path
            for src, natural_width in loaded:
                assert src.startswith(site + "/media/posters/"), src
                assert src.endswith(".webp"), src  # Chromium takes the WebP source
                assert natural_width > 0, src  # decoded (srcset reports it in CSS pixels)
                assert re.search(r"-w?(\d+)\.webp$", src)[1] in {str(w) for w in posters.WIDTHS}
        browser.close()
    assert hosts == {urlsplit(site).netloc}  # nothing from the origin's image host


def test_a_crawl_task_queues_the_poster_task_which_stores_them(
    origin: FakeOrigin, monkeypatch: pytest.MonkeyPatch, settings
) -> None:
    from django_q.conf import Conf

    from scraper.tasks import crawl_task

    # The broker runs queued tasks at once (django-q's sync mode), as the worker would.
    monkeypatch.setattr(Conf, "SYNC", True)
    settings.SCRAPER_RATE_LIMIT = 0
    settings.OTAKUDESU_BASE_URL = origin.base_url
    assert crawl_task("full", base_url=origin.base_url)
    assert not Anime.objects.filter(poster_key="").exists()
    assert sorted(poster_requests(origin)) == sorted(
        a.poster_path for a in origin.truth.anime.values()
    )
    origin.reset_log()
    crawl_task("full", base_url=origin.base_url)  # nothing new: no poster fetched again
    assert poster_requests(origin) == []


def test_files_no_anime_shows_are_deleted_once_old(origin: FakeOrigin, media_root: Path) -> None:
    crawl(origin)
    fetch(origin)
    directory = media_root / "posters"
    kept = {p.name for p in directory.iterdir()}
    assert len(kept) == 6 * len(fetcher.FILES)
    old = time.time() - fetcher.PRUNE_AFTER_SECONDS - 60
    gone = ["0123456789abcdef0123-180.webp", "0123456789abcdef0123-w360.jpg", ".tmp-abc"]
    for name in [*gone, "fedcba9876543210fedc-180.jpg"]:
        (directory / name).write_bytes(b"x")
    for name in [*gone, *kept]:
        os.utime(directory / name, (old, old))
    assert fetcher.prune_unused() == len(gone)
    # Those of stored posters stay however old; a recent unused file waits its turn.
    assert {p.name for p in directory.iterdir()} == kept | {"fedcba9876543210fedc-180.jpg"}
