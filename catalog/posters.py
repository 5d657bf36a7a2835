"""Posters on our own domain: the sizes the pages show, the files' names and URLs, and the
view that serves them (nginx serves the same directory in Compose).

The worker (scraper/posters.py) fetches an anime's poster once from the origin and writes
one WebP and one JPEG per width, named by a hash of the picture: a URL never changes its
bytes, so browsers and nginx may keep them for a year (``immutable``). An anime without
a stored poster shows the placeholder (the card's gradient with the title's initial):
pages never point at the origin's image host, which Indonesian ISPs sometimes block.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Protocol

from django.conf import settings
from django.http import FileResponse, Http404, HttpRequest

# Shapes the pages show: "p" the cards' portrait (225 x 320, as on the origin and in
# site.css), "w" the episode cards' wide crop (16:10): a portrait sent for a wide card would
# be cropped by the browser after travelling at twice the pixels.
SHAPES = {"p": (225, 320), "w": (16, 10)}
ASPECT = SHAPES["p"]
# Widths in pixels: a card is ~180 CSS px wide on a 390 px phone (2 columns) and 200 px on
# the desktop anime page; 360 covers both at 2x without sending more than a screen needs.
WIDTHS = (180, 270, 360)
FORMATS = {"webp": "image/webp", "jpg": "image/jpeg"}
# What a card takes on screen, by the grid's breakpoints in site.css.
CARD_SIZES = "(min-width: 1200px) 180px, (min-width: 900px) 22vw, (min-width: 600px) 31vw, 46vw"
WIDE_SIZES = "(min-width: 1200px) 24vw, (min-width: 600px) 31vw, 46vw"
DETAIL_SIZES = "(min-width: 600px) 200px, 120px"
SUBDIR = "posters"
MAX_AGE = 365 * 24 * 3600

_KEY = re.compile(r"^[0-9a-f]{16,32}$")
_NAME = re.compile(r"^(?P<key>[0-9a-f]{16,32})-(?P<shape>w?)(?P<width>\d{2,4})\.(?P<ext>webp|jpg)$")


class HasPoster(Protocol):
    poster_key: str


def height_for(width: int, shape: str = "p") -> int:
    ratio_w, ratio_h = SHAPES[shape]
    return round(width * ratio_h / ratio_w)


def file_name(key: str, width: int, ext: str, shape: str = "p") -> str:
    return f"{key}-{'' if shape == 'p' else shape}{width}.{ext}"


def poster_dir() -> Path:
    return Path(settings.MEDIA_ROOT) / SUBDIR


def file_path(key: str, width: int, ext: str, shape: str = "p") -> Path:
    return poster_dir() / file_name(key, width, ext, shape)


def url(key: str, width: int, ext: str, shape: str = "p") -> str:
    return f"{settings.MEDIA_URL}{SUBDIR}/{file_name(key, width, ext, shape)}"


def srcset(key: str, ext: str, shape: str = "p") -> str:
    return ", ".join(f"{url(key, w, ext, shape)} {w}w" for w in WIDTHS)


def poster_src(anime: HasPoster, width: int = WIDTHS[0], ext: str = "jpg") -> str:
    """Our URL of ``anime``'s poster (a JPEG: every browser and push service reads it),
    or "" when none is stored yet."""
    key = anime.poster_key
    return url(key, width, ext) if key and _KEY.match(key) else ""


def key_of(name: str) -> str | None:
    """The poster key of a stored file's name, or None if it is not named like one."""
    match = _NAME.match(name)
    return match["key"] if match else None


def serve(request: HttpRequest, name: str) -> FileResponse:
    """A stored poster file; anything not named like one, or missing, is a 404."""
    match = _NAME.match(name)
    if match is None or int(match["width"]) not in WIDTHS:
        raise Http404("no such poster")
    path = poster_dir() / name
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise Http404("no such poster") from exc
    response = FileResponse(handle, content_type=FORMATS[match["ext"]])
    response["Cache-Control"] = f"public, max-age={MAX_AGE}, immutable"
    response["X-Content-Type-Options"] = "nosniff"
    return response
