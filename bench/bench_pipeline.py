"""Scraper pipeline benchmark; writes the "## Pipeline" section of BENCHMARKS.md.

Three measurements, each in a fresh subprocess (own Django setup, own MariaDB database, so
one cannot warm or bloat the next):

1. ingest: 2,000 synthetic anime x 12 episodes (~10 mirrors and 12-36 download links per
   episode, like the real site) built in memory as parser dataclasses, then
   `ingest_anime()` on each, twice: the first run creates every row, the second finds
   nothing changed (and must write nothing). Goal: the first run under 60 s.
2. crawl: a full crawl of the fake origin over HTTP (rate limit off), then a no-change
   `ongoing` update. The fake origin runs in its own process so it competes for the GIL
   with nobody; a replay of the same GETs without parsing or ingest tells how much of the
   crawl is the origin + HTTP alone.
3. memory: a full crawl at two catalogue sizes; the peak of Python allocations during the
   crawl (tracemalloc) and the growth of the process's peak RSS. A crawl that streams one
   anime at a time stays flat as the catalogue grows.

Needs MariaDB/MySQL on 127.0.0.1:3306 (root, empty password by default; `--db-url` to
change). Databases `otakusite_bench_*` are created and dropped.

Run: `.venv/bin/python bench/bench_pipeline.py` (`--help` for sizes and repeats).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from statistics import median
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import mdsection

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

OUTPUT = REPO / "BENCHMARKS.md"
DEFAULT_DB_URL = "mysql://root:@127.0.0.1:3306/"
INGEST_GOAL_S = 60.0


# --------------------------------------------------------------------------- helpers


def db_url(server_url: str, name: str) -> str:
    parts = urlsplit(server_url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, "charset=utf8mb4", ""))


def _server_connection(server_url: str) -> Any:
    import MySQLdb

    parts = urlsplit(server_url)
    return MySQLdb.connect(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 3306,
        user=parts.username or "root",
        password=parts.password or "",
        charset="utf8mb4",
    )


@contextmanager
def scratch_database(server_url: str, name: str) -> Iterator[str]:
    """A new empty utf8mb4 database, dropped afterwards; yields its DATABASE_URL."""
    conn = _server_connection(server_url)
    try:
        cur = conn.cursor()
        cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        yield db_url(server_url, name)
    finally:
        conn.cursor().execute(f"DROP DATABASE IF EXISTS `{name}`")
        conn.close()


def setup_django(database_url: str) -> None:
    """Django on `database_url`; the schema made by migrate (not timed)."""
    os.environ["DATABASE_URL"] = database_url
    os.environ["REDIS_URL"] = ""  # locmem cache: the benchmark must not touch a shared Redis
    os.environ["DEBUG"] = ""  # DEBUG would keep every query in memory
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)


class QueryCounter:
    """Counts SQL statements (a cheap execute wrapper, unlike DEBUG's query log)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute: Callable, sql: str, params: Any, many: bool, context: Any) -> Any:
        self.count += 1
        return execute(sql, params, many, context)


@contextmanager
def fake_origin_process(seed: int, size: int) -> Iterator[str]:
    """The fake origin in its own process (its CPU and memory are not the crawler's)."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.fake_origin",
            "--port",
            "0",
            "--seed",
            str(seed),
            "--size",
            str(size),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        base_url = proc.stdout.readline().strip()
        if not base_url.startswith("http"):
            raise RuntimeError(f"fake origin did not start: {base_url!r}")
        yield base_url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


# --------------------------------------------------------------------------- synthetic data

MIRROR_PROVIDERS = ("kumoplay", "odstream", "filebento", "megaku", "desuhd", "vidkura")
DL_PROVIDERS = ("KumoFiles", "Pdrive", "AceBox", "GoBento", "MegaKu", "VFiles")
DL_ROWS = (
    ("mp4", "360p"),
    ("mp4", "480p"),
    ("mp4", "720p"),
    ("mkv", "480p"),
    ("mkv", "720p"),
    ("mkv", "1080p"),
)
GENRES = [(f"genre-{i}", f"Genre {i}") for i in range(40)]


def synthetic_bundles(n_anime: int, n_episodes: int, seed: int = 5) -> list[Any]:
    """AnimeBundles shaped like parsed otakudesu pages, with made-up content."""
    from scraper.ingest import AnimeBundle
    from scraper.parsers.types import (
        AnimeDetail,
        BatchPage,
        EpisodePage,
        EpisodeRef,
        GenreRef,
        Mirror,
        MirrorToken,
        PageRef,
        ParsedDownload,
    )

    rng = random.Random(seed)
    post_id = 1000

    def downloads(key: str) -> list[ParsedDownload]:
        rows = rng.sample(DL_ROWS, rng.randint(4, 6))
        out = []
        for fmt, quality in rows:
            for provider in rng.sample(DL_PROVIDERS, rng.randint(3, 6)):
                out.append(
                    ParsedDownload(
                        fmt,
                        quality,
                        provider,
                        f"https://dl.bench.invalid/{key}/{fmt}/{quality}/{provider}",
                        f"{rng.uniform(40, 900):.1f} MB",
                    )
                )
        return out

    bundles = []
    start = date(2020, 1, 1)
    for a in range(n_anime):
        slug = f"bench-anime-{a}-sub-indo"
        completed = a % 2 == 0
        refs, pages = [], []
        for n in range(1, n_episodes + 1):
            ep_slug = f"bench{a}-episode-{n}-sub-indo"
            published = start + timedelta(days=a + 7 * n)
            post_id += rng.randint(3, 40)
            mirrors = []
            for quality, (low, high) in zip(
                ("360p", "480p", "720p"), ((2, 3), (3, 4), (2, 4)), strict=True
            ):
                for i, provider in enumerate(rng.sample(MIRROR_PROVIDERS, rng.randint(low, high))):
                    mirrors.append(
                        Mirror(
                            quality,
                            provider,
                            MirrorToken(post_id, i, quality),
                            is_default=quality == "480p" and i == 0,
                        )
                    )
            refs.append(EpisodeRef(ep_slug, f"Bench {a} Episode {n} Sub Indo", n, published))
            pages.append(
                EpisodePage(
                    slug=ep_slug,
                    title=f"Bench {a} Episode {n} Sub Indo",
                    anime_slug=slug,
                    prev_slug=None,
                    next_slug=None,
                    post_id=post_id,
                    default_embed_url=f"https://embed{a % 3}.bench.invalid/v/{post_id}",
                    mirrors=mirrors,
                    downloads=downloads(ep_slug),
                    nonce_action="nonce-action",
                    embed_action="embed-action",
                    actions_from_script=True,
                    published_on=published,
                )
            )
        refs.reverse()  # the detail page lists the newest episode first
        batch_slug = f"bench{a}-batch-sub-indo"
        detail = AnimeDetail(
            slug=slug,
            title=f"Bench Anime {a}",
            title_japanese=f"ベンチ {a}",
            score=round(rng.uniform(5, 9.5), 2),
            producers=["Producer A", f"Producer {a % 17}"],
            type="TV",
            status="completed" if completed else "ongoing",
            total_episodes=n_episodes if completed else None,
            duration="24 min. per ep.",
            release_date=start + timedelta(days=a),
            release_date_text=None,
            studios=[f"Studio {a % 23}"],
            genres=[GenreRef(*g) for g in rng.sample(GENRES, rng.randint(2, 5))],
            poster_url=f"https://img.bench.invalid/{a}.jpg",
            synopsis=f"Synopsis of bench anime {a}. " * 8,
            episodes=refs,
            batch=PageRef(batch_slug, f"Bench Anime {a} Batch") if completed else None,
            lengkap=None,
        )
        batch = (
            BatchPage(batch_slug, f"Bench Anime {a} Batch", slug, downloads(batch_slug))
            if completed
            else None
        )
        bundles.append(
            AnimeBundle(detail, pages, batch, None if completed else ("Senin", "Kamis")[a % 2])
        )
    return bundles


# --------------------------------------------------------------------------- children


def child_ingest(args: argparse.Namespace) -> dict[str, Any]:
    with scratch_database(args.db_url, "otakusite_bench_ingest") as url:
        setup_django(url)
        from django.db import connection

        from catalog.models import DownloadLink, Episode, StreamLink
        from scraper.ingest import Counts, ingest_anime

        bundles = synthetic_bundles(args.anime, args.episodes)
        result: dict[str, Any] = {}
        for label in ("first", "second"):
            counter = QueryCounter()
            total = Counts()
            with connection.execute_wrapper(counter):
                started = time.perf_counter()
                for bundle in bundles:
                    total.add(ingest_anime(bundle=bundle))
                seconds = time.perf_counter() - started
            result[label] = {
                "seconds": seconds,
                "queries": counter.count,
                "created": total.created,
                "updated": total.updated,
                "unchanged": total.unchanged,
            }
        result["rows"] = {
            "episodes": Episode.objects.count(),
            "streams": StreamLink.objects.count(),
            "downloads": DownloadLink.objects.count(),
        }
        connection.close()
    return result


def _crawl(base_url: str, kind: str, **kw: Any) -> Any:
    from scraper.crawl import run_crawl
    from tests.pipeline_helpers import fast_client

    with fast_client(base_url, timeout=30.0) as client:
        return run_crawl(kind, client=client, **kw)


def child_crawl(args: argparse.Namespace) -> dict[str, Any]:
    with (
        fake_origin_process(args.seed, args.size) as base_url,
        scratch_database(args.db_url, "otakusite_bench_crawl") as url,
    ):
        setup_django(url)
        from django.db import connection

        import scraper.crawl
        from catalog.models import Anime, Episode
        from scraper.ingest import ingest_anime
        from tests.pipeline_helpers import fast_client

        ingest_seconds = 0.0

        def timed_ingest(*, bundle: Any) -> Any:
            nonlocal ingest_seconds
            started = time.perf_counter()
            try:
                return ingest_anime(bundle=bundle)
            finally:
                ingest_seconds += time.perf_counter() - started

        urls: list[str] = []

        def progress(event: Any) -> None:
            if not event.note:  # one event per fetched page (the others are per anime)
                urls.append(event.url)

        scraper.crawl.ingest_anime = timed_ingest  # type: ignore[assignment]
        started = time.perf_counter()
        run = _crawl(base_url, "full", progress=progress)
        full_seconds = time.perf_counter() - started
        scraper.crawl.ingest_anime = ingest_anime  # type: ignore[assignment]
        if run.status != "ok" or run.error_count:
            raise RuntimeError(f"full crawl: {run.status} {run.errors[:500]}")

        # The same GETs again, nothing parsed or stored: the origin + HTTP share.
        with fast_client(base_url, timeout=30.0) as client:
            started = time.perf_counter()
            for page_url in urls:
                client.get(page_url)
            fetch_seconds = time.perf_counter() - started

        started = time.perf_counter()
        update = _crawl(base_url, "ongoing")
        update_seconds = time.perf_counter() - started
        result = {
            "size": args.size,
            "anime": Anime.objects.count(),
            "episodes": Episode.objects.count(),
            "full": {
                "requests": run.requests_made,
                "seconds": full_seconds,
                "ingest_seconds": ingest_seconds,
                "fetch_only_seconds": fetch_seconds,
                "fetch_only_requests": len(urls),
            },
            "update": {
                "requests": update.requests_made,
                "seconds": update_seconds,
                "created": update.created,
                "updated": update.updated,
            },
        }
        connection.close()
    return result


def child_memory(args: argparse.Namespace) -> dict[str, Any]:
    import gc
    import tracemalloc

    with (
        fake_origin_process(args.seed, args.size) as base_url,
        scratch_database(args.db_url, f"otakusite_bench_mem{args.size}") as url,
    ):
        setup_django(url)
        import scraper.crawl  # noqa: F401  (imported before the baseline)
        from catalog.models import Episode

        gc.collect()
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        tracemalloc.start()
        started = time.perf_counter()
        run = _crawl(base_url, "full")
        seconds = time.perf_counter() - started
        _current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        if run.status != "ok" or run.error_count:
            raise RuntimeError(f"full crawl: {run.status} {run.errors[:500]}")
        episodes = Episode.objects.count()
        from django.db import connection

        connection.close()
    return {
        "size": args.size,
        "episodes": episodes,
        "requests": run.requests_made,
        "seconds": seconds,
        "tracemalloc_peak_kib": peak / 1024,
        "rss_before_kib": rss_before,
        "rss_growth_kib": rss_after - rss_before,
    }


CHILDREN: dict[str, Callable[[argparse.Namespace], dict[str, Any]]] = {
    "ingest": child_ingest,
    "crawl": child_crawl,
    "memory": child_memory,
}


# Measured once, by hand, before commit 0f4b784 (same script and machine); kept in the
# report so the gain stays visible after the old code is gone.
NOTES = """\
Notes:

- Before commit 0f4b784 the first 2,000-anime ingest took 156 s (40 SQL statements per
  anime: one `bulk_create` per episode and link table, model instances built for every
  stored and new link row) and the no-change one 39.6 s (one run). Now each anime's stream
  and download links are read as plain tuples in one query per table and written with one
  multi-row `INSERT` (plus at most one `bulk_update` and one `DELETE`) per table. What is
  left of the first ingest is mostly MariaDB's own insert work and the driver's escaping
  (cProfile).
- The crawl is not held back by the fake origin: replaying its GETs alone takes a quarter
  of the crawl; ingest is half and parsing most of the rest.
- Peak memory grows by ~1 MiB for 4× the catalogue: the A–Z list page (~50 kB at 100 anime,
  ~180 kB at 400) and its one-slug-per-anime index are held during the crawl; nothing per
  anime or episode accumulates (each anime's pages are dropped after its ingest).
"""


# --------------------------------------------------------------------------- parent


def run_child(kind: str, args: argparse.Namespace, **extra: Any) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", kind]
    cmd += ["--db-url", args.db_url, "--seed", str(args.seed)]
    cmd += ["--anime", str(args.anime), "--episodes", str(args.episodes)]
    cmd += ["--size", str(extra.get("size", args.size))]
    out = subprocess.run(cmd, check=False, cwd=REPO, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"{kind} failed:\n{out.stderr[-3000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"  {kind}: {json.dumps(result)}", file=sys.stderr, flush=True)
    return result


def spread(values: list[float], fmt: str = "{:.1f}") -> str:
    """ "12.3 (12.1–12.9)" for several runs; just the value for one."""
    if len(values) == 1:
        return fmt.format(values[0])
    return f"{fmt.format(median(values))} ({fmt.format(min(values))}–{fmt.format(max(values))})"


def mysql_version(server_url: str) -> str:
    conn = _server_connection(server_url)
    try:
        cur = conn.cursor()
        cur.execute("SELECT VERSION()")
        return str(cur.fetchone()[0])
    finally:
        conn.close()


def report(args: argparse.Namespace, ingests: list, crawls: list, memory: dict) -> str:
    rounds = len(ingests)
    first = [r["first"]["seconds"] for r in ingests]
    second = [r["second"]["seconds"] for r in ingests]
    rows = ingests[0]["rows"]
    n_anime = args.anime
    verdict = "met" if max(first) < INGEST_GOAL_S else "missed"
    lines = [
        "## Pipeline",
        "",
        (
            "`bench/bench_pipeline.py`: Python "
            f"{platform.python_version()}, MariaDB {mysql_version(args.db_url)} on 127.0.0.1 "
            f"(utf8mb4), {platform.machine()}, a 2-core machine shared with other engineers' "
            f"benchmarks: {rounds} rounds, each in fresh processes and a fresh database; "
            "median (min–max)."
        ),
        "",
        "### Ingest",
        "",
        (
            f"{n_anime:,} synthetic anime × {args.episodes} episodes built in memory as parser "
            f"dataclasses: {rows['episodes']:,} episodes, {rows['streams']:,} stream mirrors, "
            f"{rows['downloads']:,} download links (episodes and batches of the "
            f"{(n_anime + 1) // 2:,} completed anime), one `ingest_anime()` (one transaction) "
            "per anime. Goal: first ingest under 60 s "
            f"(**{verdict}**)."
        ),
        "",
        ("| run | seconds | anime/s | SQL statements | per anime | rows created | rows updated |"),
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for label, values in (("first (empty database)", first), ("second (no change)", second)):
        key = "first" if label.startswith("first") else "second"
        r = ingests[0][key]
        lines.append(
            f"| {label} | {spread(values)} | {spread([n_anime / v for v in values], '{:.0f}')} "
            f"| {r['queries']:,} | {r['queries'] / n_anime:.1f} | {r['created']:,} "
            f"| {r['updated']:,} |"
        )
    c = crawls[0]
    full_s = [r["full"]["seconds"] for r in crawls]
    req = c["full"]["requests"]
    lines += [
        "",
        "### Crawl of the fake origin",
        "",
        (
            f"Fake catalogue of {c['anime']} anime ({c['episodes']:,} episodes), seed {args.seed}, "
            "served over HTTP on 127.0.0.1 by the fake origin in its own process; rate limit off, "
            "no sleeping (`tests.pipeline_helpers.fast_client`), ingest into MariaDB. "
            '"fetch only" replays the crawl\'s GETs with the same client and nothing parsed or '
            "stored: the origin's and HTTP's share."
        ),
        "",
        "| crawl | requests | seconds | requests/s | of which ingest | fetch only |",
        "|---|---:|---:|---:|---:|---:|",
        (
            f"| full | {req:,} | {spread(full_s)} | {spread([req / v for v in full_s], '{:.0f}')} "
            f"| {spread([r['full']['ingest_seconds'] for r in crawls])} s "
            f"| {spread([r['full']['fetch_only_seconds'] for r in crawls])} s |"
        ),
        (
            f"| `ongoing`, nothing changed | {c['update']['requests']} "
            f"| {spread([r['update']['seconds'] for r in crawls], '{:.2f}')} | – | – | – |"
        ),
        "",
        (
            "The no-change update wrote "
            f"{c['update']['created']} new and {c['update']['updated']} changed rows."
        ),
        "",
        "### Peak memory of a full crawl",
        "",
        (
            "A fresh process per size (fake origin in another process); tracemalloc peak of "
            "Python allocations during the crawl, and the growth of the process's peak RSS "
            "(`ru_maxrss`) from after Django setup and migrate to the end of the crawl "
            "(tracemalloc's own bookkeeping included)."
        ),
        "",
        (
            "| catalogue | episodes | requests | crawl seconds (under tracemalloc) "
            "| tracemalloc peak | "
            "peak RSS growth |"
        ),
        "|---|---:|---:|---:|---:|---:|",
    ]
    for size, runs in memory.items():
        m = runs[0]
        lines.append(
            f"| {size} anime | {m['episodes']:,} | {m['requests']:,} "
            f"| {spread([r['seconds'] for r in runs])} "
            f"| {spread([r['tracemalloc_peak_kib'] / 1024 for r in runs])} MiB "
            f"| {spread([r['rss_growth_kib'] / 1024 for r in runs])} MiB |"
        )
    lines += ["", NOTES.rstrip("\n")]
    return "\n".join(lines) + "\n"


def write_section(section: str) -> None:
    mdsection.write_section("Pipeline", section, OUTPUT)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--db-url", default=os.environ.get("BENCH_DB_SERVER", DEFAULT_DB_URL))
    parser.add_argument("--anime", type=int, default=2000)
    parser.add_argument("--episodes", type=int, default=12)
    parser.add_argument("--size", type=int, default=300, help="fake catalogue of the crawl")
    parser.add_argument("--memory-sizes", default="100,400")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--only", choices=sorted(CHILDREN), help="run one part, print, no write")
    parser.add_argument("--child", choices=sorted(CHILDREN), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(CHILDREN[args.child](args)))
        return 0
    if args.only:
        for _ in range(args.rounds):
            run_child(args.only, args)
        return 0
    sizes = [int(s) for s in args.memory_sizes.split(",")]
    ingests, crawls = [], []
    memory: dict[int, list[dict[str, Any]]] = {s: [] for s in sizes}
    for round_no in range(args.rounds):
        print(f"round {round_no + 1}/{args.rounds}", file=sys.stderr, flush=True)
        ingests.append(run_child("ingest", args))
        crawls.append(run_child("crawl", args))
        for size in sizes:
            memory[size].append(run_child("memory", args, size=size))
    section = report(args, ingests, crawls, memory)
    print(section)
    write_section(section)
    print(f"wrote the Pipeline section of {OUTPUT}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
