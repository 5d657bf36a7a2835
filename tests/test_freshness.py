"""The planned ongoing update (scraper.freshness and its inputs): when it polls, and the
tick task that runs the ongoing crawl only when it is due."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.test import override_settings
from django.utils import timezone

from catalog.models import Anime, Episode, ScrapeRun
from scraper import freshness, freshness_state, tasks
from scraper.freshness import Expectation, Policy, Poll, decide
from tests.fake_origin import FakeOrigin

WIB = ZoneInfo("Asia/Jakarta")
# A Wednesday (Rabu, weekday 2).
WEDNESDAY = datetime.datetime(2026, 8, 19, tzinfo=WIB)
POLICY = Policy()
MIN = datetime.timedelta(minutes=1)


def at(hour: int, minute: int = 0, day: datetime.datetime = WEDNESDAY) -> datetime.datetime:
    return day.replace(hour=hour, minute=minute)


def rabu_at_20(**kw) -> Expectation:
    """An anime of the Rabu schedule whose last episodes appeared at 20:00-20:10."""
    return Expectation("rabu-anime", weekday=2, minutes=(20 * 60 + 10, 20 * 60, 20 * 60 + 5), **kw)


# --------------------------------------------------------------------------- the planner


def test_polls_every_minute_around_the_usual_release_time_on_the_schedule_day() -> None:
    expectations = [rabu_at_20()]
    for now in (at(19, 52), at(20, 0), at(20, 30)):
        decision = decide(now, expectations, [Poll(now - MIN, ok=True)])
        assert decision.due, now
        assert decision.interval == POLICY.hot
        assert decision.reason == "release window rabu-anime"


def test_backs_off_to_the_quiet_pace_away_from_releases() -> None:
    expectations = [rabu_at_20()]
    # Morning of its day, and the same hour on another day: one poll in eight minutes.
    for now in (at(9), at(20, 5, day=WEDNESDAY + datetime.timedelta(days=2))):
        recent = decide(now, expectations, [Poll(now - 3 * MIN, ok=True)])
        assert not recent.due
        assert recent.interval == POLICY.cold
        assert recent.next_at == now + 5 * MIN
        assert decide(now, expectations, [Poll(now - 8 * MIN, ok=True)]).due


def test_a_quiet_wait_ends_early_when_a_release_window_opens() -> None:
    # Last poll at 19:45 (quiet: next at 19:53); the window opens at 19:50 (15 min
    # before 20:05, the usual time).
    decision = decide(at(19, 46), [rabu_at_20()], [Poll(at(19, 45), ok=True)])
    assert not decision.due
    assert decision.next_at == at(19, 50)


def test_the_window_closes_once_the_episode_of_the_week_is_in() -> None:
    seen = rabu_at_20(last_seen=at(20, 3))
    decision = decide(at(20, 10), [seen], [Poll(at(20, 9), ok=True)])
    assert decision.interval == POLICY.cold
    # An early release (seen the day before) counts as this week's too.
    early = rabu_at_20(last_seen=at(21, day=WEDNESDAY - datetime.timedelta(days=1)))
    assert decide(at(20, 10), [early], [Poll(at(20, 9), ok=True)]).interval == POLICY.cold


def test_a_late_episode_is_looked_for_every_few_minutes_for_hours() -> None:
    expectations = [rabu_at_20()]
    late = decide(at(22), expectations, [Poll(at(21, 58), ok=True)])
    assert (late.interval, late.reason) == (POLICY.warm, "late rabu-anime")
    assert not late.due
    assert decide(at(22, 1), expectations, [Poll(at(21, 58), ok=True)]).due
    # Given up after overdue_for: back to the quiet pace.
    next_day = at(3, day=WEDNESDAY + datetime.timedelta(days=1))
    assert decide(next_day, expectations, [Poll(next_day - MIN, ok=True)]).interval == POLICY.cold


def test_a_poll_that_found_something_brings_the_next_ones_closer() -> None:
    now = at(9)
    polls = [Poll(now - MIN, ok=True), Poll(now - 2 * MIN, ok=True, found=3)]
    decision = decide(now, [], polls)
    assert (decision.due, decision.reason) == (True, "after a find")
    later = now + POLICY.after_find
    assert decide(later, [], [Poll(later - MIN, ok=True), *polls]).interval == POLICY.cold


def test_an_anime_without_history_borrows_the_usual_times_of_its_day() -> None:
    newcomer = Expectation("baru", weekday=2)
    decision = decide(
        at(20, 20), [rabu_at_20(last_seen=at(20, 1)), newcomer], [Poll(at(20, 19), ok=True)]
    )
    assert decision.reason == "release window baru"
    # Without any history anywhere: no window, the quiet pace.
    alone = decide(at(20, 20), [newcomer], [Poll(at(20, 19), ok=True)])
    assert alone.interval == POLICY.cold


def test_random_day_anime_open_no_window() -> None:
    random_day = Expectation("acak", weekday=None, minutes=(20 * 60,))
    assert decide(at(20), [random_day], [Poll(at(20) - MIN, ok=True)]).interval == POLICY.cold


def test_failed_polls_stretch_the_wait_up_to_the_quiet_pace() -> None:
    now = at(20)
    waits = []
    for failures in range(1, 6):
        polls = [Poll(now - MIN, ok=False)] * failures
        waits.append(decide(now, [rabu_at_20()], polls).interval)
    assert waits == sorted(waits)
    assert waits[0] > POLICY.hot
    assert waits[-1] == POLICY.cold


def test_windows_over_midnight_stay_on_their_own_day() -> None:
    late_night = Expectation("tengah-malam", weekday=2, minutes=(23 * 60 + 55,))
    windows = freshness.release_windows(at(23, 50), [late_night])
    assert [(w.start, w.end) for w in windows] == [(at(23, 40), at(23, 55) + POLICY.tail)]


def test_an_unscheduled_release_waits_at_most_the_quiet_interval() -> None:
    """A week of one-minute ticks polling whenever due: no gap between polls is longer
    than the quiet interval, so anything published at any time is seen within it."""
    expectations = [rabu_at_20(), Expectation("kamis", weekday=3, minutes=(14 * 60,))]
    polls: list[Poll] = []
    now = at(0, day=WEDNESDAY - datetime.timedelta(days=2))
    gaps = []
    for _minute in range(7 * 1440):
        if decide(now, expectations, polls[:12]).due:
            if polls:
                gaps.append(now - polls[0].at)
            polls.insert(0, Poll(now, ok=True))
        now += MIN
    assert max(gaps) <= POLICY.cold
    # ... and it is polite: far fewer polls than one a minute.
    assert len(gaps) < 7 * 1440 / 5


# --------------------------------------------------------------------------- from the database


@pytest.mark.django_db
def test_sightings_are_the_times_our_updates_stored_new_episodes() -> None:
    tz_now = timezone.now()
    anime = Anime.objects.create(slug="rabu-anime", title="Rabu", release_day="Rabu")
    first_crawl = Episode.objects.create(anime=anime, slug="ep-1", number=1)
    stored_later = Episode.objects.create(anime=anime, slug="ep-2", number=2)
    Anime.objects.filter(pk=anime.pk).update(created_at=tz_now - datetime.timedelta(days=8))
    Episode.objects.filter(pk=first_crawl.pk).update(created_at=tz_now - datetime.timedelta(days=8))
    sighting = (tz_now - datetime.timedelta(days=7)).astimezone(WIB).replace(hour=20, minute=7)
    Episode.objects.filter(pk=stored_later.pk).update(
        created_at=sighting, published_on=sighting.date()
    )
    # Stored a day after the origin's date (an outage catch-up): not a sighting of the hour.
    caught_up = Episode.objects.create(anime=anime, slug="ep-3", number=3)
    Episode.objects.filter(pk=caught_up.pk).update(
        published_on=(tz_now - datetime.timedelta(days=2)).date()
    )

    with timezone.override(WIB):
        [expectation] = freshness_state.expectations(tz_now)

    assert expectation.weekday == 2
    assert expectation.minutes == (20 * 60 + 7,)
    assert expectation.last_seen == Episode.objects.get(pk=caught_up.pk).created_at


@pytest.mark.django_db
def test_recent_polls_come_from_the_ongoing_runs() -> None:
    now = timezone.now()
    ScrapeRun.objects.create(kind="ongoing", started_at=now - 2 * MIN, status="ok", created=2)
    ScrapeRun.objects.create(kind="ongoing", started_at=now - MIN, status="skipped")
    ScrapeRun.objects.create(kind="ongoing", started_at=now, status="failed")
    ScrapeRun.objects.create(kind="full", started_at=now, status="ok")

    polls = freshness_state.recent_polls()

    assert [(p.ok, p.found) for p in polls] == [(False, 0), (True, 2)]


# --------------------------------------------------------------------------- the tick task


@pytest.fixture
def origin(tmp_path: Path) -> Iterator[FakeOrigin]:
    with (
        FakeOrigin(seed=7, size=12) as fake,
        override_settings(
            OTAKUDESU_BASE_URL=fake.base_url,
            SCRAPER_RATE_LIMIT=0,
            SCRAPER_RETRIES=1,
            SCRAPER_COOKIE_PATH=tmp_path / "cookies.json",
        ),
    ):
        yield fake


@pytest.mark.django_db(transaction=True)
def test_the_tick_crawls_only_when_due(origin: FakeOrigin) -> None:
    # Never polled: due. The tick runs the ongoing crawl against the origin.
    first = tasks.freshness_tick_task()
    assert first is not None
    assert ScrapeRun.objects.get(pk=first).kind == "ongoing"
    assert [r.path for r in origin.requests][:2] == ["/", "/ongoing-anime/"]
    assert Episode.objects.exists()

    # Polled a moment ago and nothing is expected: no crawl, no request, no run row.
    origin.reset_log()
    runs_before = ScrapeRun.objects.count()
    assert tasks.freshness_tick_task() is None
    assert origin.requests == []
    assert ScrapeRun.objects.count() == runs_before

    # The quiet interval later, it is due again.
    ScrapeRun.objects.filter(pk=first).update(
        started_at=timezone.now() - freshness_state.policy().cold
    )
    assert tasks.freshness_tick_task() is not None
    assert [r.path for r in origin.requests][:1] == ["/"]
