"""Parser benchmark on the real captured pages; writes the "## Parsers" section of BENCHMARKS.md.

Information, not a goal: for each page the bare `LexborHTMLParser(html)` parse, our parser
(parse + extraction), and the same extraction written with BeautifulSoup (the common choice
of peer scrapers), set against the time the client waits between two requests to the origin
(1 / SCRAPER_RATE_LIMIT). Other engineers benchmark on the same 2-core machine at the same
time: CPU time of this process only, functions interleaved, medians reported with the
10th–90th percentile spread (see `interleaved_times`).

Run: `make bench` or `.venv/bin/python bench/bench_parsers.py`; `--kinds detail,episode` or
`--pages episode` times only some pages and prints the table without writing BENCHMARKS.md,
which only a full run rewrites.
"""

from __future__ import annotations

import argparse
import base64
import functools
import json
import os
import platform
import re
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mdsection

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import selectolax  # noqa: E402
from selectolax.lexbor import LexborHTMLParser  # noqa: E402

from scraper.parsers import PARSERS  # noqa: E402

try:
    import bs4
    from bs4 import BeautifulSoup
except ImportError:  # dev-only dependency
    bs4 = None

PAGES = REPO.parent / "shared" / "otakudesu-pages"
OUTPUT = REPO / "BENCHMARKS.md"
ORIGIN = "https://otakudesu.best"

# file → (kind, URL it was captured from)
CASES: list[tuple[str, str, str]] = [
    ("home--illhm.html", "home", f"{ORIGIN}/"),
    ("home--rizkyhaksono-be.html", "home", "https://otakudesu.blog/"),
    ("ongoing--illhm.html", "ongoing", f"{ORIGIN}/ongoing-anime/"),
    ("anime-list--illhm.html", "anime-list", f"{ORIGIN}/anime-list/"),
    ("genre-list--illhm.html", "genre-list", f"{ORIGIN}/genre-list/"),
    ("genre-romance--illhm.html", "genre", f"{ORIGIN}/genres/romance/"),
    ("genre-romance-page2--illhm.html", "genre", f"{ORIGIN}/genres/romance/page/2/"),
    ("schedule--illhm.html", "schedule", f"{ORIGIN}/jadwal-rilis/"),
    ("detail-oshi-ko-s3--illhm.html", "detail", f"{ORIGIN}/anime/oshi-ko-s3-sub-indo/"),
    (
        "detail-shibou-yuugi--illhm.html",
        "detail",
        f"{ORIGIN}/anime/shibou-yuugi-meshi-kuu-sub-indo/",
    ),
    ("episode-onk-s3-ep1--illhm.html", "episode", f"{ORIGIN}/episode/onk-s3-episode-1-sub-indo/"),
    ("episode-onk-s3-ep2--illhm.html", "episode", f"{ORIGIN}/episode/onk-s3-episode-2-sub-indo/"),
]


@dataclass(frozen=True)
class Timing:
    """Per-call CPU times of the functions of one page and their ratios to the first one."""

    per_call: list[float]  # seconds, median over the repetitions, one per function
    ratios: list[list[float]]  # per function: its time / the first function's, per repetition


def interleaved_times(
    fns: list[Callable[[], Any]], repetitions: int, chunk: float = 0.002
) -> Timing:
    """Time `fns` against each other on a shared, noisy machine.

    Each repetition runs every function for about `chunk` seconds, one right after the other
    (the order rotates so none always runs first), and measures the process's CPU time
    (`time.process_time_ns`): time spent waiting while other processes hold the cores is not
    counted. The ratio to the first function is taken within each repetition, so a burst of
    load (caches and memory bandwidth are still shared) hits both sides of a ratio alike, and
    the median over the repetitions drops the remaining outliers.
    """
    clock = time.process_time_ns
    loops = []
    for fn in fns:
        fn()  # warm-up: imports, compiled regexes
        start = time.perf_counter()
        fn()
        once = max(time.perf_counter() - start, 1e-6)
        loops.append(max(1, round(chunk / once)))
    samples: list[list[float]] = [[] for _ in fns]
    for repetition in range(repetitions):
        shift = repetition % len(fns)
        for index in [*range(shift, len(fns)), *range(shift)]:
            fn, count = fns[index], loops[index]
            start_ns = clock()
            for _ in range(count):
                fn()
            samples[index].append((clock() - start_ns) / 1e9 / count)
    ratios = [
        [mine / base for mine, base in zip(series, samples[0], strict=True) if base > 0]
        for series in samples
    ]
    return Timing(per_call=[statistics.median(series) for series in samples], ratios=ratios)


def spread(values: list[float]) -> tuple[float, float, float]:
    """(10th percentile, median, 90th percentile)."""
    deciles = statistics.quantiles(values, n=10, method="inclusive")
    return deciles[0], statistics.median(values), deciles[-1]


# --------------------------------------------------------------------------- BeautifulSoup


def bs4_detail(html: str) -> dict[str, Any]:
    """The detail extraction done the usual peer way with BeautifulSoup (label-matched)."""
    soup = BeautifulSoup(html, "html.parser")
    info = soup.select_one(".infozingle")
    rows: dict[str, str] = {}
    genres: list[tuple[str, str]] = []
    for span in info.select("p span") if info else []:
        bold = span.find("b")
        if bold is None:
            continue
        label = bold.get_text(strip=True).lower()
        rows[label] = span.get_text(" ", strip=True).split(":", 1)[-1].strip()
        if label == "genre":
            genres = [(a["href"].rstrip("/").rsplit("/", 1)[-1], a.get_text()) for a in span("a")]
    episodes = []
    for block in soup.select(".episodelist"):
        for li in block.select("li"):
            link = li.find("a")
            date = li.select_one(".zeebr")
            if link is not None:
                episodes.append(
                    (link["href"], link.get_text(strip=True), date.get_text() if date else "")
                )
    synopsis = "\n\n".join(p.get_text(strip=True) for p in soup.select(".sinopc p"))
    poster = soup.select_one(".fotoanime img")
    return {
        "rows": rows,
        "genres": genres,
        "episodes": episodes,
        "synopsis": synopsis,
        "poster": poster.get("src") if poster else None,
    }


def bs4_episode(html: str) -> dict[str, Any]:
    soup = BeautifulSoup(html, "html.parser")
    title = soup.select_one("h1.posttl")
    iframe = soup.select_one("#pembed iframe")
    mirrors = []
    for ul in soup.select(".mirrorstream ul"):
        quality = " ".join(ul.get("class", []))
        for link in ul.select("a[data-content]"):
            token = json.loads(base64.b64decode(link["data-content"]))
            mirrors.append((quality, link.get_text(strip=True), token))
    downloads = []
    for li in soup.select(".download li"):
        label = li.find("strong")
        size = li.find("i")
        for link in li.find_all("a"):
            downloads.append(
                (
                    label.get_text(strip=True) if label else "",
                    link.get_text(strip=True),
                    link.get("href"),
                    size.get_text(strip=True) if size else None,
                )
            )
    nav = [(a.get("title"), a.get("href")) for a in soup.select(".flir a")]
    script = next((s.string for s in soup("script") if s.string and "admin-ajax" in s.string), "")
    actions = re.findall(r'action:"([^"]+)"', script or "")
    return {
        "title": title.get_text(strip=True) if title else "",
        "iframe": iframe.get("src") if iframe else None,
        "mirrors": mirrors,
        "downloads": downloads,
        "nav": nav,
        "actions": actions,
    }


def bs4_cards(html: str) -> list[tuple[str, str]]:
    soup = BeautifulSoup(html, "html.parser")
    cards = []
    for li in soup.select(".venz ul li"):
        link = li.select_one(".thumb a")
        title = li.select_one(".jdlflm")
        epz, tipe, date = (li.select_one(s) for s in (".epz", ".epztipe", ".newnime"))
        cards.append(
            (
                link["href"] if link else "",
                title.get_text(strip=True) if title else "",
                epz.get_text(strip=True) if epz else "",
                tipe.get_text(strip=True) if tipe else "",
                date.get_text(strip=True) if date else "",
            )
        )
    return cards


BS4_EXTRACTORS: dict[str, Callable[[str], Any]] = {
    "detail": bs4_detail,
    "episode": bs4_episode,
    "home": bs4_cards,
    "ongoing": bs4_cards,
}


# --------------------------------------------------------------------------- report


REPETITIONS = 41
# The client's wait between two requests to one origin host (settings.SCRAPER_RATE_LIMIT).
RATE_LIMIT = float(os.environ.get("SCRAPER_RATE_LIMIT", "2"))


def selected(cases: list[tuple[str, str, str]], kinds: set[str], pages: list[str]) -> list[str]:
    """File names of the cases of `kinds` whose name contains one of `pages` (empty: all)."""
    return [
        name
        for name, kind, _url in cases
        if (not kinds or kind in kinds) and (not pages or any(part in name for part in pages))
    ]


def run(only: list[str] | None = None) -> str:
    """The section's text; `only` (file names) times just those pages."""
    cases = [case for case in CASES if only is None or case[0] in only]
    interval_ms = 1000 / RATE_LIMIT
    lines = [
        "## Parsers",
        "",
        "`bench/bench_parsers.py` on the real pages in `../shared/otakudesu-pages/` "
        f"(Python {platform.python_version()}, selectolax {selectolax.__version__} Lexbor"
        + (f", beautifulsoup4 {bs4.__version__} with html.parser" if bs4 else "")
        + f", {platform.machine()}, {os.cpu_count()} cores shared with other engineers' runs). "
        f"CPU time per call (`time.process_time`), median of {REPETITIONS} repetitions; in "
        "each repetition the functions run back to back (order rotating) for about 2 ms each.",
        "",
        (
            '"bare parse" is `LexborHTMLParser(html)` alone; "parser" is our full parse + '
            'extraction, and "× bare" its time over the bare parse (median, 10th–90th '
            'percentile in brackets). "BeautifulSoup" is the same extraction written the peer '
            "way with `BeautifulSoup(html, 'html.parser')` (detail, episode and card pages "
            'only). "of the wait" is the parser\'s time as a share of the '
            f"{interval_ms:.0f} ms the client waits between two requests to the origin "
            f"(`SCRAPER_RATE_LIMIT={RATE_LIMIT:g}`)."
        ),
        "",
        (
            "| page | kind | size | bare parse | parser | × bare (p10–p90) | BeautifulSoup "
            "| of the wait |"
        ),
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    page_ms: dict[str, float] = {}
    for name, kind, url in cases:
        path = PAGES / name
        if not path.exists():
            continue
        html = path.read_text(encoding="utf-8")
        extractor = BS4_EXTRACTORS.get(kind) if bs4 is not None else None
        bare_fn = functools.partial(LexborHTMLParser, html)
        ours_fn = functools.partial(PARSERS[kind], html, url)
        # The 800 kB A–Z list takes ~30 ms a call: fewer repetitions keep the run short.
        repetitions = 15 if kind == "anime-list" else REPETITIONS
        timing = interleaved_times([bare_fn, ours_fn], repetitions)
        bare, ours = timing.per_call
        low, ratio, high = spread(timing.ratios[1])
        soup_cell = "–"
        if extractor is not None:
            soup = interleaved_times([ours_fn, functools.partial(extractor, html)], repetitions)
            soup_cell = f"{soup.per_call[1] * 1e3:.2f} ms"
        page_ms[kind if kind == "anime-list" else name] = ours * 1e3
        lines.append(
            f"| {name} | {kind} | {len(html.encode()) / 1024:.0f} kB | {bare * 1e3:.2f} ms "
            f"| {ours * 1e3:.2f} ms | {ratio:.2f}× ({low:.2f}–{high:.2f}) | {soup_cell} "
            f"| {ours * 1e3 / interval_ms:.2%} |"
        )
    return "\n".join(lines + cost_note(page_ms, interval_ms)) + "\n"


def cost_note(page_ms: dict[str, float], interval_ms: float) -> list[str]:
    """What parsing costs a crawl: the per-page times against the wait between requests."""
    pages = [ms for key, ms in page_ms.items() if key != "anime-list"]
    if not pages:
        return []
    low, high = min(pages), max(pages)
    note = (
        f"What parsing costs a crawl: {low:.2f}–{high:.2f} ms a page against {interval_ms:.0f} "
        f"ms between two requests, {low / interval_ms:.1%}–{high / interval_ms:.1%} of the "
        "crawl's time"
    )
    if "anime-list" in page_ms:
        note += f" (the 784 kB A–Z list, fetched once a crawl: {page_ms['anime-list']:.0f} ms)"
    note += (
        ". The request budget, not the parser, sets a crawl's pace, so the parsers are written "
        "to be read, not to save microseconds; this table is information, not a goal."
    )
    return ["", note]


def write_section(section: str) -> None:
    mdsection.write_section("Parsers", section, OUTPUT)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=(
            "Time the otakudesu parsers against a bare LexborHTMLParser parse on the captured "
            "pages. A full run rewrites the Parsers section of BENCHMARKS.md."
        )
    )
    parser.add_argument(
        "--kinds",
        default="",
        help="comma-separated page kinds to time (e.g. detail,episode); does not write the file",
    )
    parser.add_argument(
        "--pages",
        default="",
        help="comma-separated parts of page file names to time; does not write the file",
    )
    args = parser.parse_args(argv)
    if not PAGES.is_dir():
        print(f"skipped: {PAGES} is absent")
        return 0
    kinds = {kind for kind in args.kinds.split(",") if kind}
    parts = [part for part in args.pages.split(",") if part]
    if kinds or parts:
        only = selected(CASES, kinds, parts)
        if not only:
            parser.error("no captured page matches --kinds/--pages")
        print(run(only))
        print("(partial run: BENCHMARKS.md left as it is)")
        return 0
    section = run()
    print(section)
    write_section(section)
    print(f"wrote the Parsers section of {OUTPUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
