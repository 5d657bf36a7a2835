"""A viewer in Chromium picks a quality and provider, finds them picked again on the next
episodes (the same provider, else the same quality), and reports the mirror playing as
broken. Fixtures from tests/test_browser.py (same live server, same Debian Chromium)."""

from __future__ import annotations

import pytest

from catalog.models import MirrorReport, StreamLink
from tests.test_browser import (
    CHROMIUM,
    PHONE,
    Watcher,
    browser_site,
    chromium,
    no_sideways_scroll,
    resolved_embeds,
)

__all__ = ["browser_site", "chromium", "resolved_embeds"]  # the fixtures, shared

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is not installed"),
]


def mirror_button(page, quality: str, provider: str):
    return page.locator(f'[data-mirror][data-quality="{quality}"][data-provider="{provider}"]')


def wait_status(page, text: str) -> None:
    page.wait_for_function(
        "text => document.querySelector('[data-player-status]').textContent.includes(text)",
        arg=text,
    )


def wait_playing(page, url: str) -> None:
    page.wait_for_function("url => document.querySelector('#player-frame').src === url", arg=url)


def test_the_chosen_mirror_follows_to_the_next_episode_and_can_be_reported(
    browser_site, resolved_embeds, chromium
) -> None:
    site, sample = browser_site
    first, second, third = sample.episodes
    # The third episode has no "penyedia2" in 720p: the viewer's quality still holds.
    StreamLink.objects.filter(episode=third, quality="720p", provider="penyedia2").delete()
    context = chromium.new_context(viewport=PHONE, locale="id-ID")
    page = context.new_page()
    watcher = Watcher(page)

    page.goto(site + first.get_absolute_url())
    assert page.locator("#player-frame").get_attribute("src") == f"{sample.embed_base}/default/1"
    report = page.locator("[data-report]")
    assert report.is_visible()  # the default mirror plays: it can be reported
    chosen = mirror_button(page, "720p", "penyedia2")
    chosen.click()
    wait_playing(page, f"{resolved_embeds}/{chosen.get_attribute('data-mirror')}")
    assert chosen.get_attribute("aria-pressed") == "true"

    page.click('a[rel="next"]')
    page.wait_for_url(f"**{second.get_absolute_url()}")
    again = mirror_button(page, "720p", "penyedia2")
    wanted = StreamLink.objects.get(episode=second, quality="720p", provider="penyedia2")
    assert again.get_attribute("data-mirror") == str(wanted.pk)
    wait_playing(page, f"{resolved_embeds}/{wanted.pk}")
    assert again.get_attribute("aria-pressed") == "true"
    assert mirror_button(page, "480p", "penyedia1").get_attribute("aria-pressed") == "false"

    page.click('a[rel="next"]')
    page.wait_for_url(f"**{third.get_absolute_url()}")
    same_quality = StreamLink.objects.get(episode=third, quality="720p", provider="penyedia1")
    wait_playing(page, f"{resolved_embeds}/{same_quality.pk}")
    assert mirror_button(page, "720p", "penyedia1").get_attribute("aria-pressed") == "true"

    # "Lapor rusak": the mirror playing is reported, the viewer is thanked and offered
    # the next one.
    report.click()
    status = page.locator("[data-player-status]")
    wait_status(page, "Terima kasih")
    assert "laporanmu kami terima" in status.inner_text()
    assert status.locator("button").inner_text().startswith("Coba mirror berikutnya:")
    assert MirrorReport.objects.filter(link=same_quality).count() == 1
    assert "mirror-reported" in (
        mirror_button(page, "720p", "penyedia1").get_attribute("class") or ""
    )

    # A second click the same day is not counted twice, and says so.
    report.click()
    wait_status(page, "sudah melaporkan")
    assert MirrorReport.objects.filter(link=same_quality).count() == 1
    assert no_sideways_scroll(page)
    assert watcher.problems == [], watcher.problems
    context.close()


def test_a_reported_mirror_is_listed_last_for_the_next_viewer(
    browser_site, resolved_embeds, chromium
) -> None:
    site, sample = browser_site
    episode = sample.episodes[0]
    default = StreamLink.objects.get(episode=episode, is_default=True)
    context = chromium.new_context(viewport=PHONE, locale="id-ID")
    page = context.new_page()
    watcher = Watcher(page)
    page.goto(site + episode.get_absolute_url())
    page.locator("[data-report]").click()
    wait_status(page, "Terima kasih")
    context.close()

    fresh = chromium.new_context(viewport=PHONE, locale="id-ID")
    page = fresh.new_page()
    watcher = Watcher(page)
    page.goto(site + episode.get_absolute_url())
    providers = page.locator('[data-quality="480p"][data-mirror]').evaluate_all(
        "els => els.map(e => [e.dataset.provider, e.dataset.health || ''])"
    )
    assert providers == [["penyedia2", ""], ["penyedia1", "reported"]]
    assert str(default.pk) == page.locator('[data-health="reported"]').get_attribute("data-mirror")
    # The player starts on the working one (resolved on load: it had no stored embed).
    other = StreamLink.objects.get(episode=episode, quality="480p", provider="penyedia2")
    wait_playing(page, f"{resolved_embeds}/{other.pk}")
    assert mirror_button(page, "480p", "penyedia2").get_attribute("aria-pressed") == "true"
    assert watcher.problems == [], watcher.problems
    fresh.close()
