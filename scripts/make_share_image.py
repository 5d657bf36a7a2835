"""Draw the site's share picture (static/img/share.jpg, 1200 x 630: the size share cards
show large) in the site's look: the dark background, the app icon, the name and the line
of the home page. Pages without a poster of their own share it (catalog/seo.py).

Run once when the look changes: `.venv/bin/python scripts/make_share_image.py`; the JPEG
is committed. Needs the DejaVu fonts (Debian's fonts-dejavu-core) and static/img/icon-512.png
(scripts/make_icons.py).
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

OUT = Path(__file__).resolve().parent.parent / "static" / "img"
FONTS = Path("/usr/share/fonts/truetype/dejavu")
SIZE = (1200, 630)
BG, BG_2 = (0x0F, 0x11, 0x17), (0x2B, 0x21, 0x42)  # site.css --bg and the poster gradient
TEXT, MUTED, PINK = (0xE8, 0xEA, 0xF0), (0x9A, 0xA1, 0xB4), (0xFF, 0x5C, 0x8A)
TAGLINE = "Nonton anime subtitle Indonesia"


def _background() -> Image.Image:
    width, height = SIZE
    image = Image.new("RGB", SIZE)
    pixels = image.load()
    for y in range(height):
        for x in range(width):
            t = (x / width + y / height) / 2
            pixels[x, y] = tuple(round(a + (b - a) * t) for a, b in zip(BG, BG_2, strict=True))
    return image


def draw() -> Image.Image:
    image = _background()
    icon = Image.open(OUT / "icon-512.png").convert("RGBA")
    icon = icon.resize((220, 220), Image.Resampling.LANCZOS)
    image.paste(icon, (110, 205), icon)
    pen = ImageDraw.Draw(image)
    bold = ImageFont.truetype(str(FONTS / "DejaVuSans-Bold.ttf"), 120)
    regular = ImageFont.truetype(str(FONTS / "DejaVuSans.ttf"), 44)
    x, y = 380, 215
    pen.text((x, y), "otaku", font=bold, fill=TEXT)
    pen.text((x + pen.textlength("otaku", font=bold), y), "site", font=bold, fill=PINK)
    pen.text((x + 6, y + 150), TAGLINE, font=regular, fill=MUTED)
    return image


def main() -> None:
    draw().save(OUT / "share.jpg", quality=85, optimize=True, progressive=True)


if __name__ == "__main__":
    main()
