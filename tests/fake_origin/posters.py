"""Raster posters of the fake origin: a JPEG drawn with Pillow for every upload path,
the same bytes for the same path (an anime's poster is deterministic), so the poster
pipeline (scraper/posters.py) and the demo work on real pictures offline."""

from __future__ import annotations

import functools
import hashlib
import io
import random

from PIL import Image, ImageDraw, ImageFilter

from . import markup

# The origin's posters are about this size (its detail pages say 225 x 318 and larger).
SIZE = (400, 566)


@functools.lru_cache(maxsize=512)
def poster_jpeg(path: str) -> bytes:
    """Colours and shapes drawn from a hash of ``path``, with the file's name at the bottom.
    As busy as a real key visual (hard edges, many colours): a re-encoded 360 px WebP
    weighs about what a real poster's does (~19 kB), so the mobile benchmark is honest."""
    rng = random.Random(hashlib.sha1(path.encode(), usedforsecurity=False).digest())
    width, height = SIZE
    top, bottom = _colour(rng), _colour(rng)
    image = Image.new("RGB", SIZE)
    draw = ImageDraw.Draw(image)
    for y in range(height):
        t = y / (height - 1)
        shade = tuple(round(a + (b - a) * t) for a, b in zip(top, bottom, strict=True))
        draw.line([(0, y), (width, y)], fill=shade)
    for _ in range(40):
        corners = rng.randrange(3, 7)
        points = [(rng.randrange(-50, width + 50), rng.randrange(-50, height + 50))] * corners
        points = [(x + rng.randrange(-150, 150), y + rng.randrange(-150, 150)) for x, y in points]
        draw.polygon(points, fill=_colour(rng))
    for _ in range(25):
        cx, cy, r = rng.randrange(width), rng.randrange(height), rng.randrange(10, 90)
        draw.ellipse(
            [cx - r, cy - r, cx + r, cy + r], fill=_colour(rng), outline=_colour(rng), width=3
        )
    for _ in range(400):  # strokes: the fine detail of hair and backgrounds
        x, y = rng.randrange(width), rng.randrange(height)
        end = (x + rng.randrange(-60, 60), y + rng.randrange(-60, 60))
        draw.line([(x, y), end], fill=_colour(rng), width=rng.randrange(1, 3))
    image = image.filter(ImageFilter.GaussianBlur(0.8))
    draw = ImageDraw.Draw(image)
    name = path.rsplit("/", 1)[-1].rsplit(".", 1)[0].replace("-", " ")[:28]
    draw.rectangle([0, height - 70, width, height], fill=(10, 10, 20))
    draw.text((16, height - 50), name, fill=(255, 255, 255), font_size=22)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def _colour(rng: random.Random) -> tuple[int, int, int]:
    return (rng.randrange(256), rng.randrange(256), rng.randrange(256))


def answer(path: str, failing: int | None) -> tuple[int, bytes, str]:
    """(status, body, content type) of an upload: a JPEG poster for ``.jpg`` paths, the
    generated SVG for other pictures (logos), an error page for a path set failing."""
    if failing is not None:
        return failing, f"<h1>Error {failing}</h1>".encode(), "text/html; charset=UTF-8"
    if path.lower().endswith((".jpg", ".jpeg")):
        return 200, poster_jpeg(path), "image/jpeg"
    return 200, markup.render_poster(path).encode(), "image/svg+xml"
