"""Raster posters of the fake origin: a JPEG drawn with Pillow for every upload path,
the same bytes for the same path (an anime's poster is deterministic), so the poster
pipeline (scraper/posters.py) and the demo work on real pictures offline."""

from __future__ import annotations

import functools
import hashlib
import io

from PIL import Image, ImageDraw

from . import markup

# The origin's posters are about this size (its detail pages say 225 x 318 and larger).
SIZE = (400, 566)


@functools.lru_cache(maxsize=512)
def poster_jpeg(path: str) -> bytes:
    """A gradient in colours derived from ``path``, a few shapes and the file's name."""
    digest = hashlib.sha1(path.encode(), usedforsecurity=False).digest()
    top = (digest[0], digest[1] // 2, 255 - digest[0])
    bottom = (digest[2] // 3, digest[3], digest[4] // 2)
    width, height = SIZE
    image = Image.new("RGB", SIZE)
    draw = ImageDraw.Draw(image)
    for y in range(height):
        t = y / (height - 1)
        draw.line(
            [(0, y), (width, y)],
            fill=tuple(round(a + (b - a) * t) for a, b in zip(top, bottom, strict=True)),
        )
    for i in range(3):
        cx, cy = 40 + digest[5 + i] * (width - 80) // 255, 60 + digest[8 + i] * 300 // 255
        r = 30 + digest[11 + i] % 70
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=(255, 255, 255), outline=None)
    name = path.rsplit("/", 1)[-1].rsplit(".", 1)[0].replace("-", " ")[:28]
    draw.rectangle([0, height - 70, width, height], fill=(10, 10, 20))
    draw.text((16, height - 50), name, fill=(255, 255, 255), font_size=22)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def answer(path: str, failing: int | None) -> tuple[int, bytes, str]:
    """(status, body, content type) of an upload: a JPEG poster for ``.jpg`` paths, the
    generated SVG for other pictures (logos), an error page for a path set failing."""
    if failing is not None:
        return failing, f"<h1>Error {failing}</h1>".encode(), "text/html; charset=UTF-8"
    if path.lower().endswith((".jpg", ".jpeg")):
        return 200, poster_jpeg(path), "image/jpeg"
    return 200, markup.render_poster(path).encode(), "image/svg+xml"
