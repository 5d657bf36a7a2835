"""Posters copied to our domain, in the worker: fetched once through the scraper's client
(its request budget, retries and allowlist), resized to the widths the pages show
(catalog/posters.py) and stored as WebP and JPEG under MEDIA_ROOT.

Runs after a crawl (a django-q2 task queued by ``crawl_task``) and from ``manage.py
fetch_posters``; never in a viewer's request, and never inside ingest: a poster that
fails leaves the anime as ingest stored it (the pages show the placeholder). An anime is
tried again by later runs at most ``MAX_TRIES`` times in a row; a 404 or an undecodable
image gives up at once, until the origin shows another poster URL.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from django.db.models import F, Q, QuerySet
from PIL import Image, ImageOps, UnidentifiedImageError

from catalog import posters
from catalog.models import Anime
from catalog.poster_state import FETCH_TASK, MAX_TRIES
from catalog.safe_urls import url_host
from catalog.services import bump_versions
from scraper import locks
from scraper.client import ClientError, NotFound, OriginClient
from scraper.client_factory import make_client

__all__ = [
    "MAX_TRIES",
    "PosterRun",
    "encode",
    "fetch_pending",
    "fetch_posters_task",
    "prune_unused",
    "queue_after_crawl",
]

logger = logging.getLogger("scraper.posters")

MAX_BYTES = 8 * 1024 * 1024
MAX_PIXELS = 25_000_000  # far above any poster; refuses decompression bombs early
ACCEPTED_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "GIF"})
# Thumbnails on phones: q60 WebP keeps a detailed 360 px poster near 19 kB (q70: 21 kB).
WEBP_QUALITY = 60
JPEG_QUALITY = 72
# Part of the files' hash: a change of sizes, shapes or quality gives new names (and URLs).
ENCODING = f"v2:{posters.WIDTHS}:{posters.SHAPES}:{WEBP_QUALITY}:{JPEG_QUALITY}"
# Every file of a poster: (width, format, shape).
FILES = [
    (w, ext, shape) for shape in posters.SHAPES for w in posters.WIDTHS for ext in posters.FORMATS
]
LOCK_NAME = "posters"
# Files of a poster no anime shows any more (its poster changed) are deleted after this
# long: cached and stale copies of pages (STALE_* settings) may still point at them.
PRUNE_AFTER_SECONDS = 14 * 24 * 3600


class BadImage(ValueError):  # noqa: N818 -- reads better at the call sites
    """The origin's answer is not a picture we can use."""


@dataclass
class PosterRun:
    stored: int = 0
    failed: int = 0
    given_up: int = 0
    pruned: int = 0
    errors: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"{self.stored} stored, {self.failed} failed, {self.given_up} given up, "
            f"{self.pruned} unused files deleted"
        )


def encode(data: bytes) -> dict[tuple[int, str, str], bytes]:
    """(width, "webp"|"jpg", shape) -> the poster cropped to the shape's aspect ratio at
    that width. Raises BadImage for anything that is not a sane raster image."""
    if len(data) > MAX_BYTES:
        raise BadImage(f"image too large ({len(data)} bytes)")
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format not in ACCEPTED_FORMATS:
                raise BadImage(f"not a poster format: {image.format}")
            if image.width * image.height > MAX_PIXELS or min(image.size) < 1:
                raise BadImage(f"unreasonable size {image.size}")
            image.seek(0)  # the first frame of an animated GIF/WebP
            picture = ImageOps.exif_transpose(image).convert("RGB")
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise BadImage(f"undecodable image: {exc}") from exc
    result: dict[tuple[int, str, str], bytes] = {}
    for width, ext, shape in FILES:
        size = (width, posters.height_for(width, shape))
        # Cropped around the upper middle: faces sit there on posters.
        resized = ImageOps.fit(picture, size, method=Image.Resampling.LANCZOS, centering=(0.5, 0.4))
        out = io.BytesIO()
        if ext == "webp":
            resized.save(out, "WEBP", quality=WEBP_QUALITY, method=6)
        else:
            resized.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True)
        result[(width, ext, shape)] = out.getvalue()
    return result


def poster_key(data: bytes) -> str:
    return hashlib.sha256(ENCODING.encode() + b"\0" + data).hexdigest()[:20]


def _write_atomic(path: Path, data: bytes) -> None:
    # Written aside and renamed: nginx never serves half a file.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o644)  # noqa: PTH101 -- the fd is closed; nginx reads as another user
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def store(data: bytes) -> str:
    """Encode and write every size of the poster ``data``; returns its key."""
    key = poster_key(data)
    files = {spec: posters.file_path(key, *spec) for spec in FILES}
    if all(path.exists() for path in files.values()):
        return key  # the same picture (another anime's, or fetched before)
    encoded = encode(data)
    posters.poster_dir().mkdir(parents=True, exist_ok=True)
    for spec, path in files.items():
        _write_atomic(path, encoded[spec])
    return key


def pending(limit: int | None = None, anime_ids: Sequence[int] | None = None) -> QuerySet[Anime]:
    """Anime whose poster URL has no stored copy yet (or changed), with tries left; only
    those of ``anime_ids`` when given (the admin's "ambil ulang poster")."""
    new_url = ~Q(poster_source=F("poster_url"))
    # Failed before (a new URL while an older copy is shown, or no copy yet), tries left.
    retry = Q(poster_tries__gt=0, poster_tries__lt=MAX_TRIES) | Q(
        poster_key="", poster_tries__lt=MAX_TRIES
    )
    qs = Anime.objects.exclude(poster_url="").filter(new_url | retry).order_by("-updated_at", "id")
    if anime_ids is not None:
        qs = qs.filter(pk__in=anime_ids)
    qs = qs.only("id", "poster_url", "poster_key", "poster_source", "poster_tries")
    return qs[:limit] if limit else qs


def fetch_one(client: OriginClient, anime: Anime) -> bool:
    """Fetch, store and record ``anime``'s poster; False (recorded) when it failed."""
    url = anime.poster_url
    tries = 0 if anime.poster_source != url else anime.poster_tries
    host = url_host(url)
    try:
        if host is None:
            raise BadImage("not an http(s) URL")
        # The poster's host is one the origin's page points to: allowed for this fetch.
        client.allow_host(host)
        key = store(client.fetch_image(url).content)
    except (NotFound, BadImage) as exc:
        _record(anime, url, key=None, tries=MAX_TRIES)
        logger.warning("poster of %s given up: %s", anime.pk, exc)
        raise
    except ClientError as exc:
        _record(anime, url, key=None, tries=tries + 1)
        logger.warning("poster of %s failed (try %d): %s", anime.pk, tries + 1, exc)
        raise
    _record(anime, url, key=key, tries=0)
    return True


def _record(anime: Anime, url: str, *, key: str | None, tries: int) -> None:
    values: dict[str, object] = {"poster_source": url, "poster_tries": tries}
    if key is not None:
        values["poster_key"] = key
    # Only if ingest has not changed the poster URL meanwhile; the old copy stays shown
    # while a new URL fails.
    done = Anime.objects.filter(pk=anime.pk, poster_url=url).update(**values)
    if done and key is not None and key != anime.poster_key:
        bump_versions(anime_ids=[anime.pk])


def fetch_pending(
    *,
    client: OriginClient | None = None,
    limit: int | None = None,
    anime_ids: Sequence[int] | None = None,
) -> PosterRun:
    """Fetch every pending poster (one run at a time: a second one returns at once)."""
    run = PosterRun()
    lock = locks.acquire(LOCK_NAME)
    if lock is None:
        logger.info("posters: another run is fetching")
        return run
    own_client = client is None
    active = client or make_client()
    try:
        for anime in pending(limit, anime_ids):
            lock.refresh()
            try:
                fetch_one(active, anime)
            except (NotFound, BadImage) as exc:
                run.given_up += 1
                run.errors.append(f"{anime.pk}: {exc}")
            except ClientError as exc:
                run.failed += 1
                run.errors.append(f"{anime.pk}: {exc}")
            else:
                run.stored += 1
        run.pruned = prune_unused()
    finally:
        lock.release()
        if own_client:
            active.close()
    logger.info("posters: %s", run)
    return run


def prune_unused(*, older_than: float = PRUNE_AFTER_SECONDS) -> int:
    """Delete poster files (and leftovers of an interrupted write) that no anime names,
    once older than ``older_than`` seconds; returns how many were deleted."""
    directory = posters.poster_dir()
    if not directory.is_dir():
        return 0
    used = set(Anime.objects.exclude(poster_key="").values_list("poster_key", flat=True))
    cutoff = time.time() - older_than
    deleted = 0
    for path in directory.iterdir():
        key = posters.key_of(path.name)
        unused = key not in used if key else path.name.startswith(".tmp-")
        try:
            if unused and path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink()
                deleted += 1
        except OSError:
            logger.warning("posters: could not prune %s", path, exc_info=True)
    return deleted


def fetch_posters_task(limit: int | None = None, anime_ids: list[int] | None = None) -> str:
    """django-q2 task (``catalog.poster_state.FETCH_TASK``): fetch pending posters, or
    those of ``anime_ids`` only; returns the run's summary."""
    return str(fetch_pending(limit=limit, anime_ids=anime_ids))


def queue_after_crawl() -> None:
    """Queue the poster task after a crawl when a poster waits; a failure to queue is
    logged, never raised (the crawl's data is stored either way; the next crawl queues
    it again)."""
    try:
        from django_q.tasks import async_task

        if not pending(1).exists():
            return
        async_task(FETCH_TASK, task_name="posters")
    except Exception:
        logger.exception("posters: could not queue the poster task")
