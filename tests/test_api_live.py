"""The public API over real HTTP (live_server) on a catalogue crawled from the fake origin
by the real scraper: every endpoint against the origin's truth, a new episode showing at
once (ETag revalidation), the OpenAPI document checked by a real validator, Schemathesis
against the live schema, and the documentation page in Chromium under the site's CSP."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from catalog.models import EmbedHost, ScrapeRun
from catalog.selectors import DAYS
from scraper.crawl import run_crawl
from tests.fake_origin import Anime as TruthAnime
from tests.fake_origin import FakeOrigin
from tests.pipeline_helpers import fast_client
from tests.test_browser import CHROMIUM, Watcher, chromium

__all__ = ["chromium"]  # the browser fixture, shared with test_browser

pytestmark = pytest.mark.django_db(transaction=True)

# Schemathesis examples per operation and generation mode: enough to try odd slugs,
# out-of-range and malformed parameters on every operation, a couple of minutes at most.
SCHEMATHESIS_EXAMPLES = 25


@pytest.fixture
def origin() -> Iterator[FakeOrigin]:
    with FakeOrigin(seed=16, size=12) as fake:
        yield fake


def crawl(origin: FakeOrigin, kind: str) -> None:
    with fast_client(origin.base_url) as client:
        run = run_crawl(kind, client=client)
    assert run.status == ScrapeRun.Status.OK, run.errors


@pytest.fixture
def api(origin: FakeOrigin, live_server, settings, tmp_path: Path) -> str:
    """The fake catalogue crawled into the test database; returns the API's base URL."""
    # The mirror resolver builds its client from these settings (not fast_client).
    settings.SCRAPER_RATE_LIMIT = 0
    settings.SCRAPER_RETRIES = 1
    settings.SCRAPER_TIMEOUT = 5
    settings.SCRAPER_COOKIE_PATH = tmp_path / "cookies.json"
    settings.OTAKUDESU_BASE_URL = "http://127.0.0.1:9"  # nothing may fall back on it
    crawl(origin, "full")
    # Found by the crawl, the fake's embed host waits for an admin: approved, as one would.
    EmbedHost.objects.filter(host=urlsplit(origin.embed_base).netloc).update(approved=True)
    return f"{live_server.url}/api/v1"


def fetch(url: str, **headers: str) -> tuple[int, Any, Any]:
    """(status, headers, parsed JSON body or None) of a GET over real HTTP."""
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            status, head, body = response.status, response.headers, response.read()
    except urllib.error.HTTPError as exc:
        status, head, body = exc.code, exc.headers, exc.read()
    return status, head, json.loads(body) if body else None


def get(url: str) -> Any:
    status, head, body = fetch(url)
    assert status == 200, (url, status, body)
    assert head["Content-Type"] == "application/json"
    return body


def all_pages(url: str) -> list[dict[str, Any]]:
    """Every item of a paged list, following its `next` links."""
    items: list[dict[str, Any]] = []
    next_url: str | None = url
    while next_url:
        data = get(next_url)
        items += data["items"]
        next_url = data["pagination"]["next"]
    return items


def slugs(items: list[dict[str, Any]]) -> list[str]:
    return [item["slug"] for item in items]


def test_lists_match_the_origin(origin: FakeOrigin, api: str) -> None:
    truth = origin.truth
    # The origin lists only anime with an episode; we list every one (the order is ours:
    # last changed first).
    ongoing = sorted(a.slug for a in truth.anime.values() if a.is_ongoing)
    completed = sorted(a.slug for a in truth.anime.values() if not a.is_ongoing)
    home = get(f"{api}/")
    assert sorted(slugs(home["ongoing"])) == ongoing
    assert sorted(slugs(home["completed"])) == completed
    newest = max(
        (e for a in truth.ongoing() for e in a.episodes), key=lambda e: (e.published, e.post_id)
    )
    assert home["newest_episodes"][0]["slug"] == newest.slug

    # Two to a page, all pages through the links: the whole list, each anime once.
    assert sorted(slugs(all_pages(f"{api}/ongoing/?per_page=2"))) == ongoing
    assert sorted(slugs(all_pages(f"{api}/completed/?per_page=2"))) == completed

    az = get(f"{api}/anime/")["groups"]
    assert sorted(a["slug"] for g in az for a in g["anime"]) == sorted(truth.anime)

    counts = {g["slug"]: g["anime_count"] for g in get(f"{api}/genres/")["items"]}
    for genre in {g.slug for a in truth.anime.values() for g in a.genres}:
        members = sorted(slugs_of(truth.in_genre(genre)))
        assert counts[genre] == len(members), genre
        assert sorted(slugs(all_pages(f"{api}/genres/{genre}/?per_page=3"))) == members

    days = {a["slug"]: d["day"] for d in get(f"{api}/schedule/")["days"] for a in d["anime"]}
    assert days == {
        a.slug: a.release_day if a.release_day in DAYS else ""
        for a in truth.anime.values()
        if a.is_ongoing
    }


def slugs_of(anime: list[TruthAnime]) -> list[str]:
    return [a.slug for a in anime]


def test_search_matches_the_sites_search(origin: FakeOrigin, api: str) -> None:
    anime = origin.truth.alphabetical()[0]
    found = get(f"{api}/search/?q={urllib.parse.quote(anime.title)}")
    assert found["items"][0]["slug"] == anime.slug
    assert found["query"] == anime.title.casefold()
    completed = get(f"{api}/search/?status=completed&per_page=100&sort=title")
    assert sorted(slugs(completed["items"])) == sorted(slugs_of(origin.truth.completed()))
    genre = anime.genres[0].slug
    filtered = all_pages(f"{api}/search/?genre={genre}&status=ongoing&per_page=2")
    expected = {a.slug for a in origin.truth.in_genre(genre) if a.is_ongoing}
    assert set(slugs(filtered)) == expected


def test_anime_episode_and_mirror_match_the_origin(origin: FakeOrigin, api: str) -> None:
    anime = next(a for a in origin.truth.anime.values() if a.batch and a.episodes)
    data = get(f"{api}/anime/{anime.slug}/")
    assert (data["title"], data["title_japanese"]) == (anime.title, anime.japanese)
    assert data["score"] == anime.score
    assert {g["slug"] for g in data["genres"]} == {g.slug for g in anime.genres}
    ordered = sorted(anime.episodes, key=lambda e: (e.number is None, e.number or 0))
    assert sorted(slugs(data["episodes"])) == sorted(e.slug for e in ordered)
    assert anime.batch is not None
    batch_urls = {d["url"] for b in data["batches"] for d in b["downloads"]}
    assert batch_urls == {d.url for d in anime.batch.downloads}

    truth = anime.episodes[0]
    episode = get(f"{api}/episodes/{truth.slug}/")
    assert episode["anime"]["slug"] == anime.slug
    assert episode["default_embed_url"] == truth.default_embed
    assert {(m["quality"], m["provider"]) for m in episode["mirrors"]} == {
        (m.quality, m.provider) for m in truth.mirrors
    }
    assert {d["url"] for d in episode["downloads"]} == {d.url for d in truth.downloads}

    # Resolving a mirror goes to the origin's admin-ajax and answers its embed.
    other = next(m for m in truth.mirrors if not m.is_default)
    mirror = next(
        m
        for m in episode["mirrors"]
        if (m["quality"], m["provider"]) == (other.quality, other.provider)
    )
    resolved = get(mirror["resolve_url"])
    assert resolved == {"id": mirror["id"], "url": other.embed_url, "stale": False}


def test_a_new_episode_shows_at_once_and_etags_revalidate(origin: FakeOrigin, api: str) -> None:
    anime = origin.truth.ongoing()[-1]
    url = f"{api}/anime/{anime.slug}/"
    status, head, before = fetch(url)
    assert status == 200
    assert head["Cache-Control"] == "public, no-cache"
    etag = head["ETag"]
    assert fetch(url, **{"If-None-Match": etag})[0] == 304
    home_etag = fetch(f"{api}/")[1]["ETag"]

    new_slug = origin.add_episode(anime.slug)
    crawl(origin, "ongoing")

    status, head, after = fetch(url, **{"If-None-Match": etag})
    assert status == 200
    assert head["ETag"] != etag
    assert new_slug in slugs(after["episodes"])
    assert new_slug not in slugs(before["episodes"])
    status, _, home = fetch(f"{api}/", **{"If-None-Match": home_etag})
    assert status == 200
    assert home["newest_episodes"][0]["slug"] == new_slug
    assert get(f"{api}/episodes/{new_slug}/")["anime"]["slug"] == anime.slug


def test_the_schema_is_valid_openapi_31(api: str) -> None:
    from openapi_spec_validator import validate
    from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

    schema = get(f"{api}/schema/")
    assert schema["openapi"].startswith("3.1")
    try:
        validate(schema)
    except OpenAPIValidationError as exc:  # the message names the broken part
        pytest.fail(f"invalid OpenAPI document: {exc}")
    paths = set(schema["paths"])
    assert {"/api/v1/", "/api/v1/search/", "/api/v1/mirrors/{link_id}/"} <= paths
    assert len(paths) == 11


def test_schemathesis_finds_no_server_error_and_no_broken_response(api: str) -> None:
    """Property-based requests from the live schema, valid and invalid ones, over real
    HTTP: no 5xx, every answer (errors too) as the schema says."""
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from hypothesis.errors import Unsatisfiable

    schema = schemathesis.openapi.from_url(f"{api}/schema/")
    base_url = api.removesuffix("/api/v1")
    ran: dict[str, set[str]] = {"positive": set(), "negative": set()}
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=SCHEMATHESIS_EXAMPLES,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            def run(case: Any) -> None:
                case.call_and_validate(base_url=base_url)

            try:
                run()
            except Unsatisfiable:
                # Nothing to spoil: no parameter, or only a free-form slug in the path
                # (any text is a valid slug, most are just unknown: 404).
                assert mode == schemathesis.GenerationMode.NEGATIVE, operation.label
                continue
            ran[str(mode.value)].add(operation.path.removeprefix("/api/v1"))
    assert len(ran["positive"]) == 11
    # Out-of-range and malformed paging, over-long searches, ids that are not numbers.
    assert {"/ongoing/", "/completed/", "/genres/{slug}/", "/search/"} <= ran["negative"]
    assert "/mirrors/{link_id}/" in ran["negative"]


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is not installed")
def test_docs_page_renders_under_the_csp(api: str, chromium) -> None:
    page = chromium.new_page()
    watcher = Watcher(page)
    response = page.goto(f"{api}/docs/")
    assert response is not None
    assert response.status == 200
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    # Swagger UI fetched the schema and lists every operation.
    page.wait_for_selector(".opblock-summary-path", timeout=30_000)
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert "/api/v1/search/" in {p.strip() for p in paths}
    assert len(paths) == 11
    assert watcher.problems == []
    page.close()
