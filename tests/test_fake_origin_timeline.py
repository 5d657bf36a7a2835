"""The fake origin's timeline (tests/fake_origin/timeline.py): releases appear on the
origin over HTTP when the virtual clock passes their time, on the schedule's pattern."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest

from scraper.parsers import parse_home
from tests.fake_origin import DEFAULT_NOW, WIB, FakeOrigin
from tests.fake_origin.catalog import WEEKDAYS
from tests.fake_origin.timeline import Clock, Publisher


@pytest.fixture
def timed() -> Iterator[tuple[FakeOrigin, Publisher]]:
    with FakeOrigin(seed=3, size=60) as origin:
        clock = Clock(DEFAULT_NOW + timedelta(minutes=30))
        publisher = Publisher(origin.catalog, clock, days=7, seed=3, new_titles=2, batches=1)
        origin.timeline = publisher
        yield origin, publisher


def newest_on_home(origin: FakeOrigin) -> tuple[str, float | None]:
    """The first ongoing card of the origin's home: (anime slug, its episode number)."""
    page = parse_home(httpx.get(origin.url("/"), timeout=15).text, origin.url("/"))
    return page.ongoing[0].slug, page.ongoing[0].episode_number


def test_a_release_shows_on_the_origin_once_the_clock_passes_its_time(
    timed: tuple[FakeOrigin, Publisher],
) -> None:
    origin, publisher = timed
    release = next(r for r in publisher.releases if r.kind == "scheduled")
    numbers = [e.number for e in origin.truth.anime[release.anime_slug].episodes]

    publisher.clock.advance_to(release.at - timedelta(seconds=1))
    assert newest_on_home(origin)[0] != release.anime_slug
    assert not release.published

    publisher.clock.advance_to(release.at)
    assert newest_on_home(origin) == (release.anime_slug, max(numbers) + 1)
    assert release.published
    assert origin.truth.episodes[release.episode_slug].published == release.at


def test_scheduled_releases_keep_their_anime_day_and_usual_time(
    timed: tuple[FakeOrigin, Publisher],
) -> None:
    _origin, publisher = timed
    scheduled = [r for r in publisher.releases if r.scheduled]
    assert scheduled
    for release in scheduled:
        weekday, minute = publisher.habits[release.anime_slug]
        local = release.at.astimezone(WIB)
        assert WEEKDAYS[local.weekday()] == WEEKDAYS[weekday]
        usual = local.replace(hour=minute // 60, minute=minute % 60, second=0, microsecond=0)
        assert abs(local - usual) <= timedelta(minutes=3 * publisher.jitter)


def test_new_titles_are_unknown_to_the_origin_until_their_first_episode(
    timed: tuple[FakeOrigin, Publisher],
) -> None:
    origin, publisher = timed
    new = next(r for r in publisher.releases if r.kind == "new_title")
    assert httpx.get(origin.url(f"/anime/{new.anime_slug}/"), timeout=15).status_code == 404

    publisher.clock.advance_to(new.at)
    page = httpx.get(origin.url(f"/anime/{new.anime_slug}/"), timeout=15)
    assert page.status_code == 200
    assert [e.number for e in origin.truth.anime[new.anime_slug].episodes] == [1]


def test_a_batch_release_finishes_its_anime(timed: tuple[FakeOrigin, Publisher]) -> None:
    origin, publisher = timed
    batch = next(r for r in publisher.releases if r.kind == "batch")
    publisher.clock.advance_to(batch.at)
    newest_on_home(origin)  # any request publishes what is due
    anime = origin.truth.anime[batch.anime_slug]
    assert anime.status == "Completed"
    assert anime.batch is not None
