"""Viewer-site benchmark on gunicorn + MariaDB + Redis; writes "## Site" in BENCHMARKS.md.

What it does, start to finish (everything it starts it stops; its database is dropped):

1. creates the MariaDB database `otakusite_bench` (127.0.0.1:3306, root), migrates it,
   collects static files into a temporary STATIC_ROOT (production uses whitenoise's
   manifest storage) and fills a big made-up catalogue with bulk_create: 2,000 anime,
   ~30,000 episodes with stream and download links, one anime with 1,000 episodes;
2. counts SQL queries per page in-process (Django test client + CaptureQueriesContext),
   uncached and cached;
3. starts gunicorn with the production config (deploy/gunicorn.conf.py: gthread,
   keep-alive) but a fixed 2 workers, DEBUG off, Redis db 14 (BENCH_REDIS_URL) as the cache;
4. throughput: `wrk` alternates the hello-world view (bench/site_urls.py, same gunicorn,
   same middleware) with a cached anime page, several rounds; the ratio is per round;
5. latency: one sequential client over loopback times uncached pages in several passes
   (version bumped before every request, or distinct pages each requested once);
6. instructions per cached request (hello world, the anime page, the same anime from the
   API), counted by valgrind's callgrind in-process: exact where wrk's rates are not.

Run: `make bench` or `.venv/bin/python bench/bench_site.py`. Needs MariaDB, Redis, `wrk`
and `valgrind` (Debian: `apt-get install -y wrk valgrind`); without them the throughput or
instruction part is skipped.
"""

from __future__ import annotations

import http.client
import os
import platform
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import mdsection

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

OUTPUT = REPO / "BENCHMARKS.md"
# Overridable so two engineers' runs on one machine do not drop each other's database.
DB_NAME = os.environ.get("BENCH_DB_NAME", "otakusite_bench")
DB_HOST, DB_PORT = "127.0.0.1", 3306
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
CACHE_PREFIX = "otakusite-bench"
WORKERS = 2

N_ANIME = 2000
N_GENRES = 40
LONG_EPISODES = 1000
QUALITIES = ("360p", "480p", "720p")
STREAM_PROVIDERS = ("ondesu", "pdrain")
DOWNLOAD_FORMATS = ("mp4", "mkv")
DOWNLOAD_PROVIDERS = ("unduhA", "unduhB")
EMBED_HOST = "embed.bench.test"

# Throughput: rounds of (hello, anime page) alternated; seconds per wrk run.
WRK_ROUNDS = 10
WRK_SECONDS = 2
WRK_CONNECTIONS = 4
# Latency: passes x requests per pass, per scenario.
LATENCY_PASSES = 3

_WORDS = [
    "pedang",
    "bintang",
    "langit",
    "kafe",
    "senja",
    "naga",
    "api",
    "laut",
    "kota",
    "hujan",
    "bulan",
    "sekolah",
    "pahlawan",
    "rahasia",
    "kisah",
    "musim",
    "gadis",
    "robot",
    "hantu",
    "penyihir",
    "kucing",
    "angin",
]


def configure_environment(static_root: Path) -> None:
    """Production settings from the environment, as gunicorn will see them too."""
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "bench.site_settings",
            "DEBUG": "0",
            "SECRET_KEY": "bench-only-secret-key-" + "x" * 40,
            "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
            "DATABASE_URL": f"mysql://root:@{DB_HOST}:{DB_PORT}/{DB_NAME}",
            "REDIS_URL": REDIS_URL,
            "CACHE_KEY_PREFIX": CACHE_PREFIX,
            "STATIC_ROOT": str(static_root),
            "OTAKUSITE_VAR_DIR": str(static_root.parent / "var"),
            "LOG_LEVEL": "WARNING",
            "AUTO_FIRST_CRAWL": "0",
            # The API's rate limit stays on (its Redis calls are part of the cost) but far
            # above what wrk sends from one address.
            "API_RATE_LIMIT": "1000000000",
        }
    )


def admin_sql(statement: str) -> None:
    import MySQLdb

    conn = MySQLdb.connect(host=DB_HOST, port=DB_PORT, user="root", passwd="")
    try:
        conn.cursor().execute(statement)
    finally:
        conn.close()


# --- Catalogue -----------------------------------------------------------------------


@dataclass
class Catalogue:
    long_anime_id: int
    long_slug: str
    typical_slugs: list[str]  # anime with a usual number of episodes
    typical_anime_slug: str  # the cached-page target
    episode_slugs: list[str]  # episodes of the typical anime
    long_episode_slugs: list[str]
    counts: dict[str, int]


def fill_catalogue(rng: random.Random) -> Catalogue:
    from catalog.models import (
        Anime,
        Batch,
        DownloadLink,
        EmbedHost,
        Episode,
        Genre,
        ScrapeRun,
        StreamLink,
        fold_text,
    )

    genres = Genre.objects.bulk_create(
        Genre(slug=f"genre-{i}", name=f"Genre {i:02d}") for i in range(N_GENRES)
    )
    anime_rows = []
    for i in range(N_ANIME):
        title = " ".join(rng.choice(_WORDS).title() for _ in range(3)) + f" {i}"
        ongoing = i % 7 == 0
        slug = "bench-panjang" if i == 0 else f"bench-anime-{i:04d}"
        anime_rows.append(
            Anime(
                slug=slug,
                title=title,
                title_japanese=f"ベンチ {i}",
                score=Decimal(f"{rng.uniform(5, 9.5):.2f}"),
                type=rng.choice(["TV", "TV", "Movie", "OVA"]),
                status=Anime.Status.ONGOING if ongoing else Anime.Status.COMPLETED,
                total_episodes=LONG_EPISODES if i == 0 else rng.randint(1, 28),
                duration="24 menit",
                release_date=date(2020, 1, 1) + timedelta(days=i),
                release_day=rng.choice(["Senin", "Rabu", "Sabtu", "Minggu"]) if ongoing else "",
                studios=["Studio Karangan"],
                producers=["Produser Satu", "Produser Dua"],
                synopsis=" ".join(rng.choice(_WORDS) for _ in range(90)),
                poster_url=f"https://img.bench.test/poster/{i}.jpg",
                search_text=fold_text(title, f"ベンチ {i}", slug),
            )
        )
    anime = Anime.objects.bulk_create(anime_rows, batch_size=500)
    through = Anime.genres.through
    through.objects.bulk_create(
        (through(anime_id=a.pk, genre_id=g.pk) for a in anime for g in rng.sample(genres, 3)),
        batch_size=5000,
    )
    base_day = date(2024, 1, 1)
    episode_rows = []
    for a in anime:
        for n in range(1, (a.total_episodes or 1) + 1):
            episode_rows.append(
                Episode(
                    anime_id=a.pk,
                    slug=f"{a.slug}-episode-{n}",
                    title=f"{a.title} Episode {n}",
                    number=Decimal(n),
                    published_on=base_day + timedelta(days=n * 7 + a.pk % 7),
                    post_id=a.pk * 10000 + n,
                    default_embed_url=f"https://{EMBED_HOST}/v/{a.pk}/{n}",
                )
            )
    episodes = Episode.objects.bulk_create(episode_rows, batch_size=5000)
    if episodes[0].pk is None:  # backends that cannot return ids from a bulk insert
        episodes = list(Episode.objects.order_by("id"))

    def stream_links() -> Iterator[StreamLink]:
        for ep in episodes:
            for q in QUALITIES:
                for p, provider in enumerate(STREAM_PROVIDERS):
                    yield StreamLink(
                        episode_id=ep.pk,
                        quality=q,
                        provider=provider,
                        position=p,
                        token_id=ep.pk,
                        token_i=p,
                        token_q=q,
                        is_default=q == "480p" and p == 0,
                    )

    def download_links() -> Iterator[DownloadLink]:
        for ep in episodes:
            for fmt in DOWNLOAD_FORMATS:
                for q in QUALITIES[1:]:
                    for p, provider in enumerate(DOWNLOAD_PROVIDERS):
                        yield DownloadLink(
                            episode_id=ep.pk,
                            format=fmt,
                            quality=q,
                            provider=provider,
                            url=f"https://files.bench.test/{ep.pk}/{fmt}/{q}/{p}",
                            size_text=f"{40 * (1 + QUALITIES.index(q))} MB",
                            position=p,
                        )

    StreamLink.objects.bulk_create(stream_links(), batch_size=5000)
    DownloadLink.objects.bulk_create(download_links(), batch_size=5000)
    completed = [a for a in anime if a.status == Anime.Status.COMPLETED][:500]
    batches = Batch.objects.bulk_create(
        Batch(anime_id=a.pk, slug=f"{a.slug}-batch", title=f"{a.title} Batch") for a in completed
    )
    DownloadLink.objects.bulk_create(
        (
            DownloadLink(
                batch_id=b.pk,
                format="mkv",
                quality=q,
                provider=provider,
                url=f"https://files.bench.test/batch/{b.pk}/{q}/{provider}",
                size_text="1.2 GB",
                position=p,
            )
            for b in batches
            for q in QUALITIES[1:]
            for p, provider in enumerate(DOWNLOAD_PROVIDERS)
        ),
        batch_size=5000,
    )
    EmbedHost.objects.create(host=EMBED_HOST)
    now = datetime.now(UTC)
    ScrapeRun.objects.create(kind="update", status=ScrapeRun.Status.OK, finished_at=now)

    long_anime = anime[0]
    by_anime: dict[int, list[str]] = {}
    for ep in episodes:
        by_anime.setdefault(ep.anime_id, []).append(ep.slug)
    typical = [a for a in anime[1:] if 10 <= (a.total_episodes or 0) <= 16]
    target = typical[0]
    return Catalogue(
        long_anime_id=long_anime.pk,
        long_slug=long_anime.slug,
        typical_slugs=[a.slug for a in anime[1:]],
        typical_anime_slug=target.slug,
        episode_slugs=[s for a in anime[1:] for s in by_anime[a.pk]],
        long_episode_slugs=by_anime[long_anime.pk],
        counts={
            "anime": Anime.objects.count(),
            "episodes": Episode.objects.count(),
            "stream links": StreamLink.objects.count(),
            "download links": DownloadLink.objects.count(),
            "target episodes": len(by_anime[target.pk]),
        },
    )


def clear_bench_cache() -> None:
    """Delete this benchmark's keys only (never FLUSHDB: the Redis db may be shared), and
    this process's near copies (catalog/nearcache.py)."""
    from django.core.cache import cache

    from catalog import nearcache

    cache.delete_pattern("*")
    nearcache.NEAR.clear()


def bump_version(anime_id: int) -> None:
    """What ingest does on every change: the anime's pages and fragments miss next time,
    and the web processes hear of it (catalog/nearcache.py; autocommit: announced at once)."""
    from catalog.services import bump_versions

    bump_versions(anime_ids=[anime_id])


# --- Queries per page (in-process) -----------------------------------------------------


def count_queries(cat: Catalogue) -> list[tuple[str, str, int, int]]:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from catalog import nearcache

    # Measured as a web worker runs: subscribed to the change channel (catalog/nearcache.py).
    nearcache.current()
    listener = nearcache.listener()
    if listener is not None and not listener.wait_for("subscriptions", 1):
        raise SystemExit("the near cache did not subscribe to Redis")
    client = Client()
    pages = [
        ("home", "/"),
        ("ongoing", "/ongoing/"),
        ("completed, page 2", "/completed/?page=2"),
        ("A–Z", "/anime/"),
        ("genres", "/genres/"),
        ("one genre", "/genres/genre-3/"),
        ("schedule", "/jadwal/"),
        ("search", "/search/?q=pedang"),
        ("search with a typo, filters, sort", "/search/?q=pedagn&genre=genre-3&sort=score"),
        (f"anime ({cat.counts['target episodes']} episodes)", f"/anime/{cat.typical_anime_slug}/"),
        ("anime (1,000 episodes)", f"/anime/{cat.long_slug}/"),
        ("episode", f"/episode/{cat.episode_slugs[5]}/"),
        ("episode of the 1,000-episode anime", f"/episode/{cat.long_episode_slugs[499]}/"),
    ]
    rows = []
    for label, url in pages:
        clear_bench_cache()
        with CaptureQueriesContext(connection) as cold:
            status = client.get(url).status_code
        with CaptureQueriesContext(connection) as warm:
            client.get(url)
        if status != 200:
            raise SystemExit(f"{url} answered {status}")
        rows.append((label, url, len(cold.captured_queries), len(warm.captured_queries)))
    return rows


# --- gunicorn --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class Server:
    """A gunicorn of the run: its port, and its workers' process ids (fixed for the run:
    no recycling), whose CPU time the throughput rounds read."""

    port: int
    workers: tuple[int, ...]


@contextmanager
def gunicorn(port: int, log_path: Path, env: dict[str, str] | None = None) -> Iterator[Server]:
    """A gunicorn answering on `port`, started with the production configuration."""
    command = [
        str(REPO / ".venv" / "bin" / "gunicorn"),
        "-c",
        str(REPO / "deploy" / "gunicorn.conf.py"),
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(WORKERS),
        # Recycling every ~2,000 requests would put worker start-ups inside the runs.
        "--max-requests",
        "0",
        "--pythonpath",
        str(REPO),
        "otakusite.wsgi:application",
    ]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            command,
            cwd=REPO,
            env={**os.environ, **(env or {})},
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"gunicorn exited: {log_path.read_text()[-2000:]}")
            try:
                if fetch(port, "/healthz")[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("gunicorn did not answer /healthz within 60 s")
            time.sleep(0.2)
        yield Server(port, tuple(worker_pids(proc.pid)))
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def worker_pids(master: int) -> list[int]:
    deadline = time.monotonic() + 60
    while True:
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        if len(children) >= WORKERS or time.monotonic() > deadline:
            return [int(pid) for pid in children]
        time.sleep(0.2)


def cpu_seconds(pids: tuple[int, ...]) -> float:
    """User + system CPU time the processes have used so far (Linux /proc)."""
    ticks = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def fetch(port: int, path: str, conn: http.client.HTTPConnection | None = None) -> tuple[int, int]:
    own = conn is None
    conn = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        body = response.read()
        return response.status, len(body)
    finally:
        if own:
            conn.close()


# --- Throughput --------------------------------------------------------------------------


@dataclass
class WrkRun:
    rps: float
    cpu_per_request: float  # seconds of the gunicorn workers' CPU per answered request


def wrk_run(server: Server, path: str, seconds: int = WRK_SECONDS) -> WrkRun:
    """wrk's rate on `path`, and the CPU time the server's workers spent meanwhile."""
    cpu_before = cpu_seconds(server.workers)
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{WRK_CONNECTIONS}",
            f"-d{seconds}s",
            "--timeout",
            "10s",
            f"http://127.0.0.1:{server.port}{path}",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 30,
    ).stdout
    cpu = cpu_seconds(server.workers) - cpu_before
    if "Non-2xx" in out or "Socket errors" in out:
        raise SystemExit(f"wrk saw errors on {path}:\n{out}")
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    count = re.search(r"(\d+) requests in", out)
    if not match or not count:
        raise SystemExit(f"cannot read wrk output:\n{out}")
    return WrkRun(float(match.group(1)), cpu / max(1, int(count.group(1))))


@dataclass
class Throughput:
    labels: list[str]
    sizes: list[int]  # body bytes per label
    rounds: list[list[float]]  # req/s per label, one list per round
    cpu: list[list[float]]  # the workers' CPU seconds per request, per label, per round


def measure_throughput(server: Server, no_near: Server, cat: Catalogue) -> Throughput:
    """`no_near` is a second, identical gunicorn with NEAR_CACHE=0, for comparison."""
    anime = f"/anime/{cat.typical_anime_slug}/"
    # The hello-world view with the anime page's size: what the bytes alone cost.
    anime_size = fetch(server.port, anime)[1]
    targets = {
        "hello world": (server, "/bench-hello/"),
        "hello + 1 SQL query": (server, "/bench-sql/"),
        "hello + 1 Redis GET": (server, "/bench-redis/"),
        "hello world, body of the anime page's size": (server, f"/bench-hello-{anime_size}/"),
        "cached anime page": (server, anime),
        "cached 1,000-episode anime page": (server, f"/anime/{cat.long_slug}/"),
        "cached anime page, near cache off (1 SQL + 1 Redis round trip)": (no_near, anime),
        # The public API's answer for the same anime (goal: at least the HTML page's rate).
        "cached API: the same anime as JSON": (server, f"/api/v1/anime/{cat.typical_anime_slug}/"),
        "cached API, near cache off": (no_near, f"/api/v1/anime/{cat.typical_anime_slug}/"),
    }
    labels = list(targets)
    sizes = []
    for target, path in targets.values():  # fill the page cache, warm every worker
        for _ in range(20):
            status, size = fetch(target.port, path)
            assert status == 200, (path, status)
        sizes.append(size)
        wrk_run(target, path, 1)
    rounds, cpu = [], []
    for r in range(WRK_ROUNDS):
        # Alternate the order so drift in background load hits every path alike.
        order = labels if r % 2 == 0 else labels[::-1]
        got = {label: wrk_run(*targets[label]) for label in order}
        rounds.append([got[label].rps for label in labels])
        cpu.append([got[label].cpu_per_request for label in labels])
    return Throughput(labels, sizes, rounds, cpu)


# --- Instructions per cached request (valgrind) -------------------------------------------

# wrk's rates move with the host's load by more than the API and the page differ; the
# instructions a request executes do not. One process under callgrind warms every URL up,
# then requests each COST_REQUESTS times inside its own functools.reduce call: only what
# runs inside reduce is counted (--toggle-collect), one dump per call (--dump-after), so
# start-up, warm-up and other threads are left out.
COST_WARMUP = 20
COST_REQUESTS = 100


@dataclass
class Cost:
    label: str
    path: str
    instructions: float  # per request, through Django's WSGI handler and every middleware


def measure_instructions(cat: Catalogue) -> list[Cost] | None:
    if not shutil.which("valgrind"):
        return None
    paths = {
        "hello world": "/bench-hello/",
        "cached anime page": f"/anime/{cat.typical_anime_slug}/",
        "cached API: the same anime as JSON": f"/api/v1/anime/{cat.typical_anime_slug}/",
    }
    with tempfile.TemporaryDirectory() as out:
        subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                "--collect-atstart=no",
                "--toggle-collect=functools_reduce",
                "--dump-after=functools_reduce",
                "--separate-threads=yes",
                f"--callgrind-out-file={out}/cg",
                sys.executable,
                __file__,
                "--cost-child",
                *paths.values(),
            ],
            cwd=REPO,
            check=True,
            capture_output=True,
            timeout=3600,
        )
        costs = []
        for number, (label, path) in enumerate(paths.items(), start=1):
            dump = Path(out, f"cg.{number}-01").read_text()  # the main thread's n-th dump
            total = int(re.search(r"^totals: (\d+)", dump, re.MULTILINE).group(1))  # type: ignore[union-attr]
            costs.append(Cost(label, path, total / COST_REQUESTS))
    return costs


def cost_child(paths: list[str]) -> None:
    """Under callgrind (measure_instructions): each path through the WSGI application,
    warmed up, then COST_REQUESTS times inside one functools.reduce call per path."""
    import functools
    from wsgiref.util import setup_testing_defaults

    from django.core.wsgi import get_wsgi_application

    app = get_wsgi_application()

    def one(path: str) -> None:
        status = []
        # A GET of http://127.0.0.1/<path> from 127.0.0.1, as gunicorn would hand it over.
        environ = {"PATH_INFO": path, "REMOTE_ADDR": "127.0.0.1"}
        setup_testing_defaults(environ)
        body = b"".join(app(environ, lambda s, _h, _e=None: status.append(s)))
        if not status or not status[0].startswith("200") or not body:
            raise SystemExit(f"{path} answered {status}")

    for path in paths:
        for _ in range(COST_WARMUP):
            one(path)
    for path in paths:
        functools.reduce(lambda _, __, path=path: one(path), range(COST_REQUESTS), None)


# --- Latency -------------------------------------------------------------------------------


@dataclass
class Latency:
    label: str
    how: str
    passes: list[list[float]]  # seconds per request, per pass
    stale: int = 0  # answers after a bump that still carried the old page's ETag


@dataclass
class Timed:
    times: list[float]
    stale: int


def time_requests(port: int, paths: list[str], before: Callable[[], None] | None = None) -> Timed:
    """Times each request; with `before` (a version bump), also counts the answers that
    were still the page from before the bump (same ETag as that path's previous answer)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    times = []
    stale = 0
    etags: dict[str, str | None] = {}
    try:
        for path in paths:
            if before:
                before()
            start = time.perf_counter()
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            times.append(time.perf_counter() - start)
            if response.status != 200:
                raise SystemExit(f"{path} answered {response.status}")
            etag = response.getheader("ETag")
            stale += int(before is not None and etags.get(path) == etag)
            etags[path] = etag
    finally:
        conn.close()
    return Timed(times, stale)


def measure_latency(port: int, cat: Catalogue, rng: random.Random) -> list[Latency]:
    long_url = f"/anime/{cat.long_slug}/"
    bump_long = lambda: bump_version(cat.long_anime_id)  # noqa: E731
    # Warm-up: templates, URL resolvers and connections in both workers, not measured.
    time_requests(port, [f"/episode/{s}/" for s in rng.sample(cat.episode_slugs, 20)])
    time_requests(port, [long_url] * 6, bump_long)

    episodes = rng.sample(cat.episode_slugs, 150 * LATENCY_PASSES)
    long_episodes = rng.sample(cat.long_episode_slugs, 100 * LATENCY_PASSES)
    anime = rng.sample(cat.typical_slugs, 100 * LATENCY_PASSES)
    scenarios: list[Latency] = [
        Latency("anime page, 1,000 episodes", "version bumped before each request", []),
        Latency("anime page, typical", "distinct anime, each requested once", []),
        Latency("episode page", "distinct episodes of the whole catalogue, each once", []),
        Latency(
            "episode page of the 1,000-episode anime",
            "distinct episodes, each once (shared fragments may be warm)",
            [],
        ),
        Latency(
            "episode page of the 1,000-episode anime",
            "one episode, version bumped before each request (nothing cached)",
            [],
        ),
    ]
    searches = search_paths(rng, 150 * LATENCY_PASSES)
    scenarios += [
        Latency("search (issue 15)", SEARCH_HOW, []),
        Latency("search, catalogue just changed", SEARCH_REBUILT_HOW, []),
    ]
    time_requests(port, searches[:4])  # both workers build their search index
    searches = searches[4:]
    for p in range(LATENCY_PASSES):
        runs = [
            time_requests(port, [long_url] * 100, bump_long),
            time_requests(port, [f"/anime/{s}/" for s in anime[p * 100 : (p + 1) * 100]]),
            time_requests(port, [f"/episode/{s}/" for s in episodes[p * 150 : (p + 1) * 150]]),
            time_requests(port, [f"/episode/{s}/" for s in long_episodes[p * 100 : p * 100 + 50]]),
            time_requests(
                port,
                # The same episode each time: the check for stale answers needs a repeat.
                [f"/episode/{long_episodes[p * 100 + 50]}/"] * 50,
                bump_long,
            ),
            time_requests(port, searches[p * 150 : p * 150 + 100]),
            time_requests(port, searches[p * 150 + 100 : (p + 1) * 150], bump_long),
        ]
        for scenario, run in zip(scenarios, runs, strict=True):
            scenario.passes.append(run.times)
            scenario.stale += run.stale
    return scenarios


SEARCH_HOW = (
    "distinct queries, each once: a typo in a word, a title's start, a Japanese title, "
    "words with genre/status/score filters and a sort"
)
SEARCH_REBUILT_HOW = (
    "distinct queries, an anime's version bumped before each (index rebuilt from MariaDB)"
)


def _typo(word: str, rng: random.Random) -> str:
    if len(word) < 5:
        return word
    i = rng.randrange(1, len(word) - 2)
    return word[:i] + word[i + 1] + word[i] + word[i + 2 :]  # two letters swapped


def search_paths(rng: random.Random, count: int) -> list[str]:
    """Distinct search URLs (each misses the page cache) of the kinds viewers type."""
    from urllib.parse import urlencode

    paths: dict[str, None] = {}
    while len(paths) < count:
        a, b, c = rng.sample(_WORDS, 3)
        kind = len(paths) % 5
        if kind == 0:
            params: dict[str, str] = {"q": f"{_typo(a, rng)} {b}"}
        elif kind == 1:
            params = {"q": f"{a.title()} {b.title()} {c[: rng.randint(2, len(c))]}"}
        elif kind == 2:
            params = {"q": f"ベンチ {rng.randrange(N_ANIME)}"}
        elif kind == 3:
            params = {"q": a, "genre": f"genre-{rng.randrange(N_GENRES)}", "sort": "score"}
        else:
            params = {"q": f"{a} {c}", "status": "completed", "min_score": "7"}
        paths[f"/search/?{urlencode(params)}"] = None
    return list(paths)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


# --- Report --------------------------------------------------------------------------------


def machine_line() -> str:
    cpu = mdsection.cpu_model()
    python = platform.python_version()
    return (
        f"{os.cpu_count()} cores ({cpu}), {platform.machine()}, Python {python}; "
        f"its speed today: a fixed pure-Python loop takes {cpu_reference() * 1e3:.0f} ms "
        "(best of 5), to compare runs on machines whose host gives them more or less"
    )


def cpu_reference() -> float:
    """Seconds one core takes for a fixed Python loop. Machines of the same kind have given
    hello world 1,200 req/s one day and 4,000 another (their host's load): this figure
    says which kind of day a run had, since it moves every absolute number here."""
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        total = 0
        for i in range(3_000_000):
            total += i
        best = min(best, time.perf_counter() - start)
    return best


def render_section(
    cat: Catalogue,
    *,
    fill_seconds: float,
    queries: list[tuple[str, str, int, int]],
    throughput: Throughput | None,
    instructions: list[Cost] | None,
    latency: list[Latency],
    loads: tuple[str, str],
    versions: dict[str, str],
) -> str:
    c = cat.counts
    lines = [
        "## Site",
        "",
        (
            "`bench/bench_site.py`: gunicorn + MariaDB + Redis on one machine, everything "
            "over loopback."
        ),
        "",
        (
            f"- Machine: {machine_line()}; shared with other engineers' jobs, so expect "
            f"noise (load average {loads[0]} at the start, {loads[1]} at the end)."
        ),
        (
            f"- Software: {versions['mariadb']}, Redis {versions['redis']}, Django "
            f"{versions['django']}, gunicorn {versions['gunicorn']}, wrk {versions['wrk']}."
        ),
        (
            f"- Data: {c['anime']:,} anime, {c['episodes']:,} episodes, "
            f"{c['stream links']:,} stream links, {c['download links']:,} download links "
            f"(one anime with 1,000 episodes; made up, bulk-created in {fill_seconds:.0f} s)."
        ),
        (
            "- Server: production settings (DEBUG off, whitenoise manifest static files, "
            f"django-redis cache on db {REDIS_URL.rsplit('/', 1)[-1]}) and "
            "`deploy/gunicorn.conf.py` (gthread, 4 threads, "
            f"keep-alive) with {WORKERS} workers and no worker recycling during the run."
        ),
        "",
        "### Throughput: cached anime page vs hello world (goal ≥ 0.8)",
        "",
    ]
    if throughput is None:
        lines.append("Not measured: `wrk` is not installed (`apt-get install -y wrk`).")
    else:
        lines += [
            (
                f"`wrk -t1 -c{WRK_CONNECTIONS} -d{WRK_SECONDS}s` per URL, {WRK_ROUNDS} rounds; "
                "within a round the URLs run back to back (order reversed every other "
                "round) and each is divided by the hello-world view of the same round. "
                "The baseline views (`bench/site_urls.py`) go through the same gunicorn and "
                "middleware; the two with one SQL query or one Redis GET show what a single "
                "round trip costs on this machine. A cached page is served from the web "
                "process's near cache (`catalog/nearcache.py`): no SQL query and no Redis "
                "read, the versions it is keyed on being cleared through Redis pub/sub by "
                "every change. The last row is the same page from a second, identical "
                "gunicorn with `NEAR_CACHE=0` (the anime's version from MariaDB, the page "
                "from Redis). The 1,000-episode page is bound by its size. The API rows "
                "ask `/api/v1/anime/<slug>/` for the same anime (goal: a cached API answer at "
                "least as fast as the cached HTML page): kept in the near cache like a page, "
                "without the page-only middleware (sessions, language, CSRF, auth, messages, "
                "CSP: `API_MIDDLEWARE`, otakusite/api_edge.py), "
                "plus the API's rate limit per client, on (`API_RATE_LIMIT` far above wrk's "
                "rate so nothing is refused): a client this busy gets its slots booked on "
                "Redis 64 at a time (`otakusite/coordination.py`, Leases), about one Redis "
                "script call per 64 requests; under the default 120 a minute it would be "
                "refused, answered from the process's memory."
            ),
            "",
            (
                "Other jobs on the machine (it is a virtual machine sharing its host) now and "
                "then halve whatever runs at that moment: a dip in the hello-world run "
                "inflates that round's ratios, a dip in a page's run deflates its own. Three "
                "estimates that resist it: the median of the per-round ratios, the best round "
                "of the URL over the best round of hello world (load only ever lowers a rate), "
                "and the gunicorn workers' own CPU time per answered request (from /proc, "
                "median of the rounds), which counts the work a request costs rather than "
                "the time the machine gave it."
            ),
            "",
            (
                "| URL | body | req/s per round | ratio to hello world per round "
                "| median ratio | best / best | worker CPU per request |"
            ),
            "|---|---:|---|---|---:|---:|---:|",
        ]
        best_hello = max(r[0] for r in throughput.rounds)
        for i, label in enumerate(throughput.labels):
            rps = [r[i] for r in throughput.rounds]
            ratios = [r[i] / r[0] for r in throughput.rounds]
            lines.append(
                f"| {label} | {_size(throughput.sizes[i])} "
                f"| {' / '.join(f'{v:,.0f}' for v in rps)} "
                f"| {' / '.join(f'{v:.2f}' for v in ratios)} "
                f"| **{statistics.median(ratios):.2f}** | **{max(rps) / best_hello:.2f}** "
                f"| {statistics.median(r[i] for r in throughput.cpu) * 1e6:,.0f} µs |"
            )
        lines += ["", api_versus_page(throughput)]
    lines += ["", *instruction_lines(instructions)]
    lines += [
        "",
        "### Latency of uncached pages (goal: p95 < 50 ms)",
        "",
        (
            "One client, one request at a time over a keep-alive connection, time to the "
            f"last byte. Each row is {LATENCY_PASSES} passes; p95 per pass, so the spread "
            'shows the noise. "Version bumped" does what ingest does on every change '
            "(`bump_versions`: `Anime.version + 1` and the announcement to the web "
            "processes' near caches, outside the timed part), so the page and its fragments "
            'miss; "old page" counts the answers that still carried the ETag of the answer '
            "before the bump (a near cache that had not heard of the change yet)."
        ),
        "",
        "| page | how | requests | p50 | p95 per pass | max | old page |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for item in latency:
        every = [t for p in item.passes for t in p]
        per_pass = " / ".join(f"{percentile(p, 0.95) * 1e3:.1f}" for p in item.passes)
        bumped = "version bumped" in item.how
        lines.append(
            f"| {item.label} | {item.how} | {len(every)} "
            f"| {statistics.median(every) * 1e3:.1f} ms | {per_pass} ms "
            f"| {max(every) * 1e3:.1f} ms | {item.stale if bumped else '–'} |"
        )
    lines += [
        "",
        (
            "Search (issue 15; goal p95 < 30 ms uncached on 2,000 anime): the page is "
            "never in the cache (each query once). The index of titles and filter columns "
            "is kept per web process for the catalogue's version (`catalog/search.py`); "
            "the second search row bumps an anime's version before each request, so the "
            "worker answering reads the catalogue again and rebuilds it (what the first "
            "search after every ingest pays)."
        ),
        "",
        "### SQL queries per page",
        "",
        (
            "In-process (Django test client + `CaptureQueriesContext`) on the same database; "
            '"uncached" right after deleting every cache key of the run, "cached" is the '
            "second request. Goal: at most 6 uncached, whatever the content."
        ),
        "",
        "| page | URL | uncached | cached |",
        "|---|---|---:|---:|",
    ]
    for label, url, cold, warm in queries:
        lines.append(f"| {label} | `{url}` | {cold} | {warm} |")
    return "\n".join(lines) + "\n"


def api_versus_page(throughput: Throughput) -> str:
    """The API's goal in one line: its cached answer against the cached page, per round."""
    page = throughput.labels.index("cached anime page")
    api = throughput.labels.index("cached API: the same anime as JSON")
    ratios = [r[api] / r[page] for r in throughput.rounds]
    cpu = statistics.median(c[api] for c in throughput.cpu)
    cpu_page = statistics.median(c[page] for c in throughput.cpu)
    return (
        "Cached API answer against the cached page of the same anime (goal: at least as "
        f"fast): req/s ratio per round {' / '.join(f'{v:.2f}' for v in ratios)}, median "
        f"**{statistics.median(ratios):.2f}**; worker CPU per request {cpu * 1e6:,.0f} µs "
        f"against {cpu_page * 1e6:,.0f} µs (**{cpu / cpu_page:.2f}** of the page's)."
    )


def instruction_lines(costs: list[Cost] | None) -> list[str]:
    if costs is None:
        return ["Instructions per request: not measured (`valgrind` is not installed)."]
    by_label = {cost.label: cost.instructions for cost in costs}
    page = by_label["cached anime page"]
    api = by_label["cached API: the same anime as JSON"]
    lines = [
        (
            "Instructions per request, counted by valgrind's callgrind: one process, "
            "every URL through Django's WSGI handler and the middleware it meets in "
            "production (the API's JSON answers their own chain, `API_MIDDLEWARE`), same "
            f"settings, database and Redis, {COST_WARMUP} requests each to warm up, then "
            f"{COST_REQUESTS} counted per URL (the main thread only; gunicorn's share, the "
            "same for every URL but for the bytes it writes, is not in it). Unlike the "
            "rates above it does not move with the host's load (two runs agree within "
            "1.5%), so it settles the API's goal: "
            f"**the cached API answer costs {api / page:.2f} of the cached page's "
            "instructions**."
        ),
        "",
        "| URL | instructions per request |",
        "|---|---:|",
    ]
    lines += [f"| {cost.label} (`{cost.path}`) | {cost.instructions:,.0f} |" for cost in costs]
    return lines


def write_section(section: str) -> None:
    mdsection.write_section("Site", section, OUTPUT)


def tool_versions() -> dict[str, str]:
    import django
    import gunicorn as gunicorn_pkg
    from django.core.cache import cache
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT VERSION()")
        mariadb = cursor.fetchone()[0]
    redis_info = cache.client.get_client().info("server")  # type: ignore[attr-defined]
    wrk = shutil.which("wrk")
    wrk_version = "–"
    if wrk:
        out = subprocess.run([wrk, "-v"], check=False, capture_output=True, text=True).stdout
        wrk_version = out.split()[1] if out.split()[1:] else "?"
    return {
        "mariadb": f"MariaDB {mariadb.split('-')[0]}",
        "redis": str(redis_info.get("redis_version", "?")),
        "django": django.get_version(),
        "gunicorn": gunicorn_pkg.__version__,
        "wrk": wrk_version,
    }


def loadavg() -> str:
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "?"


def _size(n: int) -> str:
    return f"{n} B" if n < 1000 else f"{n / 1000:,.1f} kB"


def main(argv: list[str]) -> int:
    if argv[:1] == ["--cost-child"]:  # measure_instructions' child, under valgrind
        import django

        django.setup()
        cost_child(argv[1:])
        return 0
    # --keep-db (development only): leave the filled database for profiling afterwards.
    keep_db = "--keep-db" in argv
    tmp = Path(tempfile.mkdtemp(prefix="otakusite-bench-site-"))
    configure_environment(tmp / "static")
    loads_start = loadavg()
    admin_sql(f"DROP DATABASE IF EXISTS {DB_NAME}")
    admin_sql(f"CREATE DATABASE {DB_NAME} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    django_ready = False
    try:
        import django

        django.setup()
        django_ready = True
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)
        call_command("collectstatic", verbosity=0, interactive=False)
        clear_bench_cache()
        rng = random.Random(6)
        start = time.perf_counter()
        cat = fill_catalogue(rng)
        fill_seconds = time.perf_counter() - start
        print(f"filled {cat.counts} in {fill_seconds:.1f} s", flush=True)
        queries = count_queries(cat)
        versions = tool_versions()
        clear_bench_cache()
        with (
            gunicorn(free_port(), tmp / "gunicorn.log") as server,
            gunicorn(free_port(), tmp / "gunicorn-no-near.log", {"NEAR_CACHE": "0"}) as no_near,
        ):
            throughput = measure_throughput(server, no_near, cat) if shutil.which("wrk") else None
            print("throughput done", flush=True)
            latency = measure_latency(server.port, cat, rng)
        instructions = measure_instructions(cat)
        section = render_section(
            cat,
            fill_seconds=fill_seconds,
            queries=queries,
            throughput=throughput,
            instructions=instructions,
            latency=latency,
            loads=(loads_start, loadavg()),
            versions=versions,
        )
    finally:
        if django_ready:
            from django.db import connections

            clear_bench_cache()
            connections.close_all()
        if not keep_db:
            admin_sql(f"DROP DATABASE IF EXISTS {DB_NAME}")
        shutil.rmtree(tmp, ignore_errors=True)
    print(section)
    write_section(section)
    print(f"wrote the Site section of {OUTPUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
