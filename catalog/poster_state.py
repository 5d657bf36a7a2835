"""Where each anime's poster copy stands, read from what the worker records on the anime
(scraper/posters.py): the stored copy's key, the origin URL last tried, and failed tries in
a row. For the admin's column and filter; the same rules decide what the worker fetches.
"""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

# Failed tries in a row after which a poster URL is given up (until the origin shows
# another one); a 404 or a file that is not a picture counts as all of them at once.
MAX_TRIES = 3
# The worker's task (a dotted path: the catalogue imports nothing of the scraper).
FETCH_TASK = "scraper.posters.fetch_posters_task"


class PosterState(models.TextChoices):
    STORED = "stored", _("tersimpan")
    OUTDATED = "outdated", _("tersimpan, poster baru belum diambil")
    PENDING = "pending", _("menunggu diambil")
    RETRYING = "retrying", _("gagal, dicoba lagi")
    FAILED = "failed", _("gagal, berhenti dicoba")
    NONE = "none", _("tidak ada di sumber")


# The copy matches the origin's current poster URL (it was the last one tried)...
_CURRENT = Q(poster_source=F("poster_url"))
_HAS_COPY = ~Q(poster_key="")
_HAS_URL = ~Q(poster_url="")

STATE_Q: dict[PosterState, Q] = {
    PosterState.STORED: _HAS_COPY & _CURRENT & Q(poster_tries=0),
    # ...or not: a new URL not fetched yet, or failing while the older copy is shown.
    PosterState.OUTDATED: _HAS_COPY & (~_CURRENT | Q(poster_tries__gt=0)),
    PosterState.PENDING: ~_HAS_COPY & _HAS_URL & (~_CURRENT | Q(poster_tries=0)),
    PosterState.RETRYING: ~_HAS_COPY
    & _HAS_URL
    & _CURRENT
    & Q(poster_tries__gt=0, poster_tries__lt=MAX_TRIES),
    PosterState.FAILED: ~_HAS_COPY & _HAS_URL & _CURRENT & Q(poster_tries__gte=MAX_TRIES),
    PosterState.NONE: ~_HAS_COPY & ~_HAS_URL,
}


def state_of(*, poster_url: str, poster_key: str, poster_source: str, tries: int) -> PosterState:
    """The same partition as STATE_Q, for one row already loaded."""
    current = poster_source == poster_url
    if poster_key:
        return PosterState.STORED if current and tries == 0 else PosterState.OUTDATED
    if not poster_url:
        return PosterState.NONE
    if not current or tries == 0:
        return PosterState.PENDING
    return PosterState.RETRYING if tries < MAX_TRIES else PosterState.FAILED
