"""In Chromium: the service worker shows the notification a push message brings (the payload
catalog/push.py builds for a new episode), and clicking it opens the episode.

The message is delivered through the DevTools protocol (ServiceWorker.deliverPushMessage):
headless Chromium has no push service to subscribe at, so the push event is real but its
transport is not (tests/test_push.py covers the transport against a fake push service).
A notification cannot be clicked through DevTools either: the test dispatches the
worker's notificationclick event with the notification it shows, and the worker's own
handler takes the open tab to the episode.
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest

from catalog import push
from tests.procs import wait_until
from tests.test_browser import (  # noqa: F401  (browser_site, chromium: fixtures)
    CHROMIUM,
    PHONE,
    Watcher,
    browser_site,
    chromium,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is not installed"),
]

NOTIFICATIONS = """navigator.serviceWorker.ready
  .then((reg) => reg.getNotifications())
  .then((list) => list.map((n) => ({title: n.title, body: n.body, icon: n.icon, tag: n.tag,
                                   data: n.data})))"""

CLICK_FIRST = """() => self.registration.getNotifications().then((list) => {
  self.dispatchEvent(new NotificationEvent("notificationclick", {notification: list[0]}));
  return list.length;
})"""


def registration_id(page, cdp, scope: str) -> str:
    found: dict[str, str] = {}

    def updated(event: dict) -> None:
        for reg in event["registrations"]:
            if reg["scopeURL"] == scope and not reg.get("isDeleted"):
                found["id"] = reg["registrationId"]

    cdp.on("ServiceWorker.workerRegistrationUpdated", updated)
    cdp.send("ServiceWorker.enable")

    def known() -> bool:
        page.evaluate("0")  # lets Playwright deliver the protocol's events meanwhile
        return "id" in found

    wait_until(known, "the service worker's registration", deadline=60)
    return found["id"]


def test_a_pushed_episode_is_shown_and_its_click_opens_the_episode(
    browser_site,  # noqa: F811
    chromium,  # noqa: F811
):
    site, sample = browser_site
    episode = sample.ongoing.episodes.order_by("number").last()
    payload = push.episode_payload(episode)
    context = chromium.new_context(viewport=PHONE, locale="id-ID")
    context.grant_permissions(["notifications"], origin=site)
    page = context.new_page()
    watcher = Watcher(page)
    page.goto(f"{site}/")
    page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=60_000)

    cdp = context.new_cdp_session(page)
    reg = registration_id(page, cdp, f"{site}/")
    cdp.send(
        "ServiceWorker.deliverPushMessage",
        {"origin": site, "registrationId": reg, "data": json.dumps(payload)},
    )

    shown: list[dict] = []

    def notification_shown() -> bool:
        shown[:] = page.evaluate(NOTIFICATIONS)
        return bool(shown)

    wait_until(notification_shown, "the notification", deadline=60)
    assert len(shown) == 1
    note = shown[0]
    assert note["title"] == "Pedang Bintang"
    assert f"Episode {episode.number_display}" in note["body"]
    assert note["tag"] == f"episode-{episode.pk}"
    assert note["data"]["url"] == episode.get_absolute_url()
    assert note["icon"].endswith("/static/img/icon-192.png")  # the sample has no poster

    worker = context.service_workers[0]
    assert worker.evaluate(CLICK_FIRST) == 1
    page.wait_for_url(f"{site}{episode.get_absolute_url()}", timeout=30_000)
    assert urlsplit(page.url).path == episode.get_absolute_url()
    assert page.locator("h1").first.inner_text() == episode.title
    wait_until(lambda: page.evaluate(NOTIFICATIONS) == [], "the notification closed", deadline=60)
    assert watcher.problems == []
    context.close()


def test_a_push_without_a_title_shows_nothing(browser_site, chromium):  # noqa: F811
    site, _sample = browser_site
    context = chromium.new_context(viewport=PHONE, locale="id-ID")
    context.grant_permissions(["notifications"], origin=site)
    page = context.new_page()
    page.goto(f"{site}/")
    page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=60_000)
    cdp = context.new_cdp_session(page)
    reg = registration_id(page, cdp, f"{site}/")
    for data in ("not json", json.dumps({"url": "//evil.example/"})):
        cdp.send(
            "ServiceWorker.deliverPushMessage",
            {"origin": site, "registrationId": reg, "data": data},
        )
    # The worker handled both (a later valid message is shown, so they were processed).
    good = {"title": "Kafe Senja", "body": "x", "url": "//evil.example/", "tag": "t"}
    cdp.send(
        "ServiceWorker.deliverPushMessage",
        {"origin": site, "registrationId": reg, "data": json.dumps(good)},
    )
    wait_until(lambda: page.evaluate(NOTIFICATIONS) != [], "a notification", deadline=60)
    shown = page.evaluate(NOTIFICATIONS)
    assert [n["title"] for n in shown] == ["Kafe Senja"]
    assert shown[0]["data"]["url"] == "/"  # another site's link is never opened
    context.close()
