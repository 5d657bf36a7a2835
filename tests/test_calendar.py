"""The release schedule as an .ics feed (catalog/ics.py), read back with the `icalendar`
parser as Google Calendar and Apple Calendar would: weekly events on the release day in
Asia/Jakarta, stable UIDs, the anime's link; everything ongoing or a followed set."""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

import icalendar
import pytest
from django.test import Client
from django.utils import timezone

from catalog.models import Anime, Episode
from tests.site_factories import SampleCatalogue, bump_version, make_anime, make_episode

pytestmark = pytest.mark.django_db

ICS = "/jadwal/kalender.ics"
WIB = ZoneInfo("Asia/Jakarta")


def calendar(client: Client, **query: str) -> icalendar.Calendar:
    response = client.get(ICS, query)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    return icalendar.Calendar.from_ical(response.content)


def events(cal: icalendar.Calendar) -> dict[str, icalendar.Event]:
    return {str(e["UID"]): e for e in cal.walk("VEVENT")}


def seen_arriving(anime: Anime, number: int, at: datetime.datetime) -> Episode:
    """An episode our update stored at `at` (after the anime's first crawl), dated that day."""
    episode = make_episode(anime, number, published_on=at.astimezone(WIB).date())
    Episode.objects.filter(pk=episode.pk).update(created_at=at)
    return episode


def test_everything_ongoing_as_weekly_events(client: Client, sample: SampleCatalogue) -> None:
    make_anime("tanpa-hari", "Tanpa Hari", release_day="")  # no day: no event
    make_anime("hari-jumat", "Hari Jumat", release_day="Jum'at")
    cal = calendar(client)
    assert str(cal["X-WR-TIMEZONE"]) == "Asia/Jakarta"
    assert str(cal["X-WR-CALNAME"]) == "Jadwal rilis otakusite"
    assert [str(tz["TZID"]) for tz in cal.walk("VTIMEZONE")] in ([], ["Asia/Jakarta"])
    found = events(cal)
    # The completed anime and the one without a day are not on the schedule.
    assert set(found) == {
        f"anime-{sample.ongoing.slug}@testserver",
        "anime-hari-jumat@testserver",
    }
    event = found[f"anime-{sample.ongoing.slug}@testserver"]
    assert str(event["SUMMARY"]) == "Pedang Bintang: episode baru"
    assert str(event["URL"]) == "http://testserver/anime/pedang-bintang-sub-indo/"
    assert "http://testserver/anime/pedang-bintang-sub-indo/" in str(event["DESCRIPTION"])
    rule = event["RRULE"]
    assert rule["FREQ"] == ["WEEKLY"]
    assert rule["BYDAY"] == ["MO"]
    # No time of day known yet: an all-day event on a Monday (Senin).
    start = event.decoded("DTSTART")
    assert type(start) is datetime.date
    assert start.weekday() == 0
    assert event.decoded("DTEND") == start + datetime.timedelta(days=1)
    assert str(event["TRANSP"]) == "TRANSPARENT"
    friday = found["anime-hari-jumat@testserver"]
    assert friday["RRULE"]["BYDAY"] == ["FR"]
    assert friday.decoded("DTSTART").weekday() == 4


def test_event_at_the_time_episodes_usually_arrive(client: Client, sample: SampleCatalogue) -> None:
    anime = sample.ongoing
    Anime.objects.filter(pk=anime.pk).update(
        created_at=timezone.now() - datetime.timedelta(days=30)
    )
    # Stored at 21:40 WIB on a Monday, two weeks ago.
    monday = timezone.now().astimezone(WIB).date()
    monday -= datetime.timedelta(days=monday.weekday() + 14)
    seen_arriving(anime, 4, datetime.datetime.combine(monday, datetime.time(21, 40, 12), WIB))
    bump_version(anime)
    event = events(calendar(client))[f"anime-{anime.slug}@testserver"]
    start = event.decoded("DTSTART")
    assert isinstance(start, datetime.datetime)
    assert str(start.tzinfo) == "Asia/Jakarta"
    assert (start.weekday(), start.hour, start.minute) == (0, 21, 40)
    assert event.decoded("DTEND") - start == datetime.timedelta(minutes=24)  # "24 menit"
    assert event["DTSTART"].params["TZID"] == "Asia/Jakarta"
    cal = calendar(client)
    assert [str(tz["TZID"]) for tz in cal.walk("VTIMEZONE")] == ["Asia/Jakarta"]


def test_a_catch_up_is_not_a_release_time(client: Client, sample: SampleCatalogue) -> None:
    """An episode stored days after the origin dated it (after an outage) says nothing
    about the release time: the event stays all-day."""
    anime = sample.ongoing
    Anime.objects.filter(pk=anime.pk).update(
        created_at=timezone.now() - datetime.timedelta(days=30)
    )
    episode = make_episode(anime, 4, published_on=timezone.localdate() - datetime.timedelta(days=5))
    Episode.objects.filter(pk=episode.pk).update(created_at=timezone.now())
    bump_version(anime)
    event = events(calendar(client))[f"anime-{anime.slug}@testserver"]
    assert type(event.decoded("DTSTART")) is datetime.date


def test_followed_set_only(client: Client, sample: SampleCatalogue) -> None:
    other = make_anime("anime-lain", "Anime Lain", release_day="Rabu")
    cal = calendar(client, anime=f"{other.slug},{sample.completed.slug},tidak-ada")
    assert str(cal["X-WR-CALNAME"]) == "Anime diikuti (otakusite)"
    assert set(events(cal)) == {"anime-anime-lain@testserver"}
    # An empty list (everything unfollowed) is an empty, valid calendar.
    assert events(calendar(client, anime="")) == {}
    assert events(calendar(client, anime="tidak-ada")) == {}


def test_uids_and_body_are_stable(client: Client, sample: SampleCatalogue) -> None:
    first = client.get(ICS)
    assert client.get(ICS).content == first.content
    assert client.get(ICS, HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304
    Anime.objects.filter(pk=sample.ongoing.pk).update(title="Pedang Bintang Baru")
    bump_version(sample.ongoing)
    changed = client.get(ICS)
    assert changed.content != first.content
    event = events(icalendar.Calendar.from_ical(changed.content))
    assert str(event[f"anime-{sample.ongoing.slug}@testserver"]["SUMMARY"]).startswith(
        "Pedang Bintang Baru"
    )
    old = icalendar.Calendar.from_ical(first.content)
    assert set(events(old)) == set(event)
    assert events(old)[f"anime-{sample.ongoing.slug}@testserver"].decoded("DTSTART") == event[
        f"anime-{sample.ongoing.slug}@testserver"
    ].decoded("DTSTART")


def test_english_calendar(client: Client, sample: SampleCatalogue) -> None:
    client.get("/bahasa/en/")
    cal = calendar(client)
    assert str(cal["X-WR-CALNAME"]) == "otakusite release schedule"
    event = events(cal)[f"anime-{sample.ongoing.slug}@testserver"]
    assert str(event["SUMMARY"]) == "Pedang Bintang: new episode"


@pytest.mark.parametrize(
    "slugs",
    [",".join(f"a{n}" for n in range(101)), "a/b", "a b", "a\x00b"],
    ids=["101-slugs", "slash", "space", "nul"],
)
def test_odd_input_is_400(client: Client, sample: SampleCatalogue, slugs: str) -> None:
    assert client.get(ICS, {"anime": slugs}).status_code == 400


def test_schedule_and_diikuti_pages_link_the_calendar(
    client: Client, sample: SampleCatalogue
) -> None:
    jadwal = client.get("/jadwal/").content.decode()
    # https link, and the path the script turns into webcal:// on the viewer's host.
    assert f'href="{ICS}" data-webcal="{ICS}"' in jadwal
    assert f'href="{ICS}" download' in jadwal
    assert "Langganan kalender" in jadwal
    diikuti = client.get("/diikuti/").content.decode()
    assert "data-follow-webcal" in diikuti
    assert "data-follow-ics" in diikuti
