"""Text → values: numbers, scores, sizes, dates, statuses, lists, as the site writes them.

Every function here is total: text it cannot read gives None (or an empty value), never an
exception, so the parsers built on top raise nothing but `ParseError`.
"""

from __future__ import annotations

import datetime
import re


def clean(text: str | None) -> str:
    """Collapse whitespace (NBSP and the newlines of prettified markup included) and strip."""
    if not text:
        return ""
    return " ".join(text.split())


def parse_status(text: str | None) -> str | None:
    """ "Ongoing" / "On-Going" / "Completed" / "Tamat" → "ongoing" / "completed"."""
    lowered = clean(text).lower()
    if "ongoing" in lowered or "on-going" in lowered or "on going" in lowered:
        return "ongoing"
    if "complete" in lowered or "tamat" in lowered or "selesai" in lowered:
        return "completed"
    return None


def split_list(text: str | None) -> list[str]:
    """Comma list as written: "Nippon Columbia, Kadokawa" → ["Nippon Columbia", "Kadokawa"]."""
    if not text:
        return []
    return [part for part in (clean(p) for p in text.split(",")) if part and part != "-"]


_TITLE_SUFFIX_RE = re.compile(r"\s*(?:Subtitle Indonesia|Sub Indo)\s*$", re.IGNORECASE)


def strip_sub_suffix(title: str) -> str:
    return _TITLE_SUFFIX_RE.sub("", title).strip()


def label_of(text: str) -> str:
    """Normalise a `<b>` label: "Total Episode :" → "total episode"."""
    return clean(text).strip(":\uff1a").strip().lower()


# --------------------------------------------------------------------------- numbers

_NUMBER_RE = re.compile(r"\d{1,6}(?:[.,]\d{1,4})?")
_EPISODE_NUMBER_RE = re.compile(r"\b(?:Episode|Eps?\.?)\s*(\d{1,5}(?:[.,]\d{1,3})?)\b", re.I)
_SCORE_RE = re.compile(r"(\d{1,2}(?:[.,]\d{1,3})?)(?:\s*/\s*10)?")
_LEADING_INT_RE = re.compile(r"\s*(\d{1,6})\b")
_SLUG_EPISODE_RE = re.compile(r"episode-(\d{1,5})(?:-(\d{1,3}))?(?:-|$)")


def to_number(text: str) -> int | float:
    """ "12" → 12, "12.5" / "12,5" → 12.5 (text already matched by a bounded regex)."""
    text = text.replace(",", ".")
    if "." in text:
        value = float(text)
        return int(value) if value.is_integer() and text.endswith(".0") else value
    return int(text)


def first_number(text: str | None) -> int | float | None:
    if not text:
        return None
    match = _NUMBER_RE.search(text)
    return to_number(match.group(0)) if match else None


def parse_score(text: str | None) -> float | None:
    """ "8.25" → 8.25; "N/A", "", "Fall 2025" → None (a season is not a score)."""
    match = _SCORE_RE.fullmatch(clean(text))
    if not match:
        return None
    return float(match.group(1).replace(",", "."))


def parse_int(text: str | None) -> int | None:
    """ "11" → 11, "12 Eps" → 12, "Unknown" → None."""
    match = _LEADING_INT_RE.match(text or "")
    return int(match.group(1)) if match else None


def episode_number(title: str | None, slug: str | None = None) -> int | float | None:
    """Episode number from "X Episode 12.5 Subtitle Indonesia", else from the slug."""
    if title:
        match = _EPISODE_NUMBER_RE.search(title)
        if match:
            return to_number(match.group(1))
    if slug:
        match = _SLUG_EPISODE_RE.search(slug)
        if match:
            whole, fraction = match.groups()
            return to_number(f"{whole}.{fraction}") if fraction else int(whole)
    return None


_SIZE_RE = re.compile(r"(\d{1,6}(?:[.,]\d{1,3})?)\s*([KMGT]i?B)\b", re.I)
_SIZE_FACTORS = {"k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def parse_size(text: str | None) -> tuple[str | None, int | None]:
    """ "135.2 MB" → ("135.2 MB", 141767065). Binary units, as download hosts show them."""
    text = clean(text)
    match = _SIZE_RE.search(text)
    if not match:
        return (text or None), None
    number = float(match.group(1).replace(",", "."))
    return text, int(number * _SIZE_FACTORS[match.group(2)[0].lower()])


# --------------------------------------------------------------------------- dates

_MONTH_NAMES = (
    ("januari", "january", "jan"),
    ("februari", "february", "feb", "pebruari"),
    ("maret", "march", "mar"),
    ("april", "apr"),
    ("mei", "may"),
    ("juni", "june", "jun"),
    ("juli", "july", "jul"),
    ("agustus", "august", "agu", "agt", "aug", "ags"),
    ("september", "sep", "sept"),
    ("oktober", "october", "okt", "oct"),
    ("november", "nov", "nop", "nopember"),
    ("desember", "december", "des", "dec"),
)
MONTHS: dict[str, int] = {
    name: number for number, names in enumerate(_MONTH_NAMES, start=1) for name in names
}

_DMY_RE = re.compile(r"(\d{1,2})\s*([A-Za-z]{3,10})\.?\s*,?\s*(\d{4})")
_MDY_RE = re.compile(r"([A-Za-z]{3,10})\.?\s+(\d{1,2})\s*,?\s*(\d{4})")
_ISO_RE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_DM_RE = re.compile(r"^\s*(\d{1,2})\s*([A-Za-z]{3,10})\.?\s*$")


def make_date(year: int, month: int, day: int) -> datetime.date | None:
    try:
        return datetime.date(year, month, day)
    except ValueError:
        return None


def parse_full_date(text: str | None) -> datetime.date | None:
    """ "14 Agustus,2026", "11 Februari, 2026", "Apr 03, 2026", "2026-01-21T…" → date."""
    if not text:
        return None
    match = _DMY_RE.search(text)
    if match and match.group(2).lower() in MONTHS:
        return make_date(int(match.group(3)), MONTHS[match.group(2).lower()], int(match.group(1)))
    match = _MDY_RE.search(text)
    if match and match.group(1).lower() in MONTHS:
        return make_date(int(match.group(3)), MONTHS[match.group(1).lower()], int(match.group(2)))
    match = _ISO_RE.search(text)
    if match:
        return make_date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    return None


def resolve_short_date(text: str | None, reference: datetime.date | None) -> datetime.date | None:
    """A card date "15 Agu" is at most a few days after the page was rendered; take the
    reference's year, or the year before when that would land in the future (a "27 Des" card
    on a 3 January page)."""
    if not text or reference is None:
        return None
    match = _DM_RE.match(text)
    if not match or match.group(2).lower() not in MONTHS:
        return parse_full_date(text)
    month, day = MONTHS[match.group(2).lower()], int(match.group(1))
    # Two days of slack: the page's clock (UTC cache stamp) may lag the site's local date.
    limit = reference + datetime.timedelta(days=2)
    for year in (reference.year + 1, reference.year, reference.year - 1):
        candidate = make_date(year, month, day)
        if candidate is not None and candidate <= limit:
            return candidate
    return None


# The site publishes on Jakarta time (WIB, UTC+7, no DST): its lists show dates in it.
SITE_TZ = datetime.timezone(datetime.timedelta(hours=7))


def iso_site_date(text: str | None) -> datetime.date | None:
    """ "2026-01-14T18:14:27+00:00" → 2026-01-15: the date the site's own lists show."""
    if not text:
        return None
    try:
        moment = datetime.datetime.fromisoformat(text.strip())
    except ValueError:
        return parse_full_date(text)
    if moment.tzinfo is None:
        return moment.date()
    return moment.astimezone(SITE_TZ).date()
