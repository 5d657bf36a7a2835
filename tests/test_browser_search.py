"""Search in a real browser (Debian's Chromium through Playwright) against the live server:
a misspelt title typed in the top bar, then filters, a chip, a sort and "Acak"."""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from catalog.models import Anime
from tests.site_factories import make_anime, make_genre
from tests.test_browser import chromium  # noqa: F401  (fixture)

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
PHONE = {"width": 390, "height": 844}

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is not installed"),
]

# Playwright's sync API runs an event loop in this thread; the ORM calls here are the
# test's own, not concurrent.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"


@pytest.fixture
def site(live_server) -> str:
    action, comedy = make_genre("aksi", "Aksi"), make_genre("komedi", "Komedi")
    rows = [
        ("snk", "Shingeki no Kyojin", Anime.Status.COMPLETED, "8.50", [action]),
        ("snk-s2", "Shingeki no Kyojin Season 2", Anime.Status.COMPLETED, "9.00", [action]),
        (
            "snk-final",
            "Shingeki no Kyojin: The Final Season",
            Anime.Status.ONGOING,
            "9.10",
            [action],
        ),
        ("snk-chuugakkou", "Shingeki! Kyojin Chuugakkou", Anime.Status.COMPLETED, "6.20", [comedy]),
        ("kafe", "Kafé Senja", Anime.Status.COMPLETED, "7.00", [comedy]),
    ]
    for slug, title, status, score, genres in rows:
        make_anime(slug, title, status=status, score=Decimal(score)).genres.add(*genres)
    return f"http://localhost:{urlsplit(live_server.url).port}"


def card_titles(page) -> list[str]:
    return page.locator("[data-results] .card-title").all_inner_texts()


def params(page) -> dict[str, list[str]]:
    return parse_qs(urlsplit(page.url).query)


def test_misspelt_title_then_filters_chip_sort_and_random(chromium, site: str) -> None:  # noqa: F811
    context = chromium.new_context(viewport=PHONE, locale="id-ID")
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))

    page.goto(f"{site}/")
    page.fill("#q-top", "shingeki no kyojn")  # a letter missing
    page.press("#q-top", "Enter")
    page.wait_for_url("**/search/?q=*")
    found = card_titles(page)
    assert found[0] == "Shingeki no Kyojin"
    assert "Kafé Senja" not in found
    assert page.evaluate("document.documentElement.scrollWidth <= innerWidth")

    # Filters: open the panel, tick a genre, pick a status, apply.
    page.click(".filters summary")
    page.check('input[name="genre"][value="aksi"]')
    page.select_option('select[name="status"]', "completed")
    page.click("text=Terapkan filter")
    page.wait_for_url("**status=completed*")
    assert params(page)["q"] == ["shingeki no kyojn"]
    assert params(page)["genre"] == ["aksi"]
    assert card_titles(page) == ["Shingeki no Kyojin", "Shingeki no Kyojin Season 2"]
    assert page.locator("[data-result-count]").inner_text() == "2 anime ditemukan"

    # A chip removes its filter and keeps the rest.
    page.click('[data-chip="status"]')
    page.wait_for_url(lambda url: "status=" not in url)
    assert params(page)["genre"] == ["aksi"]
    assert "Shingeki no Kyojin: The Final Season" in card_titles(page)

    # Sort by score: the query and genre stay.
    page.click('.sorts a:text-is("Skor")')
    page.wait_for_url("**sort=score*")
    assert card_titles(page) == [
        "Shingeki no Kyojin: The Final Season",
        "Shingeki no Kyojin Season 2",
        "Shingeki no Kyojin",
    ]
    assert params(page)["genre"] == ["aksi"]
    assert page.locator(".sorts a[aria-current]").inner_text() == "Skor"

    # Acak: a random anime among these results.
    page.click(".btn-random")
    page.wait_for_url("**/anime/**")
    assert urlsplit(page.url).path in {"/anime/snk/", "/anime/snk-s2/", "/anime/snk-final/"}
    assert problems == []
    context.close()
