"""A viewer in a real browser against the live server, with a catalogue crawled from the
fake origin (issue 6): nothing is built by hand and nothing of the pipeline is faked.

Three parties, three origins:

* the fake otakudesu origin answers on http://127.0.0.1:<origin port> (pages, admin-ajax);
* its embed players are on http://localhost:<origin port>/embed/... (EmbedHost rows
  "localhost:<origin port>", stored by ingest and by the mirror resolver, approved as an
  admin would);
* the site (live_server) is visited as http://127.0.0.1:<site port>.

So the player iframe is cross-origin and on another host name than the site: the CSP's
frame-src (built from EmbedHost) really decides whether it renders. Switching a mirror goes
browser -> site's mirror endpoint -> the real `scraper.mirrors.resolve_mirror` -> the fake
origin's nonce + embed protocol, with the origin taken from the last successful ScrapeRun.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from catalog.models import EmbedHost, ScrapeRun, StreamLink
from scraper.crawl import run_crawl
from tests.fake_origin import Anime as TruthAnime
from tests.fake_origin import Episode as TruthEpisode
from tests.fake_origin import FakeOrigin
from tests.fake_origin import Mirror as TruthMirror
from tests.pipeline_helpers import fast_client
from tests.test_browser import CHROMIUM, DESKTOP, Watcher, chromium, viewer_journey

__all__ = ["chromium"]  # the browser fixture, shared with test_browser

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is not installed"),
]

AJAX = "/wp-admin/admin-ajax.php"


@pytest.fixture
def origin() -> Iterator[FakeOrigin]:
    with FakeOrigin(seed=11, size=15) as fake:
        yield fake


@pytest.fixture
def crawled(origin: FakeOrigin, live_server, settings, tmp_path: Path) -> str:
    """The fake catalogue crawled into the test database; returns the site's base URL."""
    # The site's own resolver builds its client from these settings (not fast_client).
    settings.SCRAPER_RATE_LIMIT = 0
    settings.SCRAPER_RETRIES = 1
    settings.SCRAPER_TIMEOUT = 5
    settings.SCRAPER_COOKIE_PATH = tmp_path / "cookies.json"
    # Nothing may fall back on the configured origin: make it one that cannot answer.
    settings.OTAKUDESU_BASE_URL = "http://127.0.0.1:9"
    with fast_client(origin.base_url) as client:
        run = run_crawl("full", client=client)
    assert run.status == ScrapeRun.Status.OK, run.errors
    assert run.error_count == 0, run.errors

    site = f"http://127.0.0.1:{urlsplit(live_server.url).port}"
    embed_host = urlsplit(origin.embed_base).netloc
    # The premise of the CSP check: the embeds are on another host name than the site.
    assert urlsplit(site).hostname != urlsplit(origin.embed_base).hostname
    assert EmbedHost.objects.filter(host=embed_host).exists()
    # Found by the crawl, the fake's embed host is pending (no real otakudesu host): an
    # admin approves it, and only then do the pages frame it (tests/test_embed_policy.py).
    EmbedHost.objects.filter(host=embed_host).update(approved=True)
    origin.reset_log()
    return site


def pick_anime(origin: FakeOrigin) -> TruthAnime:
    """An ongoing anime with at least two numbered episodes (the first two are watched)."""
    for anime in sorted(origin.truth.anime.values(), key=lambda a: a.slug):
        numbered = [e for e in anime.episodes if e.number is not None]
        if (
            anime.status == "Ongoing"
            and len(numbered) >= 2
            and len(numbered) == len(anime.episodes)
        ):
            return anime
    raise AssertionError("the fake catalogue has no ongoing anime with two episodes")


def first_two(anime: TruthAnime) -> tuple[TruthEpisode, TruthEpisode]:
    ordered = sorted(anime.episodes, key=lambda e: e.number or 0)
    return ordered[0], ordered[1]


def other_mirror(episode: TruthEpisode) -> TruthMirror:
    """A mirror of another quality and provider than the default one."""
    default = episode.default_mirror
    return next(
        m
        for m in episode.mirrors
        if m.quality != default.quality and m.provider != default.provider
    )


def test_viewer_journey_on_a_crawled_catalogue(origin: FakeOrigin, crawled: str, chromium) -> None:
    anime = pick_anime(origin)
    first, second = first_two(anime)
    switch = other_mirror(first)
    assert switch.embed_url != first.default_embed

    viewer_journey(
        chromium,
        crawled,
        search=anime.title,
        anime_slug=anime.slug,
        episode_slugs=(first.slug, second.slug),
        default_embed=first.default_embed,
        switch_to=(switch.quality, switch.provider),
        expected_embed=switch.embed_url,
    )

    # The switch went through the origin's protocol (nonce, then embed), server-side,
    # to the origin of the last crawl, and the answer was stored on the mirror.
    ajax_calls = [r for r in origin.requests if r.method == "POST" and r.path == AJAX]
    assert len(ajax_calls) >= 2
    assert {r.host for r in ajax_calls} == {urlsplit(origin.base_url).netloc}
    link = StreamLink.objects.get(
        episode__slug=first.slug, quality=switch.quality, provider=switch.provider
    )
    assert link.embed_url == switch.embed_url
    assert link.resolved_at is not None


def test_crawled_embeds_render_across_hosts(origin: FakeOrigin, crawled: str, chromium) -> None:
    """The players really load inside the iframe (the CSP allows the crawled embed host)."""
    anime = pick_anime(origin)
    first, _ = first_two(anime)
    switch = other_mirror(first)
    context = chromium.new_context(viewport=DESKTOP, locale="id-ID")
    page = context.new_page()
    watcher = Watcher(page)
    page.goto(f"{crawled}/episode/{first.slug}/")

    player = page.frame_locator("#player-frame").locator("video#player")
    default_token = first.default_embed.rsplit("/", 1)[1]
    assert player.get_attribute("data-token") == default_token

    page.locator(
        f'[data-mirror][data-quality="{switch.quality}"][data-provider="{switch.provider}"]'
    ).click()
    switched_token = switch.embed_url.rsplit("/", 1)[1]
    page.frame_locator("#player-frame").locator(
        f'video#player[data-token="{switched_token}"]'
    ).wait_for()

    # Both players were fetched by the browser from the embed host, not from the site.
    embed_netloc = urlsplit(origin.embed_base).netloc
    embed_gets = [r.path for r in origin.requests if r.method == "GET" and r.host == embed_netloc]
    assert urlsplit(first.default_embed).path in embed_gets
    assert urlsplit(switch.embed_url).path in embed_gets
    assert watcher.problems == [], watcher.problems
    context.close()


def test_a_pending_embed_host_is_not_framed_and_the_viewer_is_told(
    origin: FakeOrigin, crawled: str, chromium
) -> None:
    """Before an admin approves the embed host (issue 11 item 10): no player, a note, and a
    mirror on it answers with the reason and the next mirror to try; the browser never
    contacts the host."""
    from catalog.embed_policy import forget_embed_hosts

    embed_netloc = urlsplit(origin.embed_base).netloc
    EmbedHost.objects.filter(host=embed_netloc).update(approved=False)
    forget_embed_hosts()
    anime = pick_anime(origin)
    first, _ = first_two(anime)
    switch = other_mirror(first)
    context = chromium.new_context(viewport=DESKTOP, locale="id-ID")
    page = context.new_page()
    watcher = Watcher(page)
    page.goto(f"{crawled}/episode/{first.slug}/")

    assert page.locator("#player-frame").get_attribute("src") is None
    assert page.get_by_text("host yang belum disetujui situs").is_visible()
    page.locator(
        f'[data-mirror][data-quality="{switch.quality}"][data-provider="{switch.provider}"]'
    ).click()
    status = page.locator("[data-player-status]")
    status.get_by_text("belum disetujui situs").wait_for()
    assert status.locator("button").get_by_text("Coba mirror berikutnya").is_visible()
    assert page.locator("#player-frame").get_attribute("src") is None

    assert [r for r in origin.requests if r.host == embed_netloc] == []
    # The refused mirror's 403 is the only thing the console reports: no CSP violation.
    assert [p for p in watcher.problems if "403" not in p] == [], watcher.problems
    context.close()
