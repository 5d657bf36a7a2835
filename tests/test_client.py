"""OriginClient over real HTTP on 127.0.0.1 against scripted servers (no internet, no
real sleeping: backoff and rate limiting go through an injected clock and sleep)."""

from __future__ import annotations

import json
import logging
import random
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

from scraper.client import (
    DEFAULT_USER_AGENT,
    ChallengeError,
    DisallowedHost,
    FetchError,
    Lane,
    NotFound,
    OriginClient,
)
from tests.http_helpers import Reply, ScriptedServer, scripted_server

PAGE = "<html><head><title>Halaman uji</title></head><body>isi buatan</body></html>"


class FakeTime:
    """Monotonic clock that only moves when the client sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def origin() -> Iterator[ScriptedServer]:
    with scripted_server() as server:
        yield server


@pytest.fixture
def other() -> Iterator[ScriptedServer]:
    with scripted_server() as server:
        yield server


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


def make_client(server: ScriptedServer, fake_time: FakeTime, **kwargs: object) -> OriginClient:
    options: dict[str, object] = {
        "rate": None,
        "sleep": fake_time.sleep,
        "clock": fake_time.clock,
        "rng": random.Random(5),
    }
    options.update(kwargs)
    return OriginClient(server.base_url, **options)  # type: ignore[arg-type]


# ---------------------------------------------------------------- headers and cookies


def test_sends_browser_user_agent_and_indonesian_accept_language(origin, fake_time):
    origin.default("/", Reply(200, PAGE))
    with make_client(origin, fake_time) as client:
        page = client.get("/")
    assert page.status == 200
    assert page.text == PAGE
    headers = origin.seen("/")[0].headers
    assert headers["user-agent"] == DEFAULT_USER_AGENT
    assert "Chrome/" in headers["user-agent"]
    assert headers["accept-language"].startswith("id-ID")
    assert "text/html" in headers["accept"]


def test_cookies_are_sent_back_persisted_and_reloaded(origin, fake_time, tmp_path):
    jar = tmp_path / "state" / "cookies.json"
    origin.script("/", Reply(200, PAGE, (("Set-Cookie", "sesi=abc123; Path=/"),)))
    origin.default("/", Reply(200, PAGE))
    origin.default("/lagi/", Reply(200, PAGE))

    client = make_client(origin, fake_time, cookie_path=jar)
    client.get("/")
    client.get("/lagi/")
    assert origin.seen("/lagi/")[0].headers.get("cookie") == "sesi=abc123"
    # Saved as soon as it changed, not only on close: a killed worker keeps its cookies.
    # The file holds the jar's records (cookies and the clearance's User-Agent).
    assert any(c.get("name") == "sesi" for c in json.loads(jar.read_text())["records"])
    client.close()

    with make_client(origin, fake_time, cookie_path=jar) as fresh:
        fresh.get("/")
    assert origin.seen("/")[-1].headers.get("cookie") == "sesi=abc123"


def test_unreadable_cookie_file_does_not_stop_the_client(origin, fake_time, tmp_path):
    jar = tmp_path / "cookies.json"
    jar.write_text("{ not json")
    origin.default("/", Reply(200, PAGE))
    with make_client(origin, fake_time, cookie_path=jar) as client:
        assert client.get("/").status == 200
    assert "cookie" not in origin.seen("/")[0].headers


# ---------------------------------------------------------------- retries


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_retried_until_success(origin, fake_time, status):
    origin.script("/anime/x/", Reply(status), Reply(status), Reply(status), Reply(200, PAGE))
    with make_client(origin, fake_time) as client:
        page = client.get("/anime/x/")
        assert page.text == PAGE
        assert client.request_count == 4
    assert len(origin.seen("/anime/x/")) == 4
    # Exponential backoff: the three waits grow (jitter stays within [50 %, 100 %]).
    assert len(fake_time.sleeps) == 3
    assert fake_time.sleeps == sorted(fake_time.sleeps)
    assert fake_time.sleeps[0] <= 0.5 < fake_time.sleeps[2]


def test_gives_up_after_retries_with_url_and_status(origin, fake_time):
    origin.default("/mati/", Reply(503, "down"))
    with make_client(origin, fake_time, retries=2) as client, pytest.raises(FetchError) as info:
        client.get("/mati/")
    error = info.value
    assert not isinstance(error, NotFound)
    assert error.status == 503
    assert error.attempts == 3
    assert error.url == origin.base_url + "/mati/"
    assert origin.base_url + "/mati/" in str(error)
    assert "503" in str(error)
    assert len(origin.seen("/mati/")) == 3


def test_backoff_is_capped_by_max_backoff(origin, fake_time):
    origin.default("/mati/", Reply(500))
    with (
        make_client(origin, fake_time, retries=6, backoff=1.0, max_backoff=3.0) as client,
        pytest.raises(FetchError),
    ):
        client.get("/mati/")
    assert len(fake_time.sleeps) == 6
    assert max(fake_time.sleeps) <= 3.0


def test_429_waits_for_retry_after_seconds(origin, fake_time):
    origin.script("/", Reply(429, "slow down", (("Retry-After", "7"),)), Reply(200, PAGE))
    with make_client(origin, fake_time) as client:
        assert client.get("/").text == PAGE
    assert fake_time.sleeps == [7.0]


def test_retry_after_is_capped(origin, fake_time):
    origin.script("/", Reply(503, "", (("Retry-After", "3600"),)), Reply(200, PAGE))
    with make_client(origin, fake_time, max_retry_after=45.0) as client:
        client.get("/")
    assert fake_time.sleeps == [45.0]


def test_retry_after_as_http_date(origin, fake_time):
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=90), usegmt=True)
    origin.script("/", Reply(429, "", (("Retry-After", when),)), Reply(200, PAGE))
    with make_client(origin, fake_time) as client:
        client.get("/")
    assert len(fake_time.sleeps) == 1
    assert 80 <= fake_time.sleeps[0] <= 90


@pytest.mark.parametrize("action", ["reset", "truncate"])
def test_reset_and_truncated_bodies_are_retried(origin, fake_time, action):
    origin.script("/ep/", Reply(200, PAGE, action=action), Reply(200, PAGE))
    with make_client(origin, fake_time) as client:
        page = client.get("/ep/")
        assert page.text == PAGE
        assert client.request_count == 2
    assert len(fake_time.sleeps) == 1


def test_read_timeout_is_retried(origin, fake_time):
    origin.script("/lambat/", Reply(action="stall"))
    origin.default("/lambat/", Reply(200, PAGE))
    with make_client(origin, fake_time, timeout=0.2) as client:
        assert client.get("/lambat/").text == PAGE
        # At least the stalled attempt and one more (a loaded machine may need another).
        assert client.request_count >= 2
    assert len(origin.seen("/lambat/")) == client.request_count
    assert len(fake_time.sleeps) == client.request_count - 1


def test_connection_refused_gives_up_as_fetch_error(fake_time):
    with scripted_server() as gone:
        base = gone.base_url
    client = OriginClient(base, rate=None, retries=1, sleep=fake_time.sleep)
    with client, pytest.raises(FetchError) as info:
        client.get("/")
    assert info.value.status is None
    assert info.value.attempts == 2
    assert base in str(info.value)


def test_404_is_not_found_and_not_retried(origin, fake_time):
    with make_client(origin, fake_time) as client, pytest.raises(NotFound) as info:
        client.get("/tidak-ada/")
    assert info.value.status == 404
    assert len(origin.seen("/tidak-ada/")) == 1
    assert fake_time.sleeps == []


def test_other_4xx_fail_at_once(origin, fake_time):
    origin.default("/terlarang/", Reply(403, "forbidden"))
    with make_client(origin, fake_time) as client, pytest.raises(FetchError) as info:
        client.get("/terlarang/")
    assert not isinstance(info.value, NotFound)
    assert info.value.status == 403
    assert len(origin.seen("/terlarang/")) == 1


# ---------------------------------------------------------------- rate limit


def test_rate_limit_spaces_requests(origin, fake_time):
    origin.default("/", Reply(200, PAGE))
    with make_client(origin, fake_time, rate=2.0) as client:
        for _ in range(5):
            client.get("/")
    assert len(origin.seen("/")) == 5
    assert sum(fake_time.sleeps) >= (5 - 1) / 2.0


def test_rate_limit_with_a_clock_that_does_not_advance(origin):
    # Threads sleeping concurrently do not advance each other's clock: slots must still
    # be reserved one interval apart. The viewer lane reserves slots ahead (the crawl lane
    # asks again after waiting, which a frozen clock would never let through).
    sleeps: list[float] = []
    origin.default("/", Reply(200, PAGE))
    with OriginClient(
        origin.base_url, rate=4.0, sleep=sleeps.append, clock=lambda: 50.0, lane=Lane.VIEWER
    ) as client:
        for _ in range(4):
            client.get("/")
    assert sleeps == [0.25, 0.5, 0.75]


def test_rate_limit_holds_across_threads(origin):
    sleeps: list[float] = []
    lock = threading.Lock()

    def record(seconds: float) -> None:
        with lock:
            sleeps.append(seconds)

    origin.default("/", Reply(200, PAGE))
    with OriginClient(
        origin.base_url, rate=4.0, sleep=record, clock=lambda: 50.0, lane=Lane.VIEWER
    ) as client:
        threads = [threading.Thread(target=client.get, args=("/",)) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert len(origin.seen("/")) == 6
    # Every thread got its own slot: no two requests share one.
    assert sorted(sleeps) == [0.25, 0.5, 0.75, 1.0, 1.25]


def test_rate_limit_disabled(origin, fake_time):
    origin.default("/", Reply(200, PAGE))
    with make_client(origin, fake_time, rate=0) as client:
        for _ in range(5):
            client.get("/")
    assert fake_time.sleeps == []


# ---------------------------------------------------------------- hosts


def test_other_hosts_are_refused_before_any_connection(origin, other, fake_time):
    other.default("/embed/1", Reply(200, "player"))
    with make_client(origin, fake_time) as client:
        with pytest.raises(DisallowedHost):
            client.get(other.base_url + "/embed/1")
        with pytest.raises(DisallowedHost):
            client.fetch_embed(other.base_url + "/embed/1")
        with pytest.raises(DisallowedHost):
            client.get("https://example.com/")
        assert client.request_count == 0
    assert other.seen() == []


def test_redirect_to_a_disallowed_host_is_not_followed(origin, other, fake_time):
    origin.default("/keluar/", Reply(302, "", (("Location", other.base_url + "/x"),)))
    with make_client(origin, fake_time) as client, pytest.raises(DisallowedHost):
        client.get("/keluar/")
    assert other.seen() == []


def test_embed_host_allowed_after_allow_host(origin, other, fake_time):
    other.default("/embed/1", Reply(200, "player"))
    with make_client(origin, fake_time) as client:
        client.allow_host(f"127.0.0.1:{other.port}")
        page = client.fetch_embed(other.base_url + "/embed/1")
    assert page.text == "player"
    seen = other.seen("/embed/1")
    assert len(seen) == 1
    # Embed players check that they are framed by the site.
    assert seen[0].headers["referer"].startswith(origin.base_url)


def test_allow_host_without_port_allows_every_port_of_that_host(origin, other, fake_time):
    other.default("/e/2", Reply(200, "player"))
    with make_client(origin, fake_time) as client:
        client.allow_host("http://127.0.0.1/")
        assert client.fetch_embed(other.base_url + "/e/2").text == "player"


def test_otakudesu_links_are_rewritten_onto_the_base(origin, fake_time):
    origin.default("/anime/contoh-judul/", Reply(200, PAGE))
    with make_client(origin, fake_time) as client:
        assert (
            client.origin_url("https://otakudesu.best/anime/contoh-judul/?hal=2")
            == origin.base_url + "/anime/contoh-judul/?hal=2"
        )
        assert client.origin_url("/genres/") == origin.base_url + "/genres/"
        assert client.origin_url("genres/") == origin.base_url + "/genres/"
        # Look-alikes are not the origin.
        assert client.origin_url("https://otakudesu.best.example.com/a/").startswith(
            "https://otakudesu.best.example.com"
        )
        page = client.get("https://otakudesu.best/anime/contoh-judul/")
        with pytest.raises(DisallowedHost):
            client.get("https://nototakudesu.best.example.com/a/")
    assert page.url == origin.base_url + "/anime/contoh-judul/"
    assert len(origin.seen("/anime/contoh-judul/")) == 1


def test_same_host_redirect_is_followed_without_domain_move(origin, fake_time):
    origin.default("/lama/", Reply(301, "", (("Location", "/baru/"),)))
    origin.default("/baru/", Reply(200, PAGE))
    moves: list[tuple[str, str]] = []
    with make_client(origin, fake_time, on_domain_move=lambda a, b: moves.append((a, b))) as client:
        page = client.get("/lama/")
        assert client.base_url == origin.base_url
    assert page.url == origin.base_url + "/baru/"
    assert moves == []


def test_permanent_redirect_to_another_base_is_a_domain_move(origin, other, fake_time, caplog):
    origin.default(
        "/anime/contoh/", Reply(301, "", (("Location", other.base_url + "/anime/contoh/"),))
    )
    other.default("/anime/contoh/", Reply(200, PAGE))
    other.default("/ongoing-anime/", Reply(200, PAGE))
    moves: list[tuple[str, str]] = []
    caplog.set_level(logging.WARNING, logger="scraper.client")
    with make_client(origin, fake_time, on_domain_move=lambda a, b: moves.append((a, b))) as client:
        page = client.get("/anime/contoh/")
        assert page.url == other.base_url + "/anime/contoh/"
        assert client.base_url == other.base_url
        client.get("/ongoing-anime/")
        # Links still naming the old base land on the new one.
        assert client.origin_url(origin.base_url + "/x/") == other.base_url + "/x/"
    assert moves == [(origin.base_url, other.base_url)]
    assert len(other.seen("/ongoing-anime/")) == 1
    assert origin.seen("/ongoing-anime/") == []
    assert any(
        r.name == "scraper.client" and other.base_url in r.getMessage() for r in caplog.records
    )


def test_temporary_redirect_is_not_a_domain_move(origin, other, fake_time):
    origin.default("/a/", Reply(302, "", (("Location", other.base_url + "/a/"),)))
    other.default("/a/", Reply(200, PAGE))
    with make_client(origin, fake_time) as client:
        client.allow_host(f"127.0.0.1:{other.port}")
        client.get("/a/")
        assert client.base_url == origin.base_url


# ---------------------------------------------------------------- ajax


def test_post_ajax_sends_form_like_the_sites_jquery(origin, fake_time):
    origin.default("/wp-admin/admin-ajax.php", Reply(200, '{"data":"abc"}'))
    with make_client(origin, fake_time) as client:
        body = client.post_ajax(
            {"action": "aksi_contoh", "nonce": "n1"}, referer="https://otakudesu.best/episode/e1/"
        )
    assert body == '{"data":"abc"}'
    seen = origin.seen("/wp-admin/admin-ajax.php")[0]
    assert seen.method == "POST"
    assert seen.body == b"action=aksi_contoh&nonce=n1"
    assert seen.headers["content-type"] == "application/x-www-form-urlencoded; charset=UTF-8"
    assert seen.headers["x-requested-with"] == "XMLHttpRequest"
    assert seen.headers["origin"] == origin.base_url
    assert seen.headers["referer"] == origin.base_url + "/episode/e1/"


# ---------------------------------------------------------------- challenges


def test_challenge_header_raises_and_is_not_retried(origin, fake_time):
    origin.default("/", Reply(403, "<html>blocked</html>", (("cf-mitigated", "challenge"),)))
    with make_client(origin, fake_time) as client, pytest.raises(ChallengeError) as info:
        client.get("/")
    assert info.value.status == 403
    assert len(origin.seen("/")) == 1


def test_challenge_body_on_503_raises(origin, fake_time):
    body = "<html><head><title>Just a moment...</title></head><body>tunggu</body></html>"
    origin.default("/", Reply(503, body))
    with make_client(origin, fake_time) as client, pytest.raises(ChallengeError):
        client.get("/")
    assert len(origin.seen("/")) == 1


def test_cloudflare_script_on_a_normal_page_is_not_a_challenge(origin, fake_time):
    body = PAGE.replace("</body>", '<script src="/cdn-cgi/challenge-platform/x.js"></script>')
    origin.default("/", Reply(200, body))
    with make_client(origin, fake_time) as client:
        assert client.get("/").status == 200


def test_clearance_cookies_and_user_agent_are_used(origin, fake_time, tmp_path):
    jar = tmp_path / "cookies.json"
    origin.default("/", Reply(200, PAGE))
    solver_ua = (
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/130.0.0.0 Safari/537.36"
    )
    with make_client(origin, fake_time, cookie_path=jar) as client:
        client.set_clearance({"cf_clearance": "token-uji"}, solver_ua)
        client.get("/")
    headers = origin.seen("/")[0].headers
    assert headers["cookie"] == "cf_clearance=token-uji"
    assert headers["user-agent"] == solver_ua
    assert '"Linux"' in headers["sec-ch-ua-platform"]
    assert "130" in headers["sec-ch-ua"]
    # The clearance survives a restart.
    with make_client(origin, fake_time, cookie_path=jar) as fresh:
        fresh.get("/")
    assert origin.seen("/")[1].headers["cookie"] == "cf_clearance=token-uji"


def test_clearance_accepts_browser_cookie_records(origin, fake_time):
    origin.default("/", Reply(200, PAGE))
    expires = datetime.now(UTC).timestamp() + 3600
    cookies = [
        {
            "name": "cf_clearance",
            "value": "dari-peramban",
            "domain": "127.0.0.1",
            "path": "/",
            "expires": expires,
            "httpOnly": True,
            "secure": False,
            "sameSite": "None",
        },
        {"name": "lain", "value": "x", "domain": "127.0.0.1", "path": "/", "expires": -1},
    ]
    with make_client(origin, fake_time) as client:
        client.set_clearance(cookies, "Mozilla/5.0 Uji")
        client.get("/")
    cookie_header = origin.seen("/")[0].headers["cookie"]
    assert sorted(cookie_header.split("; ")) == ["cf_clearance=dari-peramban", "lain=x"]
    assert origin.seen("/")[0].headers["user-agent"] == "Mozilla/5.0 Uji"
    assert "sec-ch-ua" not in origin.seen("/")[0].headers


def test_closed_client_refuses_requests(origin, fake_time, tmp_path: Path):
    client = make_client(origin, fake_time)
    client.close()
    with pytest.raises(Exception, match="closed"):
        client.get("/")
    assert origin.seen() == []
