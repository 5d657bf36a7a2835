"""The Content-Security-Policy's img-src is this site alone: posters come from our domain
(MEDIA_URL), icons from STATIC_URL, and nothing else is asked for. Checked in Chromium:
the pages load every picture without a single violation, and a picture from elsewhere is
refused (so the check would notice a page that needed one)."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.test import Client
from selectolax.lexbor import LexborHTMLParser

from catalog.models import Anime
from scraper import posters as fetcher
from tests.fake_origin.posters import poster_jpeg
from tests.site_factories import SampleCatalogue, build_sample_catalogue
from tests.test_browser import chromium  # noqa: F401  (fixture)
from tests.test_site_security import csp_of

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def store_posters(*anime: Anime) -> None:
    for item in anime:
        key = fetcher.store(poster_jpeg(f"/wp-content/uploads/2026/01/{item.slug}.jpg"))
        Anime.objects.filter(pk=item.pk).update(poster_key=key, version=item.version + 1)


@pytest.mark.django_db
def test_img_src_is_the_site_alone_on_every_page(client: Client, sample: SampleCatalogue) -> None:
    store_posters(sample.ongoing, sample.completed)
    for url in ("/", sample.ongoing.get_absolute_url(), sample.episodes[0].get_absolute_url()):
        response = client.get(url)
        assert csp_of(response)["img-src"] == ["'self'"], url
        # What the policy relies on: every picture of the page is a path on this site.
        tree = LexborHTMLParser(response.content.decode())
        sources = []
        for node in tree.css("img, source"):
            for name in ("src", "srcset", "data-src", "data-srcset"):
                value = node.attributes.get(name) or ""
                sources += [part.split()[0] for part in value.split(",") if part.strip()]
        if url != sample.episodes[0].get_absolute_url():  # the episode page shows no poster
            assert any(src.startswith("/media/posters/") for src in sources), url
        assert all(src.startswith(("/media/", "/static/")) for src in sources), (url, sources)


# --- In Chromium -------------------------------------------------------------------

# Violations as the page sees them (securitypolicyviolation), collected from the start.
_RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener('securitypolicyviolation', e => {
  window.__violations.push(e.effectiveDirective + ' ' + e.blockedURI);
});
"""
_ALL_IMAGES_DONE = """() => {
  const imgs = Array.from(document.querySelectorAll('img'))
    .filter(i => i.closest('template') === null && i.currentSrc);
  return imgs.length > 0 && imgs.every(i => i.complete);
}"""
_SCROLL_TO_BOTTOM = """async () => {
  const frame = () => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  for (const img of document.querySelectorAll('.poster img')) {
    img.scrollIntoView();
    await frame();
  }
}"""


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is not installed")
def test_pages_load_every_picture_without_a_csp_violation(live_server, settings, chromium) -> None:  # noqa: F811
    from tests import test_browser

    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # the ORM calls here are the test's
    # The browser tests' URLconf: embeds served on another origin (127.0.0.1), so the
    # episode page's player loads without leaving the machine.
    settings.ROOT_URLCONF = test_browser.__name__
    port = urlsplit(live_server.url).port
    site = f"http://localhost:{port}"
    sample = build_sample_catalogue(f"http://127.0.0.1:{port}/test-embed")
    store_posters(sample.ongoing, sample.completed)

    context = chromium.new_context(viewport={"width": 390, "height": 844}, locale="id-ID")
    context.add_init_script(_RECORD_VIOLATIONS)
    page = context.new_page()
    watcher = test_browser.Watcher(page)
    images: set[str] = set()
    page.on(
        "requestfinished",
        lambda r: images.add(r.url) if r.resource_type == "image" else None,
    )
    paths = ["/", sample.ongoing.get_absolute_url(), sample.episodes[0].get_absolute_url()]
    for path in paths:
        response = page.goto(site + path)
        assert response is not None
        assert response.status == 200, path
        page.evaluate(_SCROLL_TO_BOTTOM)
        page.wait_for_function(_ALL_IMAGES_DONE, timeout=60_000)
        broken = page.eval_on_selector_all(
            "img", "imgs => imgs.filter(i => i.currentSrc && !i.naturalWidth).map(i => i.src)"
        )
        assert broken == [], (path, broken)
        assert page.evaluate("window.__violations") == [], path
    assert watcher.problems == [], watcher.problems
    assert any("/media/posters/" in url for url in images)  # posters really were loaded
    assert {urlsplit(url).netloc for url in images} == {f"localhost:{port}"}

    # A picture from anywhere else is refused: the check above would have seen it.
    elsewhere = f"http://127.0.0.1:{port}/media/posters/elsewhere-180.jpg"
    page.evaluate(
        "src => { const i = new Image(); i.src = src; document.body.append(i); }", elsewhere
    )
    page.wait_for_function("() => window.__violations.length > 0", timeout=60_000)
    assert page.evaluate("window.__violations") == [f"img-src {elsewhere}"]
    context.close()
