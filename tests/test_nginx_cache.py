"""Issue 13: nginx's one-second page cache in front of gunicorn (deploy/nginx/nginx.conf).

Real processes: the shipped nginx config (local ports and paths) → gunicorn
(deploy/gunicorn.conf.py) → SQLite filled by a crawl of the fake origin, pages cached in a
private Redis. Each answer says how nginx got it in X-Cache-Status (HIT, MISS, EXPIRED,
STALE, BYPASS; absent where nothing is cached). What a viewer or an operator would notice:
a new episode shows within the cache's second, each language and each query string gets its
own copy, nothing a logged-in admin asked for is ever served to anyone else, and pages keep
answering while gunicorn is down, fresh again once it is back.
"""

from __future__ import annotations

import contextlib
import http.server
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.edge_helpers import brotli_loaded, crawled_site_env, local_nginx_conf
from tests.fake_origin import FakeOrigin
from tests.procs import (
    Service,
    Web,
    free_port,
    manage,
    running,
    start_gunicorn,
    start_manage,
    start_nginx,
    start_redis,
    wait_until,
)

pytestmark = pytest.mark.operation

HOST = "otakusite.test"
# nginx keeps a copy fresh for `proxy_cache_valid 200 1s`, counted in whole seconds of its
# clock: a copy stored at 10.9 s is still served at 11.99 s. So a change is certain to show
# in every answer to a request that starts this long after the change was committed.
CACHE_SECONDS = 1 + 1


@dataclass
class Site:
    origin: FakeOrigin
    env: dict[str, str]
    web: Web
    nginx: str
    slugs: list[str]
    tmp: Path

    def get(self, path: str, **kwargs: object) -> httpx.Response:
        headers = {"Host": HOST, **dict(kwargs.pop("headers", {}) or {})}  # type: ignore[call-overload]
        return httpx.get(self.nginx + path, headers=headers, timeout=30, **kwargs)  # type: ignore[arg-type]

    def new_episode(self, anime_slug: str, *, meanwhile: Callable[[], object] | None = None) -> str:
        """The origin publishes an episode and the site ingests it (`scrape anime SLUG`, a
        separate process, as the worker would), calling ``meanwhile`` over and over until
        it is done; returns the new episode's page path."""
        episode_slug = self.origin.truth.add_episode(anime_slug)
        crawl = start_manage(self.env, self.tmp, "scrape", "anime", anime_slug, name="crawl")
        while meanwhile is not None and crawl.process.poll() is None:
            meanwhile()
        assert crawl.process.wait() == 0, crawl.log_text()[-3000:]
        return f"/episode/{episode_slug}/"


def status(response: httpx.Response) -> str | None:
    return response.headers.get("x-cache-status")


def until(
    site: Site, path: str, wanted: Callable[[httpx.Response], bool], what: str, **kwargs: object
) -> httpx.Response:
    """Request ``path`` until an answer is ``wanted``; returns that answer."""
    found: list[httpx.Response] = []

    def check() -> bool:
        response = site.get(path, **kwargs)
        found[:] = [response]
        return wanted(response)

    wait_until(check, what, deadline=60, interval=0.05)
    return found[0]


def until_hit(site: Site, path: str, **kwargs: object) -> httpx.Response:
    return until(site, path, lambda r: status(r) == "HIT", f"a cache HIT for {path}", **kwargs)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("nginxcache")
    redis = start_redis(tmp)
    with running(redis), FakeOrigin(seed=5, size=8) as origin:
        # BEHIND_PROXY as in docker-compose.yml: Django takes the client from nginx. A low
        # API limit (a slot every 12 s): spent by a few requests however slow the machine.
        env = crawled_site_env(
            tmp, origin.base_url, REDIS_URL=redis.url(0), BEHIND_PROXY="1", API_RATE_LIMIT="5"
        )
        web = start_gunicorn(env, tmp, workers=2)
        with running(web):
            port = free_port()
            conf = local_nginx_conf(
                tmp,
                listen_port=port,
                web_port=web.port,
                static_dir=tmp / "staticfiles",
                extra_swaps={"include /etc/nginx/tls/*.conf;": ""},
            )
            nginx: Service = start_nginx(conf, tmp, port=port)
            with running(nginx):
                slugs = sorted(origin.truth.anime)
                yield Site(origin, env, web, f"http://127.0.0.1:{port}", slugs, tmp)


def test_a_new_episode_shows_within_the_cache_second(site: Site) -> None:
    page = f"/anime/{site.slugs[0]}/"
    cached = until_hit(site, page)
    assert cached.status_code == 200
    # Browsers still revalidate every time (the ETag); only nginx keeps the copy.
    assert cached.headers["cache-control"] == "no-cache"

    # Viewers keep reading the page while the crawl runs, so nginx holds a copy from just
    # before the commit (a crawl takes longer than the cache's second).
    episode = site.new_episode(site.slugs[0], meanwhile=lambda: site.get(page))
    committed = time.monotonic()
    assert episode not in cached.text

    # (seconds after the commit the request started, X-Cache-Status, shows the episode)
    answers: list[tuple[float, str | None, bool]] = []
    late: list[tuple[float, str | None, bool]] = []
    # Poll past the cache's validity until the cache serves again (HITs of the new copy);
    # the 60 s bound only ends a hang.
    while not (late and late[-1][0] >= CACHE_SECONDS + 1 and any(a[1] == "HIT" for a in late)):
        started = time.monotonic()
        response = site.get(page)
        assert response.status_code == 200
        answers.append((started - committed, status(response), episode in response.text))
        late = [a for a in answers if a[0] >= CACHE_SECONDS]
        assert answers[-1][0] < 60, answers
    assert all(shows for _, _, shows in late), late


def test_each_language_gets_its_own_copy(site: Site) -> None:
    page = f"/anime/{site.slugs[1]}/"
    switch = site.get(f"/bahasa/en/?next={page}")
    assert switch.status_code == 302
    assert status(switch) != "HIT"  # an answer that sets a cookie is never cached
    english = {"django_language": switch.cookies["django_language"]}

    indonesian = until_hit(site, page)
    assert indonesian.headers["content-language"] == "id"
    # The English reader's first request comes while the Indonesian copy is fresh.
    first = site.get(page, cookies=english)
    assert first.headers["content-language"] == "en"
    assert first.text != indonesian.text
    assert until_hit(site, page, cookies=english).headers["content-language"] == "en"
    # A cookie with another (or no known) language reads the default copy.
    other = until_hit(site, page, cookies={"django_language": "xx"})
    assert other.headers["content-language"] == "id"
    assert other.text == indonesian.text


def test_query_parameters_are_part_of_the_key(site: Site) -> None:
    title = site.origin.truth.anime[site.slugs[2]].title
    word = max(title.split(), key=len)
    found = until_hit(site, "/search/", params={"q": word})
    nothing = until_hit(site, "/search/", params={"q": "zzzqqq-no-such-anime"})
    assert f"/anime/{site.slugs[2]}/" in found.text
    assert f"/anime/{site.slugs[2]}/" not in nothing.text


@contextlib.contextmanager
def admin_session(site: Site) -> Iterator[httpx.Client]:
    """An admin logged in through nginx (the login form, its CSRF token and cookie)."""
    manage(
        {**site.env, "DJANGO_SUPERUSER_PASSWORD": "nginx-cache-admin-pw-1"},
        "createsuperuser", "--noinput", "--username", "boss", "--email", "boss@example.com",
    )  # fmt: skip
    with httpx.Client(base_url=site.nginx, headers={"Host": HOST}, timeout=30) as client:
        login = client.get("/admin/login/")
        token = login.text.split('name="csrfmiddlewaretoken" value="', 1)[1].split('"', 1)[0]
        done = client.post(
            "/admin/login/?next=/admin/",
            data={"username": "boss", "password": "nginx-cache-admin-pw-1",
                  "csrfmiddlewaretoken": token, "next": "/admin/"},
        )  # fmt: skip
        assert done.status_code == 302, done.text[-500:]
        assert "sessionid" in client.cookies
        yield client


def test_nothing_a_logged_in_admin_asked_for_is_served_to_anyone_else(site: Site) -> None:
    with admin_session(site) as admin:
        dashboard = admin.get("/admin/")
        assert dashboard.status_code == 200
        assert status(dashboard) is None  # the admin is never cached
        page = f"/anime/{site.slugs[3]}/?seen-by=admin"
        for _ in range(3):
            answer = admin.get(page)
            assert answer.status_code == 200
            assert status(answer) == "BYPASS"
        # ...and the admin never gets the anonymous copy either.
        until_hit(site, f"/anime/{site.slugs[3]}/")
        assert status(admin.get(f"/anime/{site.slugs[3]}/")) == "BYPASS"
    # The admin's answers were not stored: the first anonymous request goes to Django.
    assert status(site.get(page)) == "MISS"
    anonymous_admin = site.get("/admin/")
    assert anonymous_admin.status_code == 302
    assert "/admin/login/" in anonymous_admin.headers["location"]
    # Credentials of any kind also bypass (and are not stored).
    with_auth = site.get(f"/anime/{site.slugs[3]}/?auth", headers={"Authorization": "Basic eDp5"})
    assert status(with_auth) == "BYPASS"
    assert status(site.get(f"/anime/{site.slugs[3]}/?auth")) == "MISS"


def test_health_and_the_mirror_endpoint_are_never_cached(site: Site) -> None:
    for path in ("/healthz", "/healthz/live", "/api/mirror/999999/"):
        for _ in range(2):
            response = site.get(path)
            assert status(response) is None, path
    assert site.get("/api/mirror/999999/").status_code == 404
    # A POST to a page passes through to Django (405 or 403 from CSRF, never a copy).
    posted = httpx.post(site.nginx + "/", headers={"Host": HOST}, timeout=30)
    assert posted.status_code in {403, 405}
    assert status(posted) in {None, "MISS", "BYPASS"}


def test_the_public_api_is_never_cached_here_and_limits_each_real_client(site: Site) -> None:
    """/api/v1/ passes through: a new episode shows at once (no one-second copy), and the
    rate limit counts each client by the address nginx found (a trusted proxy's
    X-Forwarded-For here), which a client cannot fake with X-Real-IP."""
    path = f"/api/v1/anime/{site.slugs[4]}/"
    first = site.get(path)
    assert first.status_code == 200
    assert status(first) is None
    episode = site.new_episode(site.slugs[4])
    after = site.get(path, headers={"If-None-Match": first.headers["etag"]})
    assert after.status_code == 200
    assert episode.split("/")[2] in {e["slug"] for e in after.json()["episodes"]}

    # One client behind a trusted proxy; each request claims another X-Real-IP, which
    # nginx overwrites: all count on one budget, spent by about its size in requests.
    one = {"X-Forwarded-For": "203.0.113.7"}
    limit = int(site.get("/api/v1/genres/", headers=one).headers["x-ratelimit-limit"])
    refused = None
    for n in range(3 * limit):
        response = site.get("/api/v1/", headers={**one, "X-Real-IP": f"198.51.100.{n % 250}"})
        if response.status_code == 429:
            refused = response
            break
        assert response.status_code == 200
    assert refused is not None, f"{3 * limit} requests of one client were never limited"
    assert refused.json()["error"]["code"] == "rate_limited"
    assert int(refused.headers["retry-after"]) >= 1
    other = site.get("/api/v1/genres/", headers={"X-Forwarded-For": "203.0.113.8"})
    assert other.status_code == 200


def test_pages_are_compressed(site: Site) -> None:
    page = f"/anime/{site.slugs[4]}/"
    gzipped = site.get(page, headers={"Accept-Encoding": "gzip"})
    assert gzipped.headers["content-encoding"] == "gzip"
    assert site.slugs[4] in gzipped.text  # httpx undid the gzip
    if not brotli_loaded():
        pytest.skip("nginx here has no Brotli module (apt libnginx-mod-http-brotli-filter)")
    with httpx.stream(
        "GET", site.nginx + page, headers={"Host": HOST, "Accept-Encoding": "br"}, timeout=30
    ) as brotli:
        assert brotli.headers["content-encoding"] == "br"


def test_stale_copies_answer_while_gunicorn_is_down_and_fresh_ones_after(site: Site) -> None:
    page = f"/anime/{site.slugs[5]}/"
    before = until_hit(site, page)
    site.web.stop()
    try:
        episode = site.new_episode(site.slugs[5])  # ingested while the web is down
        stale = until(site, page, lambda r: status(r) == "STALE", "a STALE answer")
        assert stale.status_code == 200
        assert stale.text == before.text
        assert episode not in stale.text
        # A page nginx never kept has nothing to fall back on.
        assert site.get("/anime/?never-cached").status_code == 502
    finally:
        site.web.restart()
    fresh = until(site, page, lambda r: status(r) != "STALE", "an answer from gunicorn")
    assert fresh.status_code == 200
    assert episode in fresh.text


def test_every_viewer_page_is_cached_and_sets_no_cookie(site: Site) -> None:
    """A page that set a cookie (a CSRF token, a session) would never be stored, and a
    burst of viewers would all reach gunicorn: none of them does."""
    anime = site.origin.truth.anime[site.slugs[6]]
    genre = anime.genres[0].slug
    pages = [
        *("/", "/ongoing/", "/completed/", "/anime/", "/genres/", f"/genres/{genre}/"),
        *("/jadwal/", "/search/?q=a", f"/anime/{anime.slug}/"),
        *(f"/episode/{anime.episodes[0].slug}/", "/feed/", "/sitemap.xml", "/robots.txt"),
    ]
    for path in pages:
        first = site.get(path)
        assert first.status_code == 200, path
        assert "set-cookie" not in first.headers, path
        assert until_hit(site, path).content == first.content, path


def test_head_is_answered_from_the_cached_copy(site: Site) -> None:
    page = f"/anime/{site.slugs[7]}/"
    full = until_hit(site, page)
    heads: list[httpx.Response] = []

    def head_hit() -> bool:
        plain = {"Host": HOST, "Accept-Encoding": "identity"}  # the length, not gzip's
        heads[:] = [httpx.head(site.nginx + page, headers=plain, timeout=30)]
        return status(heads[0]) == "HIT"

    wait_until(head_hit, "a HEAD answered from the cache", deadline=60, interval=0.05)
    assert heads[0].status_code == 200
    assert heads[0].headers["content-length"] == str(len(full.content))


class _Upstream(http.server.BaseHTTPRequestHandler):
    """A stand-in for a view that marks its answer personal: `/private`, `/no-store` and
    `/cookie` say so (Cache-Control, Set-Cookie), anything else is an ordinary page."""

    def do_GET(self) -> None:
        body = f"answer {self.path}".encode()
        self.send_response(200)
        marks = {"/private": ("Cache-Control", "private"),
                 "/no-store": ("Cache-Control", "no-store"),
                 "/cookie": ("Set-Cookie", "messages=hello; Path=/")}  # fmt: skip
        if self.path in marks:
            self.send_header(*marks[self.path])
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_answers_marked_private_or_setting_a_cookie_are_never_stored(tmp_path: Path) -> None:
    upstream = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Upstream)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    port = free_port()
    conf = local_nginx_conf(
        tmp_path,
        listen_port=port,
        web_port=upstream.server_address[1],
        static_dir=tmp_path,
        extra_swaps={"include /etc/nginx/tls/*.conf;": ""},
    )
    nginx = start_nginx(conf, tmp_path, port=port)
    try:
        with running(nginx):
            for path in ("/private", "/no-store", "/cookie"):
                answers = [httpx.get(f"http://127.0.0.1:{port}{path}") for _ in range(3)]
                assert [status(a) for a in answers] == ["MISS"] * 3, path
            # The same nginx does store an ordinary answer.
            wait_until(
                lambda: status(httpx.get(f"http://127.0.0.1:{port}/page")) == "HIT",
                "a HIT for an ordinary page",
                deadline=60,
                interval=0.05,
            )
    finally:
        upstream.shutdown()
