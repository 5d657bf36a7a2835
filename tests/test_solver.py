"""The challenge solver: real Chromium against the fake origin's JavaScript challenge, and
its rate limit (with a stand-in browser and an injected clock)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.test import override_settings

from catalog.models import Anime, ScrapeRun
from scraper.client import ChallengeError, OriginClient
from scraper.solver import Clearance, SolverError, reset_state, solve_challenge
from tests.fake_origin import FakeOrigin
from tests.http_helpers import Reply, scripted_server

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
needs_chromium = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM} (apt install chromium)"
)


@pytest.fixture(autouse=True)
def _fresh_solver() -> Iterator[None]:
    reset_state()
    yield
    reset_state()


@pytest.fixture
def challenged() -> Iterator[FakeOrigin]:
    with FakeOrigin(seed=5, size=3) as origin:
        origin.challenge(True)
        yield origin


def client_for(origin: FakeOrigin) -> OriginClient:
    return OriginClient(origin.base_url, rate=None, retries=0)


# --------------------------------------------------------------------------- real browser


@pytest.mark.browser
@needs_chromium
def test_chromium_passes_the_challenge_and_plain_http_goes_on(challenged: FakeOrigin) -> None:
    slug = next(iter(challenged.truth.anime))
    path = f"/anime/{slug}/"
    with client_for(challenged) as client:
        with pytest.raises(ChallengeError):
            client.get(path)

        with override_settings(CHROMIUM_PATH=CHROMIUM):
            solve_challenge(client, challenged.url(path), timeout=60)

        page = client.get(path)
        assert page.status == 200
        assert challenged.truth.anime[slug].title in page.text
        # The client now speaks with the browser's User-Agent, the one the cookie is bound to.
        assert "Chrome/" in client.user_agent
        assert "Headless" not in client.user_agent
    last = challenged.requests[-1]
    assert (last.path, last.status) == (path, 200)


@pytest.mark.browser
@needs_chromium
@pytest.mark.django_db(transaction=True)
def test_crawl_meets_the_challenge_solves_it_and_completes(
    challenged: FakeOrigin, tmp_path: Path
) -> None:
    from scraper.crawl import run_crawl

    with override_settings(
        CHROMIUM_PATH=CHROMIUM,
        SCRAPER_RATE_LIMIT=0,
        SCRAPER_RETRIES=1,
        SCRAPER_COOKIE_PATH=tmp_path / "cookies.json",
    ):
        run = run_crawl("full", base_url=challenged.base_url)

    assert run.status == ScrapeRun.Status.OK
    assert set(Anime.objects.values_list("slug", flat=True)) == set(challenged.truth.anime)


@pytest.mark.browser
@needs_chromium
def test_a_challenge_that_never_clears_fails_with_a_clear_error() -> None:
    # An interstitial without a working script (like a CAPTCHA we cannot pass).
    stuck = (
        "<html><head><title>Just a moment...</title></head>"
        "<body>Checking your browser (cf_chl)</body></html>"
    )
    with scripted_server() as server:
        server.default("/", Reply(403, stuck, (("Content-Type", "text/html"),)))
        with (
            OriginClient(server.base_url, rate=None) as client,
            override_settings(CHROMIUM_PATH=CHROMIUM),
            pytest.raises(SolverError, match="did not clear within 5s") as info,
        ):
            solve_challenge(client, server.base_url + "/", timeout=5)
    assert server.base_url in str(info.value)
    assert "not set" in str(info.value)  # cf_clearance never appeared


def test_missing_browser_is_a_solver_error_naming_the_setting(
    challenged: FakeOrigin, tmp_path: Path
) -> None:
    with (
        client_for(challenged) as client,
        override_settings(CHROMIUM_PATH=str(tmp_path / "no-chromium")),
        pytest.raises(SolverError, match="CHROMIUM_PATH"),
    ):
        solve_challenge(client, challenged.url("/"), timeout=10)


# --------------------------------------------------------------------------- guards


class FakeBrowser:
    def __init__(self) -> None:
        self.opened: list[str] = []

    def __call__(self, url: str, timeout: float, executable: str) -> Clearance:
        self.opened.append(url)
        cookies = [{"name": "cf_clearance", "value": f"token-{len(self.opened)}", "path": "/"}]
        return Clearance(cookies=cookies, user_agent="Mozilla/5.0 Chrome/150.0.0.0 Safari/537.36")


class Clock:
    def __init__(self) -> None:
        self.now = 500.0

    def __call__(self) -> float:
        return self.now


def test_one_browser_solve_per_host_within_the_interval() -> None:
    browser, clock = FakeBrowser(), Clock()
    url = "http://127.0.0.1:9/anime/x/"
    first, second = OriginClient("http://127.0.0.1:9"), OriginClient("http://127.0.0.1:9")
    try:
        solve_challenge(first, url, min_interval=600, clock=clock, browser=browser)
        assert first.user_agent == "Mozilla/5.0 Chrome/150.0.0.0 Safari/537.36"

        # Another client of the same host soon after: gets the same clearance, no browser.
        clock.now += 60
        solve_challenge(second, url, min_interval=600, clock=clock, browser=browser)
        assert second.user_agent == first.user_agent
        assert len(browser.opened) == 1

        # The same client challenged again: the clearance did not help; no second browser.
        with pytest.raises(SolverError, match="not opening another browser"):
            solve_challenge(first, url, min_interval=600, clock=clock, browser=browser)
        assert len(browser.opened) == 1

        # After the interval a new solve is allowed.
        clock.now += 600
        solve_challenge(first, url, min_interval=600, clock=clock, browser=browser)
        assert len(browser.opened) == 2
    finally:
        first.close()
        second.close()


def test_no_second_browser_in_another_process_within_the_interval(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Worker A opened a browser and got a clearance that did not stick; worker B (another
    process, another node) meets the challenge within the interval: it waits for a newer
    clearance in the shared jar, then fails the crawl with a clear error naming A instead
    of opening a second browser (the interval holds for the whole deployment)."""
    browser, clock = FakeBrowser(), Clock()
    url = "http://127.0.0.1:9/anime/x/"
    monkeypatch.setattr("scraper.locks.owner_id", lambda: "worker-a:41")
    with OriginClient("http://127.0.0.1:9") as first:
        solve_challenge(first, url, min_interval=600, clock=clock, browser=browser)
    reset_state()  # worker B never saw that solve in its own memory
    monkeypatch.setattr("scraper.locks.owner_id", lambda: "worker-b:42")
    with (
        OriginClient("http://127.0.0.1:9") as second,
        pytest.raises(SolverError, match="worker-a:41 opened a browser"),
    ):
        solve_challenge(second, url, min_interval=600, clock=clock, browser=browser, timeout=1)
    assert len(browser.opened) == 1


def test_solver_never_opens_a_host_the_client_may_not_contact() -> None:
    browser = FakeBrowser()
    with (
        OriginClient("http://127.0.0.1:9") as client,
        pytest.raises(SolverError, match="not the origin"),
    ):
        solve_challenge(client, "http://elsewhere.invalid/", browser=browser)
    assert browser.opened == []


def test_browser_failure_becomes_a_solver_error_that_is_a_challenge_error() -> None:
    def broken(url: str, timeout: float, executable: str) -> Clearance:
        raise RuntimeError("Target page, context or browser has been closed")

    with (
        OriginClient("http://127.0.0.1:9") as client,
        pytest.raises(ChallengeError, match="browser could not pass"),
    ):
        solve_challenge(client, "http://127.0.0.1:9/", browser=broken, min_interval=0)


def test_default_interval_comes_from_settings() -> None:
    browser, clock = FakeBrowser(), Clock()
    with (
        OriginClient("http://127.0.0.1:9") as client,
        override_settings(SOLVER_MIN_INTERVAL_MINUTES=1),
    ):
        solve_challenge(client, "http://127.0.0.1:9/", clock=clock, browser=browser)
        clock.now += 30
        with pytest.raises(SolverError):
            solve_challenge(client, "http://127.0.0.1:9/", clock=clock, browser=browser)
        clock.now += 31
        solve_challenge(client, "http://127.0.0.1:9/", clock=clock, browser=browser)
    assert len(browser.opened) == 2
    assert settings.CHROMIUM_PATH  # the real setting exists for the real browser
