"""A viewer in Chromium follows anime, sees them on Diikuti and on the home page's rail with
"baru", moves the list to a fresh browser (JSON file and share link), switches the theme
and uses the keyboard shortcuts. Fixtures from tests/test_browser.py (same live server,
same Debian Chromium)."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest

from tests.site_factories import bump_version, make_episode
from tests.test_browser import (
    CHROMIUM,
    DESKTOP,
    PHONE,
    Watcher,
    browser_site,
    chromium,
    no_sideways_scroll,
)

__all__ = ["browser_site", "chromium"]  # the fixtures, shared with test_browser

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is not installed"),
]


BODY_BACKGROUND = "getComputedStyle(document.body).backgroundColor"
DARK_BG = "rgb(15, 17, 23)"
LIGHT_BG = "rgb(246, 247, 251)"


def card_button(page, slug: str):
    return page.locator(f'article.card:has(a[href="/anime/{slug}/"]) button[data-follow]')


def follow_from_card(page, site: str, listing: str, slug: str) -> None:
    page.goto(site + listing)
    button = card_button(page, slug)
    assert button.inner_text().strip().startswith("Ikuti")
    button.click()
    assert button.get_attribute("aria-pressed") == "true"
    assert button.inner_text().strip().startswith("Diikuti")


def test_follow_from_a_card_then_diikuti_and_the_rail_mark_new_episodes(
    browser_site, chromium
) -> None:
    site, sample = browser_site
    anime = sample.ongoing
    context = chromium.new_context(viewport=PHONE, locale="id-ID")
    page = context.new_page()
    watcher = Watcher(page)

    page.goto(site + "/")
    assert page.locator("[data-follow-rail]").is_hidden()  # nothing followed yet
    follow_from_card(page, site, "/ongoing/", anime.slug)

    page.goto(site + "/diikuti/")
    item = page.locator(f'[data-follow-list] article[data-anime="{anime.slug}"]')
    item.locator("[data-latest]").wait_for()
    assert item.locator(".card-title").inner_text() == "Pedang Bintang"
    assert item.locator("[data-latest]").inner_text() == "Eps 3 · 26 Jan 2026"
    assert item.locator(".badge-new").is_hidden()  # there before the follow: not new
    assert page.locator("[data-follow-empty]").is_hidden()
    assert no_sideways_scroll(page)

    page.goto(site + "/")
    rail = page.locator("[data-follow-rail]")
    rail.wait_for(state="visible")
    assert rail.locator(".card-title").first.inner_text() == "Pedang Bintang"
    assert rail.locator(".badge-new:visible").count() == 0

    # The origin publishes episode 4; the update stores it (new version).
    make_episode(anime, 4, published_on=datetime.date(2026, 2, 2))
    bump_version(anime)
    page.reload()
    first = rail.locator("article").first
    first.locator(".badge-ep").wait_for()
    page.wait_for_function(
        "() => document.querySelector('[data-follow-rail] .badge-ep').textContent === 'Eps 4'"
    )
    assert first.locator(".badge-new").is_visible()
    assert first.locator(".badge-new").inner_text().lower() == "baru"
    assert first.locator("a").get_attribute("href") == f"/episode/{anime.slug}-episode-4/"
    assert rail.locator(".badge-new:visible").count() == 1  # episode 3 is not new
    assert no_sideways_scroll(page)
    page.goto(site + "/diikuti/")
    item.locator("[data-latest]").wait_for()
    assert item.locator("[data-latest]").inner_text().startswith("Eps 4")
    assert item.locator(".badge-new").is_visible()

    # An hour later the viewer comes back: episode 4 was there at the last visit.
    page.clock.install(time=datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=1))
    page.goto(site + "/")
    rail.wait_for(state="visible")
    page.wait_for_function(
        "() => document.querySelector('[data-follow-rail] .badge-ep').textContent === 'Eps 4'"
    )
    assert rail.locator(".badge-new:visible").count() == 0

    # Unfollowing from the anime page empties the rail and the list.
    page.goto(site + anime.get_absolute_url())
    button = page.locator(".follow-btn-page")
    assert button.get_attribute("aria-pressed") == "true"
    button.click()
    assert button.get_attribute("aria-pressed") == "false"
    page.goto(site + "/")
    assert rail.is_hidden()
    page.goto(site + "/diikuti/")
    assert page.locator("[data-follow-empty]").is_visible()
    assert watcher.problems == [], watcher.problems
    context.close()


def test_export_then_import_into_a_fresh_browser(browser_site, chromium, tmp_path: Path) -> None:
    site, sample = browser_site
    context = chromium.new_context(viewport=DESKTOP, locale="id-ID")
    page = context.new_page()
    watcher = Watcher(page)
    follow_from_card(page, site, "/ongoing/", sample.ongoing.slug)
    page.goto(site + sample.completed.get_absolute_url())
    page.locator(".follow-btn-page").click()

    page.goto(site + "/diikuti/")
    assert page.locator("[data-follow-list] article").count() == 2
    with page.expect_download() as download_info:
        page.locator("[data-follow-export]").click()
    download = download_info.value
    assert download.suggested_filename == "otakusite-diikuti.json"
    saved = tmp_path / "diikuti.json"
    download.save_as(saved)
    data = json.loads(saved.read_text())
    assert data["format"] == "otakusite-follow"
    assert [a["slug"] for a in data["anime"]] == [sample.completed.slug, sample.ongoing.slug]
    page.locator("[data-follow-share]").click()
    share = page.locator("[data-follow-share-link]").input_value()
    assert share == f"{site}/diikuti/?impor={sample.completed.slug},{sample.ongoing.slug}"
    ics = page.locator("[data-follow-ics]").get_attribute("href")
    assert ics == f"/jadwal/kalender.ics?anime={sample.completed.slug},{sample.ongoing.slug}"
    webcal = page.locator("[data-follow-webcal]").get_attribute("href")
    assert webcal == "webcal://" + site.split("://", 1)[1] + ics
    context.close()

    # Another device: empty, then the file is imported.
    fresh = chromium.new_context(viewport=PHONE, locale="id-ID")
    other = fresh.new_page()
    other_watcher = Watcher(other)
    other.goto(site + "/diikuti/")
    assert other.locator("[data-follow-empty]").is_visible()
    other.set_input_files("[data-follow-import]", str(saved))
    other.locator("[data-follow-status]").filter(has_text="2 anime ditambahkan.").wait_for()
    titles = other.locator("[data-follow-list] .card-title")
    assert sorted(titles.all_inner_texts()) == ["Kafé Senja", "Pedang Bintang"]
    other.goto(site + "/ongoing/")
    assert card_button(other, sample.ongoing.slug).get_attribute("aria-pressed") == "true"
    # A file that is not a follow list changes nothing and says so.
    bogus = tmp_path / "bogus.json"
    bogus.write_text('{"hello": 1}')
    other.goto(site + "/diikuti/")
    other.set_input_files("[data-follow-import]", str(bogus))
    other.locator("[data-follow-status]").filter(has_text="bukan daftar otakusite").wait_for()
    assert other.locator("[data-follow-list] article").count() == 2
    fresh.close()

    # A third device opens the share link and confirms.
    third = chromium.new_context(viewport=PHONE, locale="id-ID")
    linked = third.new_page()
    linked.goto(share)
    box = linked.locator("[data-follow-shared]")
    assert "Tautan ini berisi 2 anime." in box.inner_text()
    assert linked.locator("[data-follow-list] article").count() == 0  # not before confirming
    box.locator("button").click()
    linked.locator("[data-follow-list] .card-title").nth(1).wait_for()
    assert linked.url == f"{site}/diikuti/"
    assert other_watcher.problems == []
    assert watcher.problems == []
    third.close()


def test_theme_follows_the_system_switches_and_is_kept_before_first_paint(
    browser_site, chromium
) -> None:
    site, _sample = browser_site
    context = chromium.new_context(viewport=PHONE, locale="id-ID", color_scheme="light")
    # Records the theme at the moment <body> is parsed: before anything is painted.
    context.add_init_script(
        """new MutationObserver(function (changes, observer) {
             if (document.body) {
               window.__themeAtBody = document.documentElement.getAttribute('data-theme');
               observer.disconnect();
             }
           }).observe(document, {childList: true, subtree: true});"""
    )
    page = context.new_page()
    watcher = Watcher(page)
    page.goto(site + "/")
    toggle = page.locator("[data-theme-toggle]")
    assert toggle.get_attribute("aria-label") == "Tema: ikuti sistem"
    assert page.evaluate(BODY_BACKGROUND) == LIGHT_BG  # the system's light
    assert page.locator('meta[name="theme-color"]').get_attribute("content") == "#f6f7fb"
    toggle.click()  # auto -> light
    toggle.click()  # light -> dark
    assert toggle.get_attribute("aria-label") == "Tema: gelap"
    assert page.evaluate(BODY_BACKGROUND) == DARK_BG
    page.reload()
    assert page.evaluate("window.__themeAtBody") == "dark"
    assert page.evaluate(BODY_BACKGROUND) == DARK_BG
    assert page.locator('meta[name="theme-color"]').get_attribute("content") == "#0f1117"
    page.goto(site + "/jadwal/")  # every page
    assert page.evaluate("window.__themeAtBody") == "dark"
    assert page.locator("[data-theme-toggle]").get_attribute("aria-label") == "Tema: gelap"
    page.locator("[data-theme-toggle]").click()  # dark -> follow the system again
    page.reload()
    assert page.evaluate("window.__themeAtBody") is None
    assert page.evaluate(BODY_BACKGROUND) == LIGHT_BG
    page.emulate_media(color_scheme="dark")
    assert page.evaluate(BODY_BACKGROUND) == DARK_BG
    assert watcher.problems == [], watcher.problems
    context.close()


def test_keyboard_shortcuts(browser_site, chromium) -> None:
    site, sample = browser_site
    first, second = sample.episodes[0], sample.episodes[1]
    context = chromium.new_context(viewport=DESKTOP, locale="id-ID")
    page = context.new_page()
    watcher = Watcher(page)
    page.goto(site + first.get_absolute_url())
    page.keyboard.press("n")
    page.wait_for_url(f"**{second.get_absolute_url()}")
    page.keyboard.press("p")
    page.wait_for_url(f"**{first.get_absolute_url()}")
    page.keyboard.press("p")  # no episode before the first: nothing happens
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "q-top"
    page.keyboard.type("np")  # typing in the search box is typing, not shortcuts
    assert page.locator("#q-top").input_value() == "np"
    assert page.url == site + first.get_absolute_url()
    assert page.locator("#q-top").get_attribute("aria-keyshortcuts") == "/"
    assert page.locator('.episode-nav a[rel="next"]').get_attribute("aria-keyshortcuts") == "n"
    # Focus is visible: a ring drawn around the focused control.
    page.keyboard.press("Tab")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"
    assert watcher.problems == [], watcher.problems
    context.close()


def test_corrupt_storage_is_a_fresh_start(browser_site, chromium) -> None:
    """Whatever is in localStorage (an old format, a hand edit, junk), the pages work and
    following starts over."""
    site, sample = browser_site
    context = chromium.new_context(viewport=PHONE, locale="id-ID")
    page = context.new_page()
    watcher = Watcher(page)
    page.goto(site + "/diikuti/")
    page.evaluate(
        """() => {
             localStorage.setItem('otakusite:follow', '{not json');
             localStorage.setItem('otakusite:visit', '"x"');
           }"""
    )
    page.reload()
    assert page.locator("[data-follow-empty]").is_visible()
    page.evaluate(
        """() => localStorage.setItem('otakusite:follow', JSON.stringify({v: 1, items: [
             {slug: '../x/'}, {slug: 42}, null, {slug: 'pedang-bintang-sub-indo', title: 7}]}))"""
    )
    page.reload()  # only the valid entry is kept, its title read from the site
    titles = page.locator("[data-follow-list] .card-title")
    titles.filter(has_text="Pedang Bintang").wait_for()
    assert titles.count() == 1
    follow_from_card(page, site, "/completed/", sample.completed.slug)
    page.goto(site + "/")
    page.locator("[data-follow-rail]").wait_for(state="visible")
    assert watcher.problems == [], watcher.problems
    context.close()
