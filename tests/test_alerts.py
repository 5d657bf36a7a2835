"""Alerts to an operator over real HTTP: a fake Discord/Slack webhook and a fake Telegram
Bot API on 127.0.0.1; at most one alert per cause an hour, a "recovered" message when it
clears; the origin unreachable, a challenge not solved, a backup failed."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from django.db.models import F
from django.utils import timezone

from catalog.models import AlertState, ScrapeRun
from scraper import alerts
from scraper.alarms import watch_run
from scraper.client import FetchError
from scraper.crawl import CrawlError, run_crawl
from tests.alert_receiver import Receiver, receiver
from tests.fake_origin import FakeOrigin
from tests.pipeline_helpers import fast_client

pytestmark = pytest.mark.django_db

TOKEN = "123456:secret-token"


@dataclass
class Hooks:
    webhook: Receiver
    telegram: Receiver

    def texts(self) -> list[str]:
        return self.webhook.texts()


@pytest.fixture
def hooks(settings) -> Iterator[Hooks]:
    with receiver() as webhook, receiver() as telegram:
        settings.ALERT_WEBHOOK_URL = webhook.base_url + "/hooks/otakusite"
        settings.TELEGRAM_API_URL = telegram.base_url
        settings.TELEGRAM_BOT_TOKEN = TOKEN
        settings.TELEGRAM_CHAT_ID = "-1001234"
        yield Hooks(webhook, telegram)


def an_hour_passes(cause: str) -> None:
    AlertState.objects.filter(cause=cause).update(
        alerted_at=F("alerted_at") - datetime.timedelta(minutes=61)
    )


def test_an_alert_reaches_the_webhook_and_telegram(hooks: Hooks) -> None:
    assert alerts.problem("layout:episode", "Alarm tata letak: episode") is True
    [hook] = hooks.webhook.messages()
    assert hook.path == "/hooks/otakusite"
    # Discord reads "content", Slack and most others "text".
    assert "Alarm tata letak: episode" in hook.body["content"]
    assert hook.body["text"] == hook.body["content"]
    [bot] = hooks.telegram.messages()
    assert bot.path == f"/bot{TOKEN}/sendMessage"
    assert bot.body["chat_id"] == "-1001234"
    assert "Alarm tata letak: episode" in bot.body["text"]


def test_a_cause_alerts_at_most_once_an_hour(hooks: Hooks) -> None:
    alerts.problem("unreachable", "origin down")
    assert alerts.problem("unreachable", "origin still down") is False
    assert alerts.problem("challenge", "challenge") is True  # another cause is not held back
    assert hooks.texts() == ["[otakusite] origin down", "[otakusite] challenge"]
    an_hour_passes("unreachable")
    assert alerts.problem("unreachable", "origin down for an hour") is True
    assert hooks.texts()[-1] == "[otakusite] origin down for an hour"
    assert len(hooks.telegram.messages()) == 3


def test_recovery_is_announced_once_after_an_alert(hooks: Hooks) -> None:
    alerts.problem("layout:home", "home page without cards")
    assert alerts.recovered("layout:home") is True
    assert alerts.recovered("layout:home") is False
    assert hooks.texts() == [
        "[otakusite] home page without cards",
        "[otakusite] Pulih: home page without cards",
    ]
    state = AlertState.objects.get(cause="layout:home")
    assert state.since is None
    assert state.cleared_at is not None


def test_a_problem_that_never_alerted_recovers_silently(hooks: Hooks) -> None:
    # Not failing long enough to alert: its recovery says nothing either.
    alerts.problem("unreachable", "down", after=datetime.timedelta(minutes=30))
    assert alerts.recovered("unreachable") is False
    assert hooks.texts() == []


def test_an_endpoint_that_is_down_keeps_the_error_and_is_tried_again(hooks: Hooks) -> None:
    hooks.webhook.status = hooks.telegram.status = 500
    assert alerts.problem("backup", "backup failed") is False
    state = AlertState.objects.get(cause="backup")
    assert "HTTP 500" in state.delivery_error
    assert TOKEN not in state.delivery_error  # the bot token is in its URL: never shown
    hooks.webhook.status = hooks.telegram.status = 200
    # Nothing went out, so the next report is not held back by the hour.
    assert alerts.problem("backup", "backup failed again") is True
    assert hooks.texts() == ["[otakusite] backup failed again"]


def test_without_channels_the_state_is_still_kept(settings) -> None:
    settings.ALERT_WEBHOOK_URL = ""
    settings.TELEGRAM_BOT_TOKEN = ""
    assert alerts.problem("challenge", "unsolved") is False
    state = AlertState.objects.get(cause="challenge")
    assert state.since is not None
    assert state.message == "unsolved"


# --------------------------------------------------------------------------- from crawls


def crawl_ongoing(base_url: str):
    with fast_client(base_url, retries=1) as client:
        return run_crawl("ongoing", client=client)


def test_origin_unreachable_longer_than_the_setting_alerts_then_recovers(
    hooks: Hooks, settings
) -> None:
    settings.ALERT_UNREACHABLE_MINUTES = 30
    with FakeOrigin(seed=3, size=20) as origin:
        pass  # stopped: its port refuses connections now
    gone = origin.base_url
    with pytest.raises(CrawlError):
        crawl_ongoing(gone)
    assert hooks.texts() == []  # down, but not for 30 minutes yet
    AlertState.objects.filter(cause="unreachable").update(
        since=F("since") - datetime.timedelta(minutes=31)
    )
    with pytest.raises(CrawlError):
        crawl_ongoing(gone)
    [text] = hooks.texts()
    assert "tidak terjangkau" in text
    assert gone in text
    with FakeOrigin(seed=3, size=20) as back:
        assert crawl_ongoing(back.base_url).status == "ok"
    assert hooks.texts()[-1].startswith("[otakusite] Pulih: ")
    assert AlertState.objects.get(cause="unreachable").since is None


def test_a_run_that_failed_for_the_whole_threshold_alerts_at_its_end(
    hooks: Hooks, settings
) -> None:
    """The outage is timed from the run's first request, not from the moment its retries
    gave up: a run that kept failing for longer than ALERT_UNREACHABLE_MINUTES alerts at
    once, without waiting for the next run."""
    settings.ALERT_UNREACHABLE_MINUTES = 30
    with FakeOrigin(seed=3, size=20) as origin:
        pass  # stopped: its port refuses connections now
    long_ago = timezone.now() - datetime.timedelta(minutes=31)
    run = ScrapeRun.objects.create(kind="ongoing", base_url=origin.base_url)
    ScrapeRun.objects.filter(pk=run.pk).update(started_at=long_ago)
    run.refresh_from_db()
    url = f"{origin.base_url}/ongoing-anime/"
    error = FetchError(f"{url}: connection refused", url=url, status=None, attempts=3)
    watch_run(run, error, challenge_failed=False, parsed_kinds=(), alarm_kinds=())
    [text] = hooks.texts()
    assert "tidak terjangkau" in text
    assert AlertState.objects.get(cause="unreachable").since == long_ago
    # A run that has failed only briefly does not alert.
    alerts.recovered("unreachable")
    brief = ScrapeRun.objects.create(kind="ongoing", base_url=origin.base_url)
    watch_run(brief, error, challenge_failed=False, parsed_kinds=(), alarm_kinds=())
    assert len(hooks.texts()) == 2  # only the recovery was added
    assert hooks.texts()[-1].startswith("[otakusite] Pulih: ")


def test_a_challenge_the_solver_cannot_pass_alerts_and_recovers(hooks: Hooks, settings) -> None:
    from scraper.solver import reset_state

    settings.CHROMIUM_PATH = "/nonexistent/chromium"  # the browser cannot start
    reset_state()
    with FakeOrigin(seed=4, size=20) as origin:
        origin.challenge(True)
        with pytest.raises(CrawlError, match="challenge"):
            crawl_ongoing(origin.base_url)
        [text] = hooks.texts()
        assert "Tantangan Cloudflare" in text
        origin.challenge(False)
        assert crawl_ongoing(origin.base_url).status == "ok"
    assert hooks.texts()[-1].startswith("[otakusite] Pulih: Tantangan Cloudflare")
    reset_state()


def test_a_failed_backup_alerts_and_the_next_good_one_recovers(hooks: Hooks) -> None:
    backups = pytest.importorskip("otakusite.backups")
    failed = backups.BackupStatus(
        ok=False, finished_at="2026-12-07T04:00:00+00:00", duration_ms=5.0, error="disk full"
    )
    backups.backup_finished.send(sender=backups.BackupStatus, status=failed)
    [text] = hooks.texts()
    assert "Backup database gagal" in text
    assert "disk full" in text
    good = backups.BackupStatus(ok=True, finished_at="2026-12-07T05:00:00+00:00", duration_ms=9.0)
    backups.backup_finished.send(sender=backups.BackupStatus, status=good)
    assert hooks.texts()[-1].startswith("[otakusite] Pulih: Backup database gagal")


def test_a_mistyped_webhook_address_is_a_delivery_error_not_a_crash(settings) -> None:
    settings.ALERT_WEBHOOK_URL = "hxxp://not a url"
    settings.TELEGRAM_BOT_TOKEN = ""
    assert alerts.problem("layout:home", "home without cards") is False
    assert "alert webhook" in AlertState.objects.get(cause="layout:home").delivery_error
