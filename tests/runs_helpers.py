"""Shared pieces of the run-liveness, lock and shutdown operation tests: a private MariaDB and
Redis per test module, a migrated database per test, and what the database says about runs,
locks and the stored catalogue (read with the mariadb client: these tests look at the site
from outside, as an operator would)."""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fake_origin import FakeOrigin
from tests.procs import MariaDB, Redis, manage, running, site_env, start_mariadb, start_redis

_numbers = itertools.count(1)


@dataclass
class Backends:
    mariadb: MariaDB
    redis: Redis


@pytest.fixture(scope="module")
def backends(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backends]:
    tmp_path = tmp_path_factory.mktemp("runs-backends")
    mariadb = start_mariadb(tmp_path, timezones=False)
    redis = start_redis(tmp_path)
    with running(mariadb, redis):
        yield Backends(mariadb, redis)


@dataclass
class Site:
    """A migrated database (its own), Redis (its own db number) and the env of the site's
    processes, crawling ``origin``."""

    env: dict[str, str]
    backends: Backends
    database: str
    redis_db: int

    def sql(self, statement: str) -> list[list[str]]:
        out = self.backends.mariadb.sql(statement, database=self.database)
        return [line.split("\t") for line in out.splitlines() if line]

    def runs(self, kind: str | None = None) -> list[dict[str, str]]:
        where = f"WHERE kind = '{kind}'" if kind else ""
        rows = self.sql(
            "SELECT id, kind, status, owner, REPLACE(REPLACE(errors, '\\n', ' | '), '\\t', ' ') "
            f"FROM catalog_scraperun {where} ORDER BY id"
        )
        keys = ("id", "kind", "status", "owner", "errors")
        return [dict(zip(keys, row, strict=False)) for row in rows]

    def anime_count(self) -> int:
        return int(self.sql("SELECT COUNT(*) FROM catalog_anime")[0][0])

    def locks(self) -> list[str]:
        """The scraper's lock keys in this site's Redis db."""
        import redis as redis_py

        client = redis_py.Redis(port=self.backends.redis.port, db=self.redis_db, socket_timeout=10)
        try:
            return sorted(k.decode() for k in client.keys("*scraper:lock:*"))
        finally:
            client.close()


def make_site(backends: Backends, tmp_path: Path, **extra: str) -> Site:
    n = next(_numbers)
    database = f"runs_{os.getpid()}_{n}"
    redis_db = n % 16
    env = site_env(
        tmp_path,
        database_url=backends.mariadb.url(database),
        redis_url=backends.redis.url(redis_db),
        SCRAPER_RATE_LIMIT="0",
        SCRAPER_RETRIES="1",
        SCRAPER_COOKIE_PATH=str(tmp_path / "cookies.json"),
        CACHE_KEY_PREFIX=f"runs{n}",
        **extra,
    )
    env.pop("CACHE_REDIS_URL", None)
    manage(env, "migrate", "--noinput")
    return Site(env, backends, database, redis_db)


def assert_stored_anime_complete(site: Site, origin: FakeOrigin) -> int:
    """Every anime in the database has all its episodes, each with the mirrors and downloads
    the origin shows (nothing half-written); returns how many anime are stored."""
    rows = site.sql(
        "SELECT a.slug, e.slug, "
        "(SELECT COUNT(*) FROM catalog_streamlink s WHERE s.episode_id = e.id), "
        "(SELECT COUNT(*) FROM catalog_downloadlink d WHERE d.episode_id = e.id) "
        "FROM catalog_anime a LEFT JOIN catalog_episode e ON e.anime_id = a.id"
    )
    stored: dict[str, dict[str, tuple[int, int]]] = {}
    for anime, episode, streams, downloads in rows:
        episodes = stored.setdefault(anime, {})
        if episode != "NULL":
            episodes[episode] = (int(streams), int(downloads))
    for slug, episodes in stored.items():
        truth = origin.truth.anime[slug]
        expected = {e.slug: (len(e.mirrors), len(e.downloads)) for e in truth.episodes}
        assert episodes == expected, f"anime {slug} stored incompletely"
    return len(stored)


def pid_of(owner: str) -> int:
    match = re.fullmatch(r".+:(\d+)", owner)
    assert match, owner
    return int(match.group(1))
