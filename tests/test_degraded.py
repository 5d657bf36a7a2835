"""Issue 11 items 7, 8 and 14: the site keeps answering when Redis or the database hangs or
goes away, says so on /healthz, and comes back without a restart.

Through real gunicorn (deploy/gunicorn.conf.py) on a private MariaDB and Redis that the
tests freeze (SIGSTOP), stop and restart, with a catalogue crawled from the fake origin.
Answer times are measured with a generous client timeout (30 s), so a regression shows as
the time it took; the bound asserted (5 s) is the requirement itself.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.fake_origin import FakeOrigin
from tests.procs import (
    REPO_ROOT,
    MariaDB,
    Redis,
    Web,
    manage,
    prepare_site,
    running,
    site_env,
    start_gunicorn,
    start_manage,
    start_mariadb,
    start_redis,
    wait_until,
)

pytestmark = pytest.mark.operation

ANSWER_WITHIN = 5.0  # seconds: issue 11 item 7
CLIENT_TIMEOUT = 30.0  # only so that a hang ends; the measured time is what is asserted
STALE_NOTICE = "Data per"
DEGRADED_NOTICE = "salinan tersimpan terakhir"
FRIENDLY_503 = "Sedang ada gangguan"


@dataclass
class Site:
    db: MariaDB
    redis: Redis
    env: dict[str, str]
    anime: list[str]  # anime page paths; each test takes its own (never requested elsewhere)
    tmp: Path

    def take_anime(self) -> str:
        return self.anime.pop()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("degraded")
    db = start_mariadb(tmp)
    redis = start_redis(tmp)
    with running(redis, db), FakeOrigin(seed=11, size=16) as origin:
        env = site_env(
            tmp,
            database_url=db.url("site"),
            redis_url=redis.url(0),
            OTAKUDESU_BASE_URL=origin.base_url,
            SCRAPER_RATE_LIMIT="0",
            AUTO_FIRST_CRAWL="0",
        )
        prepare_site(env)
        manage(env, "scrape", "full")
        slugs = db.sql("SELECT slug FROM catalog_anime ORDER BY slug", database="site").split()
        assert len(slugs) >= 8, slugs
        yield Site(db, redis, env, [f"/anime/{slug}/" for slug in slugs], tmp)


def timed_get(web: Web, path: str) -> tuple[float, httpx.Response | None]:
    """(seconds taken, the answer, or None when the client gave up after CLIENT_TIMEOUT)."""
    started = time.monotonic()
    try:
        response = web.get(path, timeout=CLIENT_TIMEOUT)
    except httpx.TimeoutException:
        response = None
    return time.monotonic() - started, response


def answered(web: Web, path: str, baseline: float = 0.0) -> httpx.Response:
    """The answer, asserted to come within ANSWER_WITHIN seconds beyond `baseline` (what the
    same kind of request cost just before on this machine, all services up: on a loaded
    2-core CI machine a page alone can take seconds, which is not what is tested)."""
    elapsed, response = timed_get(web, path)
    assert response is not None, f"{path}: no answer within {CLIENT_TIMEOUT:.0f} s"
    assert elapsed < ANSWER_WITHIN + baseline, (
        f"{path}: answered in {elapsed:.1f} s (the same request with every service up: "
        f"{baseline:.1f} s)"
    )
    return response


def is_friendly_503(response: httpx.Response) -> None:
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) > 0
    assert FRIENDLY_503 in response.text  # Indonesian, from templates/503.html
    assert 'class="topbar"' in response.text  # the site's look (base.html)
    assert "/static/css/site" in response.text
    assert "Server Error (500)" not in response.text


def fresh(web: Web, path: str) -> bool:
    response = web.get(path)
    return response.status_code == 200 and "X-Otakusite-Degraded" not in response.headers


# --------------------------------------------------------------------------- Redis


def test_frozen_redis_costs_seconds_not_minutes(site: Site) -> None:
    """Item 7 (Redis): cached and uncached pages answer within 5 s while Redis is frozen,
    readiness says Redis is down but stays 200 (item 14), and all is well after a thaw."""
    web = start_gunicorn(site.env, site.tmp)
    with running(web):
        cached, uncached = site.take_anime(), site.take_anime()
        for _ in range(2):  # the second answer comes from the cache
            assert web.get(cached).status_code == 200
        assert web.get("/ongoing/").status_code == 200
        site.redis.freeze()
        try:
            for path in (cached, uncached, "/ongoing/", "/jadwal/", cached):
                response = answered(web, path)
                assert response.status_code == 200, path
            ready = answered(web, "/healthz/ready")
            assert ready.status_code == 200
            assert ready.json()["cache"] is False
            assert ready.json()["dependencies"]["cache"] == "down"
            assert ready.json()["status"] == "degraded"
            assert answered(web, "/healthz/live").status_code == 200
        finally:
            site.redis.thaw()
        wait_until(lambda: web.get("/healthz/ready").json()["cache"] is True, "Redis back")
        # The near cache's listener subscribed again by itself (no restart).
        wait_until(lambda: web.get("/healthz/ready").json()["near_cache"] == "live", "listener")
        assert web.get(uncached).status_code == 200


def test_redis_down_is_ready_but_degraded(site: Site) -> None:
    """Item 14: Redis stopped: pages are served from the database, so readiness answers 200
    (saying Redis is down), liveness 200; Redis back: reported up again, no restart."""
    web = start_gunicorn(site.env, site.tmp)
    with running(web):
        path, before = site.take_anime(), site.take_anime()
        # An uncached anime page with Redis up: warms the worker and measures the machine.
        baseline, response = timed_get(web, before)
        assert response is not None
        assert response.status_code == 200
        site.redis.stop()
        try:
            assert answered(web, path, baseline).status_code == 200
            ready = answered(web, "/healthz")
            assert ready.status_code == 200, ready.text
            data = ready.json()
            assert data["database"] is True
            assert data["dependencies"]["database"] == "up"
            assert data["dependencies"]["cache"] == "down"
            assert data["status"] == "degraded"
            assert answered(web, "/healthz/live").status_code == 200
        finally:
            site.redis.restart()
        wait_until(lambda: web.get("/healthz").json()["status"] == "ok", "Redis reported up")
        assert web.get(path).status_code == 200


# --------------------------------------------------------------------------- database


def warm(web: Web, *paths: str) -> None:
    for path in paths:
        response = web.get(path)
        assert response.status_code == 200, path
        assert STALE_NOTICE not in response.text  # fresh data: no notice yet


def test_frozen_database_costs_seconds_not_minutes(site: Site) -> None:
    """Item 7 (database) and item 8 (frozen): while MariaDB is frozen a page served before
    answers from its kept copy with the notice, a page never served gets the friendly 503,
    each within 5 s; readiness says the database is down; after the thaw pages are fresh."""
    # Without the near cache every page needs the database for its data's version, so the
    # kept copy is what answers (with it, the in-memory copy may answer for a few seconds).
    web = start_gunicorn(site.env, site.tmp, NEAR_CACHE="0")
    with running(web):
        cached, uncached = site.take_anime(), site.take_anime()
        warm(web, cached, "/ongoing/")
        site.db.freeze()
        try:
            for path in (cached, "/ongoing/", cached):
                response = answered(web, path)
                assert response.status_code == 200, path
                assert STALE_NOTICE in response.text
                assert DEGRADED_NOTICE in response.text
            is_friendly_503(answered(web, uncached))
            ready = answered(web, "/healthz/ready")
            assert ready.status_code == 503
            assert ready.json()["dependencies"]["database"] == "down"
            assert answered(web, "/healthz/live").status_code == 200
        finally:
            site.db.thaw()
        wait_until(lambda: fresh(web, uncached), "pages fresh after the thaw")
        wait_until(lambda: fresh(web, cached), "the kept page fresh again")
        assert web.get("/healthz/ready").status_code == 200
        assert web.process.poll() is None  # the same gunicorn: nobody restarted it


def test_database_down_serves_kept_pages_and_a_friendly_503(site: Site) -> None:
    """Item 8: MariaDB stopped for longer than any short-lived cache: pages served before
    answer 200 from their kept copy with the "data as of" notice, others the Indonesian 503
    page with Retry-After; /healthz/ready says the database is down; MariaDB restarted:
    fresh pages again, gunicorn never restarted."""
    web = start_gunicorn(site.env, site.tmp, NEAR_CACHE="0")
    with running(web):
        kept, never = site.take_anime(), site.take_anime()
        warm(web, kept, "/", "/ongoing/", "/jadwal/")
        site.db.stop()
        try:
            for path in (kept, "/", "/ongoing/", "/ongoing/?utm_source=x", "/jadwal/"):
                response = answered(web, path)
                assert response.status_code == 200, path
                assert STALE_NOTICE in response.text, path
                assert DEGRADED_NOTICE in response.text, path
                assert response.headers["X-Otakusite-Degraded"].startswith("database")
            is_friendly_503(answered(web, never))
            api = answered(web, "/api/mirror/1/")
            assert api.status_code == 503
            assert api.json()["ok"] is False
            ready = answered(web, "/healthz/ready")
            assert ready.status_code == 503
            assert ready.json()["database"] is False
            assert ready.json()["dependencies"]["database"] == "down"
            assert ready.json()["status"] == "unavailable"
            assert answered(web, "/healthz/live").status_code == 200
            # The container's health check is liveness: a database outage restarts nothing.
            check = healthcheck(web, "/healthz/live")
            assert check.returncode == 0, check.stderr
        finally:
            site.db.restart()
        wait_until(lambda: fresh(web, never), "pages fresh after the restart")
        wait_until(lambda: fresh(web, kept), "the kept page fresh again")
        assert STALE_NOTICE not in web.get(kept).text
        assert web.get("/healthz/ready").json()["status"] == "ok"
        assert web.process.poll() is None  # the same gunicorn: nobody restarted it


def healthcheck(web: Web, path: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(REPO_ROOT / "deploy" / "healthcheck.py")],
        env={"HEALTHCHECK_URL": web.url + path, "ALLOWED_HOSTS": "localhost"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_error_pages_in_the_site_look(site: Site) -> None:
    """404 in the site's look (templates/404.html), in Indonesian."""
    web = start_gunicorn(site.env, site.tmp, workers=1)
    with running(web):
        missing = web.get("/anime/no-such-anime-at-all/")
        assert missing.status_code == 404
        assert "Halaman tidak ditemukan" in missing.text
        assert 'class="topbar"' in missing.text


# --------------------------------------------------------------------------- worker


def worker_health(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return manage(env, "worker_health", check=False, timeout=120)


def test_worker_health_follows_the_cluster(site: Site) -> None:
    """Item 14 (worker): `manage.py worker_health` (the worker container's health check)
    is healthy while qcluster runs, unhealthy when it hangs (frozen) or is gone."""
    assert worker_health(site.env).returncode != 0  # no cluster yet
    cluster = start_manage(site.env, site.tmp, "qcluster", name="qcluster")
    with running(cluster):
        wait_until(lambda: worker_health(site.env).returncode == 0, "cluster healthy")
        assert "healthy" in worker_health(site.env).stdout
        cluster.freeze()
        try:
            wait_until(lambda: worker_health(site.env).returncode == 1, "frozen cluster unhealthy")
        finally:
            cluster.thaw()
        wait_until(lambda: worker_health(site.env).returncode == 0, "cluster healthy again")
        cluster.stop()
        wait_until(lambda: worker_health(site.env).returncode == 1, "stopped cluster unhealthy")
    result = worker_health(site.env)
    assert "no running cluster" in result.stderr
