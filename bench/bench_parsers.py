"""Parser benchmark on the real captured pages; writes the "## Parsers" section of BENCHMARKS.md.

For each page: the bare `LexborHTMLParser(html)` parse, our parser (parse + extraction), their
ratio (goal: at most 1.5x for detail and episode), and the same extraction written with
BeautifulSoup (the common choice of peer scrapers) for comparison. Times are the best of
several rounds, so background load inflates them least.

Run: `make bench` or `.venv/bin/python bench/bench_parsers.py`.
"""

from __future__ import annotations

import base64
import json
import platform
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

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


def best_times(fns: list[Callable[[], Any]], budget: float, rounds: int = 9) -> list[float]:
    """Seconds per call of each function: the best of `rounds` rounds.

    The functions are timed in alternation within each round, so that load from other
    processes on the shared machine hits them alike and the ratios stay meaningful.
    """
    loops = []
    for fn in fns:
        start = time.perf_counter()
        fn()
        once = max(time.perf_counter() - start, 1e-6)
        loops.append(max(1, int(budget / rounds / once)))
    best = [float("inf")] * len(fns)
    for _ in range(rounds):
        for index, fn in enumerate(fns):
            start = time.perf_counter()
            for _ in range(loops[index]):
                fn()
            best[index] = min(best[index], (time.perf_counter() - start) / loops[index])
    return best


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


def run() -> str:
    lines = [
        "## Parsers",
        "",
        "`bench/bench_parsers.py` on the real pages in `../shared/otakudesu-pages/` "
        f"(Python {platform.python_version()}, selectolax {selectolax.__version__} Lexbor"
        + (f", beautifulsoup4 {bs4.__version__} with html.parser" if bs4 else "")
        + f", {platform.machine()}). Best of 9 rounds (functions alternated within each "
        "round), mean per call, on a shared 2-core machine: expect noise.",
        "",
        (
            '"bare parse" is `LexborHTMLParser(html)` alone; "parser" is our full parse + '
            "extraction; the ratio is parser / bare parse (goal: ≤ 1.5× for detail and episode). "
            '"BeautifulSoup" is the same extraction written the peer way with '
            "`BeautifulSoup(html, 'html.parser')` (detail, episode and card pages only)."
        ),
        "",
        "| page | kind | size | bare parse | parser | ratio | BeautifulSoup | BS4 / parser |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, kind, url in CASES:
        path = PAGES / name
        if not path.exists():
            continue
        html = path.read_text(encoding="utf-8")
        budget = 1.0 if kind == "anime-list" else 0.3
        parser = PARSERS[kind]
        extractor = BS4_EXTRACTORS.get(kind) if bs4 is not None else None
        fns: list[Callable[[], Any]] = [
            lambda html=html: LexborHTMLParser(html),
            lambda html=html, url=url, parser=parser: parser(html, url),
        ]
        if extractor is not None:
            fns.append(lambda html=html, extractor=extractor: extractor(html))
        times = best_times(fns, budget)
        bare, ours = times[0], times[1]
        soup_cell = ratio_cell = "–"
        if extractor is not None:
            soup_cell = f"{times[2] * 1e3:.2f} ms"
            ratio_cell = f"{times[2] / ours:.1f}×"
        lines.append(
            f"| {name} | {kind} | {len(html.encode()) / 1024:.0f} kB | {bare * 1e3:.2f} ms "
            f"| {ours * 1e3:.2f} ms | {ours / bare:.2f}× | {soup_cell} | {ratio_cell} |"
        )
    return "\n".join(lines) + "\n"


def write_section(section: str) -> None:
    """Replace only the "## Parsers" section of BENCHMARKS.md (create the file if missing)."""
    text = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else "# Benchmarks\n"
    pattern = re.compile(r"^## Parsers\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _m: section + "\n", text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    OUTPUT.write_text(text.rstrip("\n") + "\n", encoding="utf-8")


def main() -> int:
    if not PAGES.is_dir():
        print(f"skipped: {PAGES} is absent")
        return 0
    section = run()
    print(section)
    write_section(section)
    print(f"wrote the Parsers section of {OUTPUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
