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


# --- The notification box on the Diikuti page (static/js/push.js) -----------------------------

# Headless Chromium cannot subscribe at a real push service: PushManager is replaced by one
# that hands out the fake push service's subscription (and remembers the key it was given).
FAKE_PUSH_MANAGER = """(() => {
  const sub = %s;
  const oldKey = %s;
  const forget = () => { localStorage.removeItem("test:sub"); return Promise.resolve(true); };
  const fake = {endpoint: sub.endpoint, toJSON: () => sub, unsubscribe: forget, options: {}};
  if (oldKey) {  // subscribed earlier with another key
    const bytes = Uint8Array.from(atob(oldKey), (c) => c.charCodeAt(0));
    fake.options.applicationServerKey = bytes.buffer;
    localStorage.setItem("test:sub", "1");
  }
  PushManager.prototype.getSubscription = function () {
    return Promise.resolve(localStorage.getItem("test:sub") ? fake : null);
  };
  PushManager.prototype.subscribe = function (options) {
    const key = btoa(String.fromCharCode(...new Uint8Array(options.applicationServerKey)));
    const url = key.replace(/\\+/g, "-").replace(/\\//g, "_").replace(/=+$/, "");
    localStorage.setItem("test:key", url);
    fake.options = {applicationServerKey: options.applicationServerKey};
    localStorage.setItem("test:sub", "1");
    return Promise.resolve(fake);
  };
})();"""


FOLLOW = "([slug, title]) => window.otakusiteFollow.follow(slug, title)"
STATE = "() => document.querySelector('[data-push]').dataset.pushState === '%s'"


@pytest.fixture
def push_service(settings):
    from catalog.push_keys import new_vapid_pair
    from tests.fake_push import FakePushService

    public, private = new_vapid_pair()
    settings.VAPID_PUBLIC_KEY, settings.VAPID_PRIVATE_KEY = public, private
    settings.VAPID_SUBJECT = "mailto:ops@otakusite.test"
    settings.PUSH_ALLOW_LOCAL_ENDPOINTS = True
    with FakePushService(vapid_public_key=public, subject=settings.VAPID_SUBJECT) as service:
        yield service


def stored_follows() -> list[list[str]]:
    from catalog.models import PushSubscription

    return [
        sorted(sub.anime.values_list("slug", flat=True))
        for sub in PushSubscription.objects.prefetch_related("anime")
    ]


def test_viewer_turns_notifications_on_follows_more_and_turns_them_off(
    browser_site,  # noqa: F811
    chromium,  # noqa: F811
    push_service,
    settings,
):
    site, sample = browser_site
    fan = push_service.new_browser()
    context = chromium.new_context(viewport=PHONE, locale="id-ID")
    context.grant_permissions(["notifications"], origin=site)
    context.add_init_script(
        FAKE_PUSH_MANAGER % (json.dumps(push_service.subscription(fan)), "null")
    )
    page = context.new_page()
    watcher = Watcher(page)
    page.goto(f"{site}/diikuti/")
    toggle = page.locator("[data-push-toggle]")
    toggle.wait_for(state="visible")
    assert toggle.inner_text() == "Aktifkan notifikasi"

    toggle.click()  # nothing followed yet: nothing is subscribed
    page.wait_for_function("() => document.querySelector('[data-push-status]').textContent !== ''")
    assert "Ikuti anime dulu" in page.locator("[data-push-status]").inner_text()
    assert stored_follows() == []

    ongoing, completed = sample.ongoing, sample.completed
    page.evaluate("([s, t]) => window.otakusiteFollow.follow(s, t)", [ongoing.slug, ongoing.title])
    toggle.click()
    page.wait_for_function("() => document.querySelector('[data-push]').dataset.pushState === 'on'")
    assert toggle.inner_text() == "Matikan notifikasi"
    assert toggle.get_attribute("aria-pressed") == "true"
    assert page.evaluate("localStorage.getItem('test:key')") == settings.VAPID_PUBLIC_KEY
    wait_until(lambda: stored_follows() == [[ongoing.slug]], "the subscription stored")

    # Following another anime (on any page) updates the server's copy of the list.
    page.evaluate(
        "([s, t]) => window.otakusiteFollow.follow(s, t)", [completed.slug, completed.title]
    )
    both = sorted([ongoing.slug, completed.slug])
    wait_until(lambda: stored_follows() == [both], "the follow list sent again")

    # ...and a new episode of a followed anime reaches the browser's push service.
    episode = ongoing.episodes.order_by("number").last()
    assert push.notify_new_episodes(episode_ids=[episode.pk])["sent"] == 1
    assert fan.received[0]["payload"]["url"] == episode.get_absolute_url()

    toggle.click()  # stop: the server forgets the subscription
    page.wait_for_function(
        "() => document.querySelector('[data-push]').dataset.pushState === 'off'"
    )
    assert toggle.inner_text() == "Aktifkan notifikasi"
    wait_until(lambda: stored_follows() == [], "the subscription removed")
    assert watcher.problems == []
    context.close()


def test_without_vapid_keys_the_box_stays_hidden(browser_site, chromium, settings):  # noqa: F811
    site, _sample = browser_site
    settings.VAPID_PRIVATE_KEY = ""
    context = chromium.new_context(viewport=PHONE, locale="id-ID")
    page = context.new_page()
    watcher = Watcher(page)
    answers: list[int] = []
    page.on(
        "response", lambda r: answers.append(r.status) if r.url.endswith("/push/key/") else None
    )
    page.goto(f"{site}/diikuti/")
    wait_until(lambda: page.evaluate("0") == 0 and answers == [200], "push.js asked for the key")
    assert page.locator("[data-push]").is_hidden()
    assert watcher.problems == []  # no console error for a site without push
    context.close()


def test_a_subscription_made_with_an_older_vapid_key_is_renewed(
    browser_site,  # noqa: F811
    chromium,  # noqa: F811
    push_service,
    settings,
):
    """The operator generated a new key pair: the viewer's next visit of the Diikuti page
    subscribes again with the new key (the old subscription could not be sent to)."""
    import base64

    from catalog.push_keys import new_vapid_pair

    site, sample = browser_site
    old_key = base64.b64encode(base64.urlsafe_b64decode(new_vapid_pair()[0] + "=")).decode()
    fan = push_service.new_browser()
    context = chromium.new_context(viewport=PHONE, locale="id-ID")
    context.grant_permissions(["notifications"], origin=site)
    script = FAKE_PUSH_MANAGER % (json.dumps(push_service.subscription(fan)), json.dumps(old_key))
    context.add_init_script(script)
    page = context.new_page()
    page.goto(f"{site}/diikuti/")
    page.evaluate(FOLLOW, [sample.ongoing.slug, sample.ongoing.title])
    page.reload()
    page.wait_for_function(STATE % "on")
    assert page.evaluate("localStorage.getItem('test:key')") == settings.VAPID_PUBLIC_KEY
    wait_until(lambda: stored_follows() == [[sample.ongoing.slug]], "the new subscription")
    context.close()
