"""Issue 11 item 10 as an operator lives it: `manage.py scrape` on a private MariaDB and
Redis meets an embed host nobody approved; the site, served by real gunicorn workers (near
cache on), neither allows it in the CSP nor frames it nor hands out its mirrors, and the
health check command leaves it alone, until an admin approves it in the admin over HTTP
(login, CSRF, the changelist action). Then every worker allows it within seconds.

tests/test_embed_policy.py holds the same checks in-process (and the unsafe-URL ones)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.fake_origin import FakeOrigin
from tests.procs import (
    Web,
    manage,
    running,
    site_env,
    start_gunicorn,
    start_mariadb,
    start_redis,
    wait_until,
)

pytestmark = pytest.mark.operation

PASSWORD = "penjaga-" + "r4hasia" * 3


def frame_src(response: httpx.Response) -> list[str]:
    for part in response.headers["Content-Security-Policy"].split(";"):
        words = part.split()
        if words and words[0] == "frame-src":
            return words[1:]
    return []


def player_src(html: str) -> str | None:
    tag = re.search(r'<iframe id="player-frame"[^>]*>', html)
    assert tag is not None, "no player on the page"
    src = re.search(r'\ssrc="([^"]*)"', tag.group(0))
    return src.group(1) if src else None


class Admin:
    """A superuser's browser session on the real site: cookies, CSRF tokens, forms."""

    def __init__(self, web: Web) -> None:
        self.client = httpx.Client(base_url=web.url, headers={"Host": "localhost"}, timeout=30)

    def token(self, html: str) -> str:
        match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
        assert match, "no CSRF token in the form"
        return match.group(1)

    def login(self, username: str, password: str) -> None:
        form = self.client.get("/admin/login/?next=/admin/")
        done = self.client.post(
            "/admin/login/?next=/admin/",
            data={
                "csrfmiddlewaretoken": self.token(form.text),
                "username": username,
                "password": password,
                "next": "/admin/",
            },
        )
        assert done.status_code == 302, done.text[-2000:]

    def changelist(self) -> str:
        page = self.client.get("/admin/catalog/embedhost/")
        assert page.status_code == 200
        return page.text

    def action(self, action: str, host: str) -> None:
        html = self.changelist()
        row = re.search(
            r'name="_selected_action" value="(\d+)"[^<]*</td>\s*<th[^>]*><a[^>]*>'
            + re.escape(host),
            html,
        )
        assert row, f"{host} is not listed"
        done = self.client.post(
            "/admin/catalog/embedhost/",
            data={
                "csrfmiddlewaretoken": self.token(html),
                "action": action,
                "_selected_action": row.group(1),
                "index": "0",
            },
        )
        assert done.status_code == 302, done.text[-2000:]

    def close(self) -> None:
        self.client.close()


@pytest.fixture
def origin() -> Iterator[FakeOrigin]:
    with FakeOrigin(seed=5, size=3) as server:
        yield server


def test_a_pending_embed_host_is_used_nowhere_until_an_admin_approves_it(
    origin: FakeOrigin, tmp_path: Path
) -> None:
    mariadb = start_mariadb(tmp_path, timezones=False)
    redis = start_redis(tmp_path)
    with running(mariadb, redis):
        env = site_env(
            tmp_path,
            database_url=mariadb.url("policy"),
            redis_url=redis.url(),
            OTAKUDESU_BASE_URL=origin.base_url,
            SCRAPER_RATE_LIMIT="0",
            SCRAPER_RETRIES="1",
            SCRAPER_COOKIE_PATH=str(tmp_path / "cookies.json"),
            # The real otakudesu hosts only: the fake's embed host is new to the policy.
            EMBED_HOSTS_ALLOWED="desustream.com,*.desustream.com",
            DJANGO_SUPERUSER_PASSWORD=PASSWORD,
        )
        env.pop("CACHE_REDIS_URL", None)
        manage(env, "migrate", "--noinput")
        manage(env, "collectstatic", "--noinput")
        anime = next(iter(origin.truth.anime.values()))
        slug = anime.episodes[0].slug
        host = urlsplit(origin.embed_base).netloc

        crawl = manage(env, "scrape", "anime", anime.slug)
        manage(env, "createsuperuser", "--noinput", "--username", "penjaga", "--email", "p@x.test")

        web = start_gunicorn(env, tmp_path, workers=2)
        with running(web):
            # Several requests: both workers answer, neither allows the pending host.
            for _ in range(6):
                page = web.get(f"/episode/{slug}/")
                assert page.status_code == 200
                assert frame_src(page) == ["'self'"]
                assert player_src(page.text) is None
            link_id = re.search(r'data-mirror="(\d+)"', page.text).group(1)
            refused = web.get(f"/api/mirror/{link_id}/")
            assert refused.status_code == 403
            assert "url" not in refused.json()
            # The operator was told, by name.
            assert f"host embed baru menunggu persetujuan: {host}" in crawl.stderr

            # The health check command contacts no pending host.
            origin.reset_log()
            check = manage(env, "check_mirrors")
            assert "0 checked" in check.stdout + check.stderr
            assert [r for r in origin.requests if r.host == host] == []

            admin = Admin(web)
            try:
                admin.login("penjaga", PASSWORD)
                listing = admin.changelist()
                assert "menunggu persetujuan" in listing
                admin.action("approve_hosts", host)
            finally:
                admin.close()

            def every_worker_frames_it() -> bool:
                pages = [web.get(f"/episode/{slug}/") for _ in range(6)]
                return all(
                    host in frame_src(p) and player_src(p.text) == anime.episodes[0].default_embed
                    for p in pages
                )

            # Other workers re-read the allowed hosts within seconds (near cache).
            wait_until(every_worker_frames_it, "the approved host allowed by every worker")
            allowed = web.get(f"/api/mirror/{link_id}/")
            assert allowed.status_code == 200
            assert urlsplit(allowed.json()["url"]).netloc == host

            origin.reset_log()
            check = manage(env, "check_mirrors")
            assert [r for r in origin.requests if r.host == host], check.stdout + check.stderr
