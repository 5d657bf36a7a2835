"""A viewer in a real browser (Debian's Chromium through Playwright) against the live server.

The site is visited as http://localhost:<port>; stream embeds are served by the same live
server as http://127.0.0.1:<port>/test-embed/..., a different origin, so the CSP's
frame-src (built from EmbedHost) is really exercised. No internet is touched.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.http import HttpRequest, HttpResponse
from django.urls import include, path
from django.utils.html import escape
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csp import csp_override

from scraper.solver import CHROMIUM_ARGS
from tests.site_factories import SampleCatalogue, build_sample_catalogue

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is not installed"),
]

# Playwright's sync API runs an event loop in this thread; Django's ORM refuses to run in
# one unless told it is fine (the ORM calls here are the test's own, not concurrent).
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"


@xframe_options_exempt
@csp_override({})
def fake_embed(request: HttpRequest, name: str) -> HttpResponse:
    """Stands in for an embed host's player page."""
    return HttpResponse(f"<!DOCTYPE html><title>embed</title><p>embed {escape(name)}</p>")


# This module doubles as the test URLconf: the site plus the fake embed pages.
urlpatterns = [
    path("test-embed/<path:name>", fake_embed),
    path("", include("otakusite.urls")),
]


@pytest.fixture
def browser_site(live_server, settings) -> Iterator[tuple[str, SampleCatalogue]]:
    """The sample catalogue with embeds on a second origin, and the site's base URL."""
    settings.ROOT_URLCONF = __name__
    port = urlsplit(live_server.url).port
    site = f"http://localhost:{port}"
    sample = build_sample_catalogue(f"http://127.0.0.1:{port}/test-embed")
    return site, sample


@pytest.fixture
def resolved_embeds(monkeypatch: pytest.MonkeyPatch, browser_site) -> str:
    """resolve_mirror answers like the origin's protocol would: a known embed URL."""
    from scraper import mirrors

    _, sample = browser_site
    base = f"{sample.embed_base}/resolved"
    monkeypatch.setattr(mirrors, "resolve_mirror", lambda *, link_id, **_: f"{base}/{link_id}")
    return base


@pytest.fixture
def chromium() -> Iterator[object]:
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=list(CHROMIUM_ARGS))
        yield browser
        browser.close()


class Watcher:
    """Collects console errors (CSP violations are logged as errors) and page errors."""

    def __init__(self, page) -> None:
        self.problems: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.problems.append(f"pageerror: {exc}"))

    def _console(self, message) -> None:
        if message.type in {"error", "warning"} or "Content Security Policy" in message.text:
            self.problems.append(f"{message.type}: {message.text}")


def no_sideways_scroll(page) -> bool:
    return page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )


def viewer_journey(
    browser,
    site: str,
    *,
    search: str,
    anime_slug: str,
    episode_slugs: tuple[str, str],
    default_embed: str,
    switch_to: tuple[str, str],
    expected_embed: str,
) -> None:
    """The viewer's path through the site; reusable with any catalogue (e.g. a crawled one).

    `expected_embed` may contain "{id}", replaced by the chosen mirror's StreamLink id.
    """
    first, second = episode_slugs
    context = browser.new_context(viewport=PHONE, locale="id-ID")
    page = context.new_page()
    watcher = Watcher(page)

    def check_layout() -> None:
        assert no_sideways_scroll(page), page.url

    page.goto(f"{site}/")
    check_layout()
    assert page.locator("[data-continue]").is_hidden()  # nothing watched yet

    page.fill("#q-home", search)
    page.press("#q-home", "Enter")
    page.wait_for_url("**/search/?q=*")
    check_layout()
    page.click(f'main a[href="/anime/{anime_slug}/"]')
    page.wait_for_url(f"**/anime/{anime_slug}/")
    check_layout()

    page.click(f'[data-watch-list] a[href="/episode/{first}/"]')
    page.wait_for_url(f"**/episode/{first}/")
    check_layout()
    assert page.locator("#player-frame").get_attribute("src") == default_embed

    quality, provider = switch_to
    button = page.locator(f'[data-mirror][data-quality="{quality}"][data-provider="{provider}"]')
    button.click()
    expected = expected_embed.replace("{id}", button.get_attribute("data-mirror") or "")
    page.wait_for_function(
        "url => document.querySelector('#player-frame').src === url", arg=expected
    )
    assert button.get_attribute("aria-pressed") == "true"

    page.click('a[rel="next"]')
    page.wait_for_url(f"**/episode/{second}/")
    check_layout()

    page.goto(f"{site}/")
    continue_section = page.locator("[data-continue]")
    continue_section.wait_for(state="visible")
    assert "Lanjutkan menonton" in continue_section.inner_text()
    assert continue_section.locator("a").first.get_attribute("href") == f"/episode/{second}/"
    check_layout()

    page.goto(f"{site}/anime/{anime_slug}/")
    for slug in episode_slugs:  # both episodes now carry the watched mark
        page.locator(f'[data-watch-list] li.watched[data-episode="{slug}"]').wait_for()
    check_layout()

    assert watcher.problems == [], watcher.problems
    context.close()


def test_viewer_finds_watches_switches_mirror_and_continues(
    browser_site, resolved_embeds, chromium
) -> None:
    site, sample = browser_site
    viewer_journey(
        chromium,
        site,
        search="pedang",
        anime_slug=sample.ongoing.slug,
        episode_slugs=(sample.episodes[0].slug, sample.episodes[1].slug),
        default_embed=f"{sample.embed_base}/default/1",
        switch_to=("720p", "penyedia2"),
        expected_embed=f"{resolved_embeds}/{{id}}",
    )


def test_embeds_really_load_across_origins(browser_site, resolved_embeds, chromium) -> None:
    """The CSP lets the embed host's page render inside the player (not just the src)."""
    site, sample = browser_site
    context = chromium.new_context(viewport=DESKTOP, locale="id-ID")
    page = context.new_page()
    watcher = Watcher(page)
    page.goto(site + sample.episodes[0].get_absolute_url())
    player = page.frame_locator("#player-frame")
    assert player.locator("p").inner_text() == "embed default/1"
    button = page.locator('[data-mirror][data-quality="480p"][data-provider="penyedia2"]')
    button.click()
    link_id = button.get_attribute("data-mirror")
    player.locator(f"text=embed resolved/{link_id}").wait_for()
    assert watcher.problems == [], watcher.problems
    context.close()


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_every_page_is_clean_in_the_browser(browser_site, chromium, viewport) -> None:
    site, sample = browser_site
    context = chromium.new_context(viewport=viewport, locale="id-ID")
    page = context.new_page()
    watcher = Watcher(page)
    paths = [
        "/",
        "/ongoing/",
        "/completed/",
        "/anime/",
        "/genres/",
        "/genres/aksi/",
        "/jadwal/",
        "/search/?q=",
        "/search/?q=" + "x" * 300,
        sample.ongoing.get_absolute_url(),
        sample.completed.get_absolute_url(),
        sample.episodes[0].get_absolute_url(),
    ]
    for url in paths:
        response = page.goto(site + url)
        assert response is not None
        assert response.status == 200, url
        page.wait_for_load_state("load")
        assert no_sideways_scroll(page), url
    assert watcher.problems == [], watcher.problems
    context.close()


def test_failing_mirror_says_so_and_offers_the_next(
    browser_site, chromium, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scraper import mirrors

    site, sample = browser_site

    def failing(*, link_id: int, **_: object) -> str:
        raise mirrors.MirrorError("origin answered 403")

    monkeypatch.setattr(mirrors, "resolve_mirror", failing)
    context = chromium.new_context(viewport=PHONE, locale="id-ID")
    page = context.new_page()
    page.goto(site + sample.episodes[0].get_absolute_url())
    page.locator('[data-mirror][data-quality="480p"][data-provider="penyedia2"]').click()
    status = page.locator("[data-player-status]")
    status.locator("button").wait_for(state="visible")
    assert "Mirror ini gagal dimuat." in status.inner_text()
    assert "720p penyedia1" in status.locator("button").inner_text()
    # The default embed keeps playing.
    assert page.locator("#player-frame").get_attribute("src").endswith("/default/1")
    context.close()
