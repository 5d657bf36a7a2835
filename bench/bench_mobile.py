"""Bytes a phone downloads on its first visit to the home page; writes "## Mobile first
visit" in BENCHMARKS.md.

What it does (everything it starts it stops, on free ports and in a temporary folder):

1. starts the fake origin (its posters are real JPEGs, 400 x 566), crawls it into a
   private SQLite database with production settings (DEBUG off, collectstatic: hashed,
   compressed static files) and copies the posters (`manage.py fetch_posters`);
2. starts gunicorn with deploy/gunicorn.conf.py and nginx with deploy/nginx/nginx.conf
   (local ports and paths only: gzip as shipped, Brotli where this nginx has it); nginx
   proxies /media/ to Django here (Compose serves it from the volume: same bytes);
3. opens the home page in Debian's Chromium (Playwright) as a 390 px wide phone, at
   device pixel ratios 2 and 3, each in a fresh context (empty cache: a first visit),
   waits until the network is idle without scrolling (Chromium fetches the lazy posters
   near the screen by itself) and adds up what was transferred: response headers +
   encoded body of every request (service worker requests included).

The goal (issue 15): at most 150 kB. Run: `make bench` or
`.venv/bin/python bench/bench_mobile.py [--size 120] [--no-write]`. Needs Chromium
(CHROMIUM_PATH or /usr/bin/chromium), nginx and Playwright's Python package.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import mdsection

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

TITLE = "Mobile first visit"
GOAL_KB = 150
WIDTH, HEIGHT = 390, 844
CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
# For the figure after reading the whole page: every poster comes into view in turn.
SCROLL_TO_END = """async () => {
  const frame = () => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  for (const img of document.querySelectorAll('.poster img')) {
    img.scrollIntoView();
    await frame();
  }
}"""


@dataclass
class Visit:
    dpr: int
    scrolled: bool = False
    total: int = 0
    by_kind: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    foreign: list[str] = field(default_factory=list)
    poster_formats: set[str] = field(default_factory=set)


def _kind(resource_type: str, url: str) -> str:
    if "/media/posters/" in url:
        return "posters"
    return {"document": "html", "stylesheet": "css", "script": "js", "image": "other images"}.get(
        resource_type, "other"
    )


def visit(browser: object, site: str, dpr: int, *, scroll: bool = False) -> Visit:
    from urllib.parse import urlsplit

    result = Visit(dpr, scrolled=scroll)
    context = browser.new_context(  # type: ignore[attr-defined]
        viewport={"width": WIDTH, "height": HEIGHT},
        device_scale_factor=dpr,
        is_mobile=True,
        has_touch=True,
        locale="id-ID",
    )
    finished: list[object] = []

    # A def, not finished.append: Playwright tags its handlers with an attribute.
    def record(request: object) -> None:
        finished.append(request)

    context.on("requestfinished", record)
    page = context.new_page()
    page.goto(site + "/", wait_until="load")
    page.wait_for_load_state("networkidle")
    if scroll:
        page.evaluate(SCROLL_TO_END)
        page.wait_for_load_state("networkidle")
    for request in finished:
        sizes = request.sizes()  # type: ignore[attr-defined]
        size = sizes["responseHeadersSize"] + sizes["responseBodySize"]
        url = request.url  # type: ignore[attr-defined]
        kind = _kind(request.resource_type, url)  # type: ignore[attr-defined]
        result.total += size
        result.by_kind[kind] += size
        result.counts[kind] += 1
        if urlsplit(url).netloc != urlsplit(site).netloc and not url.startswith("data:"):
            result.foreign.append(url)
        if kind == "posters":
            result.poster_formats.add(url.rsplit(".", 1)[-1])
    context.close()
    return result


def measure(size: int) -> tuple[list[Visit], int]:
    from playwright.sync_api import sync_playwright

    from scraper.solver import CHROMIUM_ARGS
    from tests.edge_helpers import crawled_site_env, local_media_dir, local_nginx_conf
    from tests.fake_origin import FakeOrigin
    from tests.procs import free_port, manage, running, start_gunicorn, start_nginx

    with (
        tempfile.TemporaryDirectory(prefix="bench-mobile-") as tmp,
        FakeOrigin(seed=15, size=size) as origin,
    ):
        base = Path(tmp)
        # Posters where the shipped nginx serves them from (the media volume in Compose).
        env = crawled_site_env(base, origin.base_url, MEDIA_ROOT=str(local_media_dir(base)))
        manage(env, "fetch_posters")
        web = start_gunicorn(env, base)
        port = free_port()
        conf = local_nginx_conf(
            base, listen_port=port, web_port=web.port, static_dir=Path(env["STATIC_ROOT"])
        )
        with running(web, start_nginx(conf, base, port=port)):
            site = f"http://localhost:{port}"
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=str(CHROMIUM), args=list(CHROMIUM_ARGS))
                visits = [visit(browser, site, dpr) for dpr in (2, 3)]
                visits.append(visit(browser, site, 3, scroll=True))
                browser.close()
        cards = len(origin.truth.anime)
    return visits, cards


def kb(n: int) -> str:
    return f"{n / 1000:.1f} kB"


def report(visits: list[Visit], size: int) -> str:
    worst = max(v.total for v in visits if not v.scrolled)
    met = worst <= GOAL_KB * 1000
    kinds = ["html", "css", "js", "posters", "other images", "other"]
    rows = [
        "| Visit (device pixel ratio) | Total | " + " | ".join(kinds) + " | Poster files |",
        "|---|---|" + "---|" * len(kinds) + "---|",
    ]
    for v in visits:
        cells = [f"{kb(v.by_kind.get(k, 0))} ({v.counts.get(k, 0)})" for k in kinds]
        formats = ", ".join(sorted(v.poster_formats)) or "-"
        rows.append(
            f"| {'scrolled to the end, ' if v.scrolled else 'first screen, '}{v.dpr}x "
            f"| **{kb(v.total)}** | " + " | ".join(cells) + f" | {formats} |"
        )
    foreign = sorted({u for v in visits for u in v.foreign})
    return "\n".join(
        [
            f"## {TITLE}",
            "",
            (
                f"`bench/bench_mobile.py` on {platform.machine()}, {os.cpu_count()} cores "
                f"({mdsection.cpu_model()}), Python {platform.python_version()}. The home "
                f"page's first visit in Debian's Chromium as a {WIDTH} x {HEIGHT} phone "
                "(fresh context, empty cache, until the network is idle), through nginx "
                "(deploy/nginx/nginx.conf: gzip, Brotli where loaded) and gunicorn; "
                f"catalogue: the fake origin with {size} anime (posters: busy 400 x 566 "
                "JPEGs, about a real key visual's weight), copied by `fetch_posters` (WebP + "
                "JPEG at 180/270/360 px, portrait for cards, 16:10 for episode cards). "
                "Transferred = response headers + encoded body of every request the browser "
                "context saw; in brackets the number of requests. The last row: the "
                "same visit after scrolling past every poster (not part of the goal)."
            ),
            "",
            *rows,
            "",
            (
                f"Goal: at most {GOAL_KB} kB on the first screen: "
                f"{'met' if met else 'NOT met'} (worst {kb(worst)}). Requests to other "
                f"hosts: {', '.join(foreign) if foreign else 'none'}."
            ),
            "",
        ]
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=120, help="anime in the fake origin")
    parser.add_argument("--no-write", action="store_true", help="print, do not write")
    args = parser.parse_args()
    if not CHROMIUM.exists():
        print(f"skipped: {CHROMIUM} is not installed")
        return 0
    from tests.procs import NGINX

    if NGINX is None:
        print("skipped: nginx is not installed")
        return 0
    visits, size = measure(args.size)
    section = report(visits, size)
    print(section)
    if not args.no_write:
        mdsection.write_section(TITLE, section, mdsection.OUTPUT)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
