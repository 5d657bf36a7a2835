"""Sizing figures for README.md ("Sizing"); writes "## Sizing" in BENCHMARKS.md.

Two measurements the placement of the pieces depends on, taken on this machine:

1. Database size per 1,000 anime: 1,000 synthetic anime x 12 episodes (the generator of
   bench/bench_pipeline.py: ~9 mirrors and 12-36 download links per episode, batches for
   the completed half) ingested with ``ingest_anime()`` into a fresh MariaDB database,
   ``ANALYZE TABLE`` on every table, then data + index bytes from information_schema.
2. Redis memory per 1,000 cached pages: a private redis-server on a free port as the page
   cache (near cache off, so every copy lands in Redis), ``INFO memory`` before and after
   requesting 1,000 distinct anime pages, then 1,000 distinct episode pages, once each
   through the Django test client (each page stores its copy, its kept "stale" copy and
   the fragments and versions it is keyed on).

Needs MariaDB on 127.0.0.1:3306 (root; ``--db-url``) and redis-server. The database
``otakusite_bench_sizing`` is created and dropped.

Run: ``.venv/bin/python bench/bench_sizing.py [--anime 1000] [--no-write]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import mdsection
from bench_pipeline import DEFAULT_DB_URL, _server_connection, scratch_database, synthetic_bundles

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

TITLE = "Sizing"


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_redis(base: Path) -> tuple[subprocess.Popen[bytes], int]:
    server = shutil.which("redis-server") or "/usr/bin/redis-server"
    port = free_port()
    process = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(base)],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    import redis

    client = redis.Redis(port=port)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if client.ping():
                return process, port
        except redis.ConnectionError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("redis-server did not start")


def redis_used(port: int) -> tuple[int, int]:
    """(used_memory bytes, number of keys) of the private Redis."""
    import redis

    client = redis.Redis(port=port)
    try:
        return int(client.info("memory")["used_memory"]), int(client.dbsize())
    finally:
        client.close()


def table_sizes(db_url: str, name: str) -> list[tuple[str, int, int, int]]:
    """(table, rows, data bytes, index bytes) of database ``name``, after ANALYZE."""
    conn = _server_connection(db_url)
    try:
        cur = conn.cursor()
        cur.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (name,)
        )
        for (table,) in cur.fetchall():
            cur.execute(f"ANALYZE TABLE `{name}`.`{table}`")
            cur.fetchall()
        cur.execute(
            "SELECT table_name, table_rows, data_length, index_length "
            "FROM information_schema.tables WHERE table_schema = %s "
            "ORDER BY data_length + index_length DESC",
            (name,),
        )
        return [(t, int(r or 0), int(d or 0), int(i or 0)) for t, r, d, i in cur.fetchall()]
    finally:
        conn.close()


def measure(args: argparse.Namespace) -> dict[str, Any]:
    name = "otakusite_bench_sizing"
    with (
        tempfile.TemporaryDirectory(prefix="bench-sizing-") as tmp,
        scratch_database(args.db_url, name) as url,
    ):
        redis_process, port = start_redis(Path(tmp))
        try:
            os.environ.update(
                DATABASE_URL=url,
                REDIS_URL=f"redis://127.0.0.1:{port}/0",
                DEBUG="",
                DJANGO_SETTINGS_MODULE="tests.settings",
                OTAKUSITE_VAR_DIR=tmp,
            )
            import django
            from django.core.management import call_command

            django.setup()
            call_command("migrate", verbosity=0, interactive=False)
            from catalog.models import Anime, DownloadLink, Episode, StreamLink
            from scraper.ingest import ingest_anime

            # The empty schema's own size (django-q2, auth, sessions...) is not per anime.
            empty = sum(d + i for _t, _r, d, i in table_sizes(args.db_url, name))
            started = time.perf_counter()
            for bundle in synthetic_bundles(args.anime, args.episodes):
                ingest_anime(bundle=bundle)
            ingest_seconds = time.perf_counter() - started
            tables = table_sizes(args.db_url, name)
            rows = {
                "anime": Anime.objects.count(),
                "episodes": Episode.objects.count(),
                "streams": StreamLink.objects.count(),
                "downloads": DownloadLink.objects.count(),
            }
            pages = _cache_pages(port, args.pages)
        finally:
            redis_process.kill()
            redis_process.wait()
    return {"tables": tables, "empty": empty, "rows": rows, "pages": pages,
            "ingest_seconds": ingest_seconds}  # fmt: skip


def _cache_pages(port: int, count: int) -> dict[str, tuple[int, int, int]]:
    """Per kind of page: (pages requested, Redis bytes added, keys added)."""
    from django.core.cache import cache
    from django.test import Client

    from catalog.models import Anime, Episode

    cache.clear()
    client = Client()
    kinds = {
        "anime": [f"/anime/{s}/" for s in Anime.objects.values_list("slug", flat=True)[:count]],
        "episode": [
            f"/episode/{s}/" for s in Episode.objects.values_list("slug", flat=True)[:count]
        ],
    }
    # Shared pieces (the home page's lists, the genre menu) warm once, outside the count.
    client.get("/")
    result = {}
    for kind, paths in kinds.items():
        before_bytes, before_keys = redis_used(port)
        for path in paths:
            response = client.get(path)
            assert response.status_code == 200, (path, response.status_code)
        after_bytes, after_keys = redis_used(port)
        result[kind] = (len(paths), after_bytes - before_bytes, after_keys - before_keys)
    return result


def mib(n: float) -> str:
    return f"{n / 1024**2:,.1f} MiB"


def report(args: argparse.Namespace, found: dict[str, Any]) -> str:
    tables = found["tables"]
    total = sum(d + i for _t, _r, d, i in tables) - found["empty"]
    rows = found["rows"]
    per_1000 = total * 1000 / rows["anime"]
    lines = [
        f"## {TITLE}",
        "",
        (
            f"`bench/bench_sizing.py`, run {time.strftime('%Y-%m-%d')} on {platform.machine()}, "
            f"{os.cpu_count()} cores ({mdsection.cpu_model()}), "
            f"Python {platform.python_version()}; "
            "MariaDB and Redis on the same machine (shared with other engineers' jobs: sizes do "
            "not depend on load)."
        ),
        "",
        f"### Database size per {rows['anime']:,} anime",
        "",
        (
            f"{rows['anime']:,} synthetic anime × {args.episodes} episodes (bench_pipeline's "
            f"generator): {rows['episodes']:,} episodes, {rows['streams']:,} stream mirrors, "
            f"{rows['downloads']:,} download links, ingested in {found['ingest_seconds']:.0f} s; "
            "InnoDB data + index bytes from `information_schema.tables` after `ANALYZE TABLE` "
            f"(the empty schema's {mib(found['empty'])} subtracted). "
            f"**{mib(per_1000)} per 1,000 anime.**"
        ),
        "",
        "| table | rows (estimate) | data | indexes |",
        "|---|---:|---:|---:|",
    ]
    lines += [
        f"| `{t}` | {r:,} | {mib(d)} | {mib(i)} |" for t, r, d, i in tables if d + i >= 1024**2
    ]
    lines += [
        "",
        "### Redis memory per 1,000 cached pages",
        "",
        (
            "A private Redis as the page cache (near cache off); `INFO memory` `used_memory` "
            "before and after requesting distinct pages once each (the page, its kept copy for "
            "database outages, its fragments and the versions it is keyed on)."
        ),
        "",
        "| pages | requested | Redis memory added | per 1,000 pages | keys added |",
        "|---|---:|---:|---:|---:|",
    ]
    for kind, (count, added, keys) in found["pages"].items():
        lines.append(
            f"| {kind} pages | {count:,} | {mib(added)} | {mib(added * 1000 / count)} | {keys:,} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--db-url", default=os.environ.get("BENCH_DB_SERVER", DEFAULT_DB_URL))
    parser.add_argument("--anime", type=int, default=1000)
    parser.add_argument("--episodes", type=int, default=12)
    parser.add_argument("--pages", type=int, default=1000)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    section = report(args, measure(args))
    print(section)
    if not args.no_write:
        mdsection.write_section(TITLE, section)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
