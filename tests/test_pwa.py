"""Installable site: the web app manifest (fields browsers require, icons that exist with
the sizes it claims), the service worker served from the root, the offline page in the
site's look, and, in Chromium, the offline page shown by the worker when the network is
down while the static files still come from its cache."""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

import pytest
from django.contrib.staticfiles import finders
from django.test import Client
from PIL import Image

from tests.test_browser import (  # noqa: F401  (browser_site, chromium: fixtures)
    CHROMIUM,
    PHONE,
    Watcher,
    browser_site,
    chromium,
)

STATIC = "/static/"


def static_file(url: str):
    assert url.startswith(STATIC), url
    found = finders.find(url.removeprefix(STATIC))
    assert found, f"{url} is not a static file"
    return found


@pytest.mark.django_db
def test_manifest_has_what_install_needs_and_its_icons_exist(client: Client, sample):
    answer = client.get("/manifest.webmanifest")
    assert answer.status_code == 200
    assert answer["Content-Type"].startswith("application/manifest+json")
    manifest = json.loads(answer.content)
    assert manifest["name"].startswith("otakusite")
    assert "Indonesia" in manifest["name"]
    assert manifest["short_name"] == "otakusite"
    assert manifest["start_url"] == "/"
    assert manifest["scope"] == "/"
    assert manifest["display"] == "standalone"
    assert manifest["lang"] == "id"
    assert re.fullmatch(r"#[0-9a-f]{6}", manifest["theme_color"])
    assert re.fullmatch(r"#[0-9a-f]{6}", manifest["background_color"])
    by_purpose: dict[tuple[str, str], str] = {}
    for icon in manifest["icons"]:
        path = static_file(icon["src"])
        if icon["type"] == "image/png":
            with Image.open(path) as image:
                assert image.format == "PNG"
                assert f"{image.width}x{image.height}" == icon["sizes"]
        by_purpose[icon.get("purpose", "any"), icon["sizes"]] = icon["src"]
    # Chromium's installability: a 192 and a 512 px icon; Android's adaptive icon: maskable.
    assert {("any", "192x192"), ("any", "512x512"), ("maskable", "512x512")} <= set(by_purpose)


@pytest.mark.django_db
def test_every_page_links_the_manifest_and_loads_push_js(client: Client, sample):
    page = client.get("/").content.decode()
    assert '<link rel="manifest" href="/manifest.webmanifest">' in page
    touch = re.search(r'<link rel="apple-touch-icon" href="([^"]+)">', page)
    assert touch
    with Image.open(static_file(touch.group(1))) as image:
        assert image.size == (180, 180)
    assert re.search(r'<script src="/static/js/push\.js" defer></script>', page)


@pytest.mark.django_db
def test_service_worker_is_served_from_the_root_and_never_stale(client: Client):
    answer = client.get("/sw.js")
    assert answer.status_code == 200
    assert answer["Content-Type"].startswith("text/javascript")
    assert "no-cache" in answer["Cache-Control"]
    assert "max-age=0" in answer["Cache-Control"]
    body = answer.content.decode()
    config = json.loads(re.search(r"var CONFIG = (\{.*\});", body).group(1))
    assert config["offline"] == "/offline/"
    for url in config["assets"]:
        static_file(url)  # every precached file exists (a missing one fails the install)
    # Whatever base.html loads is kept for offline use (scripts others add there too).
    page = client.get("/offline/").content.decode()
    loaded = re.findall(r'(?:src|href)="(/static/[^"]+\.(?:css|js))"', page)
    assert {"/static/css/site.css", "/static/js/push.js"} <= set(loaded)
    assert set(loaded) <= set(config["assets"])
    assert "/static/img/icon-192.png" in config["assets"]
    assert client.post("/sw.js").status_code == 405


def test_a_static_file_that_does_not_exist_is_not_precached(client: Client, monkeypatch):
    from catalog import pwa

    monkeypatch.setattr(pwa, "shell_assets", lambda: ("css/site.css", "js/not-there-yet.js"))
    body = client.get("/sw.js").content.decode()
    config = json.loads(re.search(r"var CONFIG = (\{.*\});", body).group(1))
    assert config["assets"] == ["/static/css/site.css"]


@pytest.mark.django_db
def test_offline_page_in_the_sites_look_and_language(client: Client):
    page = client.get("/offline/").content.decode()
    assert "<h1>Sedang offline</h1>" in page
    assert 'class="topbar"' in page  # the site's header, search and menu
    assert '<meta name="robots" content="noindex">' in page
    client.cookies["django_language"] = "en"
    english = client.get("/offline/").content.decode()
    assert "<h1>You are offline</h1>" in english


# --- In Chromium ----------------------------------------------------------------------------


def wait_for_controller(page) -> None:
    """The service worker installed, activated and controls the page (clients.claim)."""
    page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=60_000)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is not installed")
def test_offline_navigation_shows_the_offline_page_with_cached_styles(browser_site, chromium):  # noqa: F811
    site, _sample = browser_site
    context = chromium.new_context(viewport=PHONE, locale="id-ID")
    page = context.new_page()
    watcher = Watcher(page)
    page.goto(f"{site}/")
    wait_for_controller(page)
    assert page.evaluate("navigator.serviceWorker.controller.scriptURL") == f"{site}/sw.js"

    context.set_offline(True)
    page.goto(f"{site}/jadwal/")
    assert urlsplit(page.url).path == "/jadwal/"
    assert page.locator("h1").inner_text() == "Sedang offline"
    # The stylesheet came from the worker's cache: the site's colours, not the browser's.
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background not in {"rgba(0, 0, 0, 0)", "rgb(255, 255, 255)"}

    context.set_offline(False)
    with page.expect_navigation():
        page.click("main .btn-primary")  # "Coba lagi" loads the page the viewer asked for
    assert page.locator("h1").first.inner_text() != "Sedang offline"
    assert urlsplit(page.url).path == "/jadwal/"
    # Offline failures of the page itself are expected console errors; nothing else.
    assert [p for p in watcher.problems if "ERR_INTERNET_DISCONNECTED" not in p] == []
    context.close()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is not installed")
def test_chromium_finds_the_site_installable(browser_site, chromium):  # noqa: F811
    """What Chromium checks before it offers "Install app" / "Add to home screen": a manifest
    it parsed without errors, its icons fetched, a service worker controlling the page."""
    site, _sample = browser_site
    context = chromium.new_context(viewport=PHONE, locale="id-ID")
    page = context.new_page()
    page.goto(f"{site}/")
    wait_for_controller(page)
    cdp = context.new_cdp_session(page)
    manifest = cdp.send("Page.getAppManifest")
    assert manifest["url"] == f"{site}/manifest.webmanifest"
    assert manifest["errors"] == []
    errors = cdp.send("Page.getInstallabilityErrors")["installabilityErrors"]
    # Playwright's contexts are incognito, where Chromium never installs: that one is the
    # test's browser, not the site (a missing icon or worker adds its own errorId).
    assert [e["errorId"] for e in errors if e["errorId"] != "in-incognito"] == []
    context.close()


@pytest.mark.django_db
def test_favicon_ico_leads_to_the_sites_icon(client: Client) -> None:
    # Asked by browsers for pages that name no icon (the admin, the API's JSON).
    response = client.get("/favicon.ico")
    assert response.status_code == 302
    assert "max-age=86400" in response["Cache-Control"]
    with Image.open(static_file(response["Location"])) as icon:
        assert icon.format == "PNG"
        assert icon.size[0] >= 32
