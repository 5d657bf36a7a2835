"""Issue 17, "Reads from a replica, without showing old data": real gunicorn on a MariaDB
primary and a replica with real GTID replication (tests/mariadb_cluster.py), Redis, and a
catalogue crawled from the fake origin.

- Page builds read from the replica when it is up to date (its general log shows them).
- Replication paused, a new episode ingested through the real crawl (`scrape anime SLUG`,
  as the worker runs it): the anime page, the home page and the episode page show it at
  once, and once replication resumes the copies cached under the new version still show
  it (nothing older was cached under it).
- Replica killed or frozen: every page answers 200 with the primary's data.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.fake_origin import FakeOrigin
from tests.mariadb_cluster import ReplicatedMariaDB, mariadb_cluster  # noqa: F401
from tests.procs import (
    Web,
    manage,
    prepare_site,
    running,
    site_env,
    start_gunicorn,
    start_redis,
)

pytestmark = pytest.mark.operation

DATABASE = "replica_site"


@dataclass
class Site:
    cluster: ReplicatedMariaDB
    origin: FakeOrigin
    env: dict[str, str]
    web: Web
    ongoing: list[str]  # slugs of ongoing anime; each test takes its own
    others: list[str]  # the other anime
    tmp: Path

    def get(self, path: str) -> httpx.Response:
        response = self.web.get(path, timeout=60)
        assert response.status_code == 200, (path, response.status_code, response.text[:500])
        return response

    def primary(self, sql: str) -> list[str]:
        return self.cluster.primary.sql(sql, database=DATABASE).split("\n")[:-1]

    def replica(self, sql: str) -> list[str]:
        return self.cluster.replica.sql(sql, database=DATABASE).split("\n")[:-1]


@pytest.fixture(scope="module")
def site(
    mariadb_cluster: ReplicatedMariaDB,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("replica")
    primary_url, replica_url = mariadb_cluster.urls(DATABASE)
    redis = start_redis(tmp)
    with running(redis), FakeOrigin(seed=17, size=12) as origin:
        env = site_env(
            tmp,
            database_url=primary_url,
            redis_url=redis.url(0),
            DATABASE_REPLICA_URL=replica_url,
            OTAKUDESU_BASE_URL=origin.base_url,
            SCRAPER_RATE_LIMIT="0",
            AUTO_FIRST_CRAWL="0",
        )
        # Migrations and the crawl write on the primary (the replica's account could not).
        prepare_site(env)
        manage(env, "scrape", "full")
        mariadb_cluster.wait_caught_up()
        ongoing = [a.slug for a in origin.truth.ongoing() if a.episodes]
        others = [a.slug for a in origin.truth.alphabetical() if a.slug not in ongoing]
        assert ongoing
        assert len(others) >= 4, others
        web = start_gunicorn(env, tmp, workers=2)
        with running(web):
            yield Site(mariadb_cluster, origin, env, web, ongoing, others, tmp)


def episode_links(html: str) -> set[str]:
    return set(re.findall(r'href="/episode/([^"/]+)/"', html))


def replica_queries(site: Site, table: str) -> int:
    """Statements of the site's replica account that read ``table``, from the replica's
    general log (switched on by ``logging_replica_reads``)."""
    rows = site.cluster.replica.sql(
        "SELECT COUNT(*) FROM mysql.general_log WHERE user_host LIKE 'reader%' "
        f"AND command_type = 'Query' AND argument LIKE '%{table}%'"
    )
    return int(rows.strip())


@pytest.fixture
def logging_replica_reads(site: Site) -> Iterator[None]:
    site.cluster.replica_local_sql(
        "SET GLOBAL log_output = 'TABLE'; TRUNCATE mysql.general_log; SET GLOBAL general_log = 1"
    )
    try:
        yield
    finally:
        site.cluster.replica_local_sql("SET GLOBAL general_log = 0; TRUNCATE mysql.general_log")


def test_page_builds_read_from_an_up_to_date_replica(
    site: Site,
    logging_replica_reads: None,
) -> None:
    slug = next(s for s in site.others if site.origin.truth.anime[s].episodes)
    site.others.remove(slug)
    before = replica_queries(site, "catalog_episode")
    page = site.get(f"/anime/{slug}/").text
    # The page shows what the database holds, read from the replica.
    stored = set(
        site.primary(
            "SELECT e.slug FROM catalog_episode e JOIN catalog_anime a ON a.id = e.anime_id "
            f"WHERE a.slug = '{slug}'"
        )
    )
    assert stored <= episode_links(page)
    assert replica_queries(site, "catalog_episode") > before
    assert site.get("/healthz/ready").json()["dependencies"]["database_replica"] == "up"


def test_a_new_episode_shows_at_once_while_the_replica_lags_and_nothing_stale_is_cached(
    site: Site,
) -> None:
    slug = site.ongoing.pop()
    anime_path = f"/anime/{slug}/"
    # Cached before the change, under the old versions (near caches and Redis).
    for path in (anime_path, "/", "/ongoing/"):
        site.get(path)
        site.get(path)
    old_episodes = episode_links(site.get(anime_path).text)

    with site.cluster.paused():
        new_slug = site.origin.truth.add_episode(slug)
        manage(site.env, "scrape", "anime", slug)  # the real crawl and ingest, on the primary
        # The replica really is behind: it has not applied the new episode.
        assert site.primary(f"SELECT COUNT(*) FROM catalog_episode WHERE slug = '{new_slug}'") == [
            "1"
        ]
        assert site.replica(f"SELECT COUNT(*) FROM catalog_episode WHERE slug = '{new_slug}'") == [
            "0"
        ]
        # At once, on both gunicorn workers (each has its own near cache): the new episode.
        for _ in range(4):
            assert new_slug in episode_links(site.get(anime_path).text)
            assert new_slug in episode_links(site.get("/").text)
        assert site.get(f"/episode/{new_slug}/").status_code == 200
        assert episode_links(site.get(anime_path).text) >= old_episodes | {new_slug}

    # Replication resumed and caught up: the copies cached under the new versions while it
    # lagged are served now, and they hold the new episode.
    for _ in range(4):
        assert new_slug in episode_links(site.get(anime_path).text)
        assert new_slug in episode_links(site.get("/").text)


def assert_correct(site: Site, slug: str) -> None:
    page = site.get(f"/anime/{slug}/").text
    stored = set(
        site.primary(
            "SELECT e.slug FROM catalog_episode e JOIN catalog_anime a ON a.id = e.anime_id "
            f"WHERE a.slug = '{slug}'"
        )
    )
    assert stored <= episode_links(page)
    assert html.escape(site.origin.truth.anime[slug].title) in page


@pytest.mark.parametrize("how", ["killed", "frozen"])
def test_pages_come_from_the_primary_while_the_replica_is_down(site: Site, how: str) -> None:
    # Both workers hold open replica connections from earlier requests.
    for slug in site.others[:2]:
        site.get(f"/anime/{slug}/")
    fresh = [site.others.pop(), site.others.pop()]  # never requested: built while it is down
    if how == "killed":
        site.cluster.kill_replica()
    else:
        site.cluster.freeze_replica()
    try:
        for slug in fresh:
            assert_correct(site, slug)
        for path in ("/", "/ongoing/", "/completed/", "/anime/", "/jadwal/", "/search/?q=a"):
            site.get(path)  # 200, asserted in get()
        for slug in site.others:
            assert_correct(site, slug)
        # Readiness: still ready (reads fall back), but says the replica is down.
        health = site.get("/healthz/ready").json()
        assert health["status"] == "degraded"
        assert health["dependencies"]["database_replica"] == "down"
    finally:
        if how == "killed":
            site.cluster.start_replica()
        else:
            site.cluster.thaw_replica()
            site.cluster.wait_caught_up()
