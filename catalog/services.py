"""Writes of the catalogue shared by ingest and the admin."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.db.models import F

from catalog import pagecache
from catalog.models import Anime


def bump_versions(*, anime_ids: Iterable[int]) -> None:
    """Mark anime as changed: page caches key on Anime.version (and list pages on the
    sum of versions), so what changed shows at once."""
    ids = {pk for pk in anime_ids if pk is not None}
    if ids:
        Anime.objects.filter(pk__in=ids).update(version=F("version") + 1)
    # Web processes keep versions and genres in memory (catalog/pagecache.py): tell them,
    # also when no anime is concerned (an admin renamed a genre no anime carries).
    pagecache.announce_change()


@transaction.atomic
def refetch_posters(*, anime_ids: Iterable[int]) -> list[int]:
    """Make the posters of ``anime_ids`` due again: the worker's next poster run fetches
    them whatever happened before (stored, given up). The copy shown stays until a new
    one is stored. Returns the anime concerned: those the origin gives a poster URL."""
    qs = Anime.objects.filter(pk__in=set(anime_ids)).exclude(poster_url="")
    ids = sorted(qs.select_for_update().values_list("pk", flat=True))
    Anime.objects.filter(pk__in=ids).update(poster_source="", poster_tries=0)
    return ids
