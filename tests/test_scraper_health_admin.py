"""The admin's "Kesehatan scraper" page: last successful update, the last day's failures
by kind, alarms with their kept pages (shown escaped or as plain text, never rendered),
the current origin host and its moves, the request budget used; in English on request."""

from __future__ import annotations

import datetime

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from catalog.models import AlertState, OriginMove, ScrapeRun
from scraper.alarms import keep_page
from scraper.budget import redis_configured, redis_parts

pytestmark = pytest.mark.django_db

HEALTH = "admin:catalog_alertstate_changelist"
HOSTILE = "<html><body><script>alert('origin')</script><h1 class=\"venz\">Hai</h1></body></html>"


@pytest.fixture
def staff() -> Client:
    user = User.objects.create_superuser("ops", "ops@example.test", "pw-123456-long")
    client = Client()
    client.force_login(user)
    return client


def run(kind: str, status: str, ago: datetime.timedelta, **fields) -> ScrapeRun:
    started = timezone.now() - ago
    return ScrapeRun.objects.create(
        kind=kind, status=status, started_at=started, finished_at=started, **fields
    )


def test_the_page_shows_updates_failures_alarms_origin_and_budget(staff: Client, settings) -> None:
    settings.OTAKUDESU_BASE_URL = "https://otakudesu.best"
    settings.SCRAPER_RATE_LIMIT = 2
    good = run("ongoing", "ok", datetime.timedelta(minutes=10), requests_made=40)
    run("ongoing", "partial", datetime.timedelta(hours=2), requests_made=30, layout_alarms=3)
    failed = run("full", "failed", datetime.timedelta(hours=5), requests_made=1)
    run("full", "failed", datetime.timedelta(days=2), requests_made=500)  # not the last day
    keep_page(run=failed, kind="episode", path="/episode/x-episode-1/", reason="missing x", html="")
    OriginMove.objects.create(
        old_base="https://otakudesu.best",
        new_base="https://otakudesu.cloud",
        via="announcement",
        adopted=True,
        detail="3 of 3 stored anime match",
        configured_base="https://otakudesu.best",
    )
    AlertState.objects.create(cause="layout:episode", message="Alarm tata letak: episode")

    response = staff.get(reverse(HEALTH))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Kesehatan scraper" in page
    assert response.context["last_update"] == good
    rows = {row["kind"]: row for row in response.context["runs_by_kind"]}
    assert (
        rows["ongoing"]["ok"],
        rows["ongoing"]["partial"],
        rows["ongoing"]["layout_alarms"],
    ) == (
        1,
        1,
        3,
    )
    assert (rows["full"]["runs"], rows["full"]["failed"]) == (1, 1)
    assert "/episode/x-episode-1/" in page
    assert "otakudesu.cloud" in response.context["origin_host"]
    assert "Pengumuman di situs" in page  # how the move was detected
    assert "Alarm tata letak: episode" in page
    hour, day = response.context["budget"]
    assert (hour.requests, hour.allowed) == (40, 7200)
    assert (day.requests, day.allowed) == (71, 172_800)
    assert "40 / 7200" in page


def test_a_kept_page_is_shown_escaped_or_as_plain_text(staff: Client) -> None:
    alarm = keep_page(run=None, kind="home", path="/", reason="missing cards", html=HOSTILE)
    change = staff.get(reverse("admin:catalog_layoutalarm_change", args=[alarm.pk]))
    assert change.status_code == 200
    text = change.content.decode()
    assert "<script>alert('origin')" not in text
    assert "&lt;script&gt;alert(&#x27;origin&#x27;)&lt;/script&gt;" in text
    raw = staff.get(reverse("admin:catalog_layoutalarm_raw", args=[alarm.pk]))
    assert raw.status_code == 200
    assert raw["Content-Type"] == "text/plain; charset=utf-8"
    assert raw["X-Content-Type-Options"] == "nosniff"
    assert raw.content.decode() == HOSTILE
    listing = staff.get(reverse("admin:catalog_layoutalarm_changelist"))
    assert listing.status_code == 200
    assert "<script>alert" not in listing.content.decode()


def test_the_admin_index_links_the_page_and_outsiders_are_sent_to_login(staff: Client) -> None:
    index = staff.get(reverse("admin:index")).content.decode()
    assert reverse(HEALTH) in index
    assert "Kesehatan scraper" in index
    outsider = Client().get(reverse(HEALTH))
    assert outsider.status_code == 302
    assert "/login/" in outsider["Location"]
    alarm = keep_page(run=None, kind="home", path="/", reason="r", html=HOSTILE)
    raw = Client().get(reverse("admin:catalog_layoutalarm_raw", args=[alarm.pk]))
    assert raw.status_code == 302


def test_the_page_speaks_english_when_asked(staff: Client) -> None:
    staff.cookies["django_language"] = "en"
    page = staff.get(reverse(HEALTH)).content.decode()
    assert "Scraper health" in page
    assert "Kesehatan scraper" not in page


def test_the_page_shows_how_far_the_shared_budget_is_booked(staff: Client, settings) -> None:
    if not redis_configured():
        pytest.skip("the shared budget lives in Redis (REDIS_URL unset)")
    settings.OTAKUDESU_BASE_URL = "https://otakudesu.best"
    connection, key = redis_parts()
    redis = connection()
    seconds, _micros = redis.time()
    # What the crawl's clients write when slots are taken 30 s ahead.
    redis.set(key("scraper:budget:otakudesu.best:443:next"), repr(seconds + 30), px=60_000)
    booked = staff.get(reverse(HEALTH)).context["booked_ahead"]
    assert 25 < booked <= 30


def test_without_redis_the_budget_is_per_process_and_the_page_says_so(staff: Client) -> None:
    if redis_configured():
        pytest.skip("REDIS_URL is set: the shared budget is shown")
    page = staff.get(reverse(HEALTH))
    assert page.context["booked_ahead"] is None
    assert "tanpa Redis" in page.content.decode()
