"""Draw the app icons (static/img/icon-*.png) in the look of static/img/icon.svg.

Run once when the icon changes: `.venv/bin/python scripts/make_icons.py`; the PNGs are
committed. Pillow has no SVG renderer, so the SVG's three shapes are drawn again here: the
pink-to-violet diagonal gradient, the rounded square (rx 16 of 64) and the white play
triangle (25,19 -> 25,45 -> 46,32). The maskable icon fills its square edge to edge (the
platform cuts its own shape); the triangle already sits inside the 80 % safe zone.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

OUT = Path(__file__).resolve().parent.parent / "static" / "img"
PINK = (0xFF, 0x5C, 0x8A)
VIOLET = (0x7C, 0x5C, 0xFF)
SUPERSAMPLE = 4


def _gradient(size: int) -> Image.Image:
    image = Image.new("RGB", (size, size))
    pixels = image.load()
    for y in range(size):
        for x in range(size):
            t = (x + y) / (2 * (size - 1))
            pixels[x, y] = tuple(round(a + (b - a) * t) for a, b in zip(PINK, VIOLET, strict=True))
    return image


def draw(size: int, *, maskable: bool) -> Image.Image:
    big = size * SUPERSAMPLE
    unit = big / 64
    image = _gradient(big).convert("RGBA")
    if not maskable:
        mask = Image.new("L", (big, big), 0)
        ImageDraw.Draw(mask).rounded_rectangle((0, 0, big - 1, big - 1), radius=16 * unit, fill=255)
        image.putalpha(mask)
    triangle = [(25 * unit, 19 * unit), (25 * unit, 45 * unit), (46 * unit, 32 * unit)]
    ImageDraw.Draw(image).polygon(triangle, fill=(255, 255, 255, 255))
    return image.resize((size, size), Image.Resampling.LANCZOS)


def main() -> None:
    draw(192, maskable=False).save(OUT / "icon-192.png", optimize=True)
    draw(512, maskable=False).save(OUT / "icon-512.png", optimize=True)
    draw(512, maskable=True).save(OUT / "icon-maskable-512.png", optimize=True)
    draw(180, maskable=True).convert("RGB").save(OUT / "apple-touch-icon.png", optimize=True)


if __name__ == "__main__":
    main()
