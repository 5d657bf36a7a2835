"""The release schedule as an iCalendar (.ics) feed, built with the `icalendar` library.

One weekly recurring event per ongoing anime on its release day, in the site's time zone
(Asia/Jakarta: the origin's schedule is WIB). Where the time of day its episodes usually
arrive is known (catalog.follows.release_times) the event has that time; otherwise it is
an all-day event. UIDs are made of the anime's slug and the site's host, so a calendar
app that refreshes the feed updates its events instead of adding copies.
"""

from __future__ import annotations

import datetime
import re
from zoneinfo import ZoneInfo

import icalendar
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from catalog import selectors as sel
from catalog.models import Anime

BYDAY = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]  # in selectors.DAYS order
DEFAULT_MINUTES = 30
_MINUTES = re.compile(r"(\d{1,3})\s*(?:menit|min)", re.IGNORECASE)
# Calendar apps poll subscriptions on their own schedule; this asks for a few hours.
REFRESH = datetime.timedelta(hours=6)


def build(
    anime: list[Anime],
    times: dict[int, datetime.time],
    *,
    site: str,
    name: str,
) -> bytes:
    """The calendar of `anime` (ongoing, release day known). `site`: scheme and host,
    for the anime links and the UIDs."""
    cal = icalendar.Calendar()
    cal.add("prodid", "-//otakusite//jadwal rilis//ID")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", name)
    cal.add("x-wr-timezone", settings.TIME_ZONE)
    cal.add("refresh-interval", REFRESH, parameters={"VALUE": "DURATION"})
    cal.add("x-published-ttl", icalendar.vDuration(REFRESH))
    host = site.split("://", 1)[-1]
    for item in anime:
        cal.add_component(_event(item, times.get(item.pk), site=site, host=host))
    cal.add_missing_timezones()
    return cal.to_ical()


def _event(anime: Anime, at: datetime.time | None, *, site: str, host: str) -> icalendar.Event:
    weekday = sel.DAYS.index(sel.normalise_day(anime.release_day))
    link = site + anime.get_absolute_url()
    event = icalendar.Event()
    event.add("uid", f"anime-{anime.slug}@{host}")
    event.add("summary", _("%(title)s: episode baru") % {"title": anime.title})
    event.add(
        "description",
        _("Jadwal rilis %(title)s.\n%(link)s")
        % {
            "title": anime.title,
            "link": link,
        },
    )
    event.add("url", link)
    event.add("dtstamp", anime.updated_at)
    event.add("last-modified", anime.updated_at)
    first = _first_day(anime, weekday)
    if at is None:
        event.add("dtstart", first)
        event.add("dtend", first + datetime.timedelta(days=1))
    else:
        start = datetime.datetime.combine(first, at, tzinfo=ZoneInfo(settings.TIME_ZONE))
        event.add("dtstart", start)
        event.add("dtend", start + datetime.timedelta(minutes=_duration_minutes(anime)))
    event.add("rrule", {"freq": "weekly", "byday": BYDAY[weekday]})
    event.add("transp", "TRANSPARENT")  # a release does not make the viewer busy
    return event


def _first_day(anime: Anime, weekday: int) -> datetime.date:
    """The release day on or before the day the anime was first stored: stable, so the
    feed does not change from one day to the next."""
    day = timezone.localtime(anime.created_at).date()
    return day - datetime.timedelta(days=(day.weekday() - weekday) % 7)


def _duration_minutes(anime: Anime) -> int:
    found = _MINUTES.search(anime.duration or "")
    minutes = int(found.group(1)) if found else DEFAULT_MINUTES
    return minutes if 5 <= minutes <= 180 else DEFAULT_MINUTES
