"""The "Lapor rusak" endpoint as deployed: the shipped nginx in front of two gunicorn
workers, Redis for the broker and for the page cache. Viewers are told apart by the
address nginx resolves (X-Forwarded-For from a trusted proxy, here loopback; X-Real-IP is
set by nginx itself, so a viewer's own is ignored), and the rate limit counts in the
broker's Redis, which every web process shares and which never evicts."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from catalog import mirror_reports
from tests.edge_helpers import crawled_site_env, start_shipped_nginx
from tests.fake_origin import FakeOrigin
from tests.procs import Redis, running, start_gunicorn, start_redis

pytestmark = pytest.mark.operation


@dataclass
class Deployed:
    url: str
    database: Path
    broker: Redis
    cache: Redis


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    tmp_path = tmp_path_factory.mktemp("reports")
    broker = start_redis(tmp_path)
    cache = start_redis(tmp_path)
    with running(broker, cache), FakeOrigin(seed=4, size=3) as origin:
        env = crawled_site_env(
            tmp_path,
            origin.base_url,
            REDIS_URL=broker.url(0),
            CACHE_REDIS_URL=cache.url(0),
            BEHIND_PROXY="1",
        )
        web = start_gunicorn(env, tmp_path, workers=2)
        with running(web):
            nginx, url = start_shipped_nginx(
                tmp_path, web_port=web.port, static_dir=tmp_path / "staticfiles"
            )
            with running(nginx):
                yield Deployed(url, tmp_path / "site.sqlite3", broker, cache)


def link_ids(deployed: Deployed, count: int) -> list[int]:
    with sqlite3.connect(deployed.database) as db:
        rows = db.execute("SELECT id FROM catalog_streamlink ORDER BY id LIMIT ?", [count])
        return [row[0] for row in rows]


def report_count(deployed: Deployed) -> int:
    with sqlite3.connect(deployed.database) as db:
        return int(db.execute("SELECT COUNT(*) FROM catalog_mirrorreport").fetchone()[0])


class Browser:
    """One viewer: its cookie jar, the CSRF token the player fetches, its address as the
    proxy in front of nginx reports it."""

    def __init__(self, base: str, address: str) -> None:
        # No keep-alive: each request may land on either gunicorn worker.
        limits = httpx.Limits(max_keepalive_connections=0)
        self.http = httpx.Client(base_url=base, timeout=30, limits=limits)
        self.address = address
        self.token = self.http.get("/api/token/", headers=self.headers()).json()["token"]

    def headers(self, **extra: str) -> dict[str, str]:
        return {"X-Forwarded-For": self.address, **extra}

    def report(self, link_id: int, **extra: str) -> httpx.Response:
        headers = self.headers(**{"X-CSRFToken": self.token, **extra})
        return self.http.post(f"/api/mirror/{link_id}/lapor/", headers=headers)


def test_reports_through_nginx_are_limited_per_viewer_across_processes(
    deployed: Deployed,
) -> None:
    limit = mirror_reports.REPORTS_PER_WINDOW
    ids = link_ids(deployed, limit + 2)
    assert len(ids) == limit + 2, "the crawl stored too few mirrors"
    first = Browser(deployed.url, "203.0.113.10")

    # Without the token the CSRF check refuses it, and nothing is counted.
    refused = first.http.post(f"/api/mirror/{ids[0]}/lapor/", headers=first.headers())
    assert refused.status_code == 403
    assert report_count(deployed) == 0

    for link_id in ids[:limit]:
        answer = first.report(link_id)
        assert answer.status_code == 200, answer.text
        assert answer.json()["counted"] is True
    # The viewer's own X-Real-IP changes nothing: nginx sets that header.
    limited = first.report(ids[limit], **{"X-Real-IP": "192.0.2.200"})
    assert limited.status_code == 429
    assert "Retry-After" in limited.headers
    assert report_count(deployed) == limit

    second = Browser(deployed.url, "203.0.113.11")
    assert second.report(ids[limit]).status_code == 200
    assert second.report(ids[limit]).json()["counted"] is False  # once a day per viewer
    assert report_count(deployed) == limit + 1

    # The counters live in the broker's Redis (shared, never evicted), not the page cache's.
    assert any("rate:mirror-report:" in key for key in deployed.broker.cli("KEYS", "*").split())
    assert "rate:mirror-report:" not in deployed.cache.cli("KEYS", "*")
