"""What every /api/v1/ request goes through (otakusite/api_edge.py): the rate limit per
client (in this process and on Redis), CORS, HEAD, and one JSON error shape for whatever
goes wrong, Django's own answers included."""

from __future__ import annotations

import logging
import os
import uuid
from typing import Any

import pytest
from django.db import OperationalError
from django.test import Client

from catalog import selectors
from otakusite import coordination, middleware

pytestmark = pytest.mark.django_db


def assert_error_shape(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"] == "application/json"
    data = response.json()
    assert data == {"error": {"code": code, "message": data["error"]["message"]}}
    assert data["error"]["message"]
    return data


def fresh_ip() -> str:
    """A client address no other test used (the in-process slots outlive a test)."""
    return f"198.51.100.{uuid.uuid4().int % 250 + 1}"


# --- Rate limit -----------------------------------------------------------------------


def test_a_client_over_its_budget_gets_429_with_retry_after(settings, sample: Any) -> None:
    settings.API_RATE_LIMIT = 3
    ip = f"2001:db8:{uuid.uuid4().int % 65535:x}::1"
    client = Client(REMOTE_ADDR=ip)
    remaining = [client.get("/api/v1/genres/")["X-RateLimit-Remaining"] for _ in range(3)]
    assert remaining == ["2", "1", "0"]
    refused = client.get("/api/v1/ongoing/")
    data = assert_error_shape(refused, 429, "rate_limited")
    assert data["error"]["message"]
    # 3 a minute: the next slot is about 20 s away.
    assert 1 <= int(refused["Retry-After"]) <= 20
    assert refused["X-RateLimit-Limit"] == "3"
    assert refused["Access-Control-Allow-Origin"] == "*"  # a browser app can read it
    assert "no-store" in refused["Cache-Control"]
    # Another address of the same IPv6 /64 shares the budget; another client does not.
    neighbour = Client(REMOTE_ADDR=ip.replace("::1", "::beef"))
    assert neighbour.get("/api/v1/").status_code == 429
    assert Client(REMOTE_ADDR=fresh_ip()).get("/api/v1/").status_code == 200
    # The site's pages and its own player endpoint are not counted.
    assert client.get("/").status_code == 200


def test_behind_the_proxy_the_limit_follows_nginxs_client_address(settings, sample) -> None:
    settings.API_RATE_LIMIT = 2
    nginx = fresh_ip()
    viewer, other = fresh_ip(), fresh_ip()
    # Without BEHIND_PROXY anyone could send X-Real-IP: it is ignored.
    direct = Client(REMOTE_ADDR=nginx)
    for n in range(2):
        assert direct.get("/api/v1/", HTTP_X_REAL_IP=f"203.0.113.{n}").status_code == 200
    assert direct.get("/api/v1/", HTTP_X_REAL_IP="203.0.113.9").status_code == 429

    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    proxied = Client(REMOTE_ADDR=nginx)
    for _ in range(2):
        assert proxied.get("/api/v1/", HTTP_X_REAL_IP=viewer).status_code == 200
    assert proxied.get("/api/v1/", HTTP_X_REAL_IP=viewer).status_code == 429
    assert proxied.get("/api/v1/", HTTP_X_REAL_IP=other).status_code == 200


def test_the_limit_can_be_turned_off(settings, sample: Any) -> None:
    settings.API_RATE_LIMIT = 0
    client = Client(REMOTE_ADDR=fresh_ip())
    assert all(client.get("/api/v1/").status_code == 200 for _ in range(5))
    assert "X-RateLimit-Limit" not in client.get("/api/v1/")


def test_local_slots_refill_at_the_rate() -> None:
    now = [1000.0]
    slots = coordination.LocalSlots(clock=lambda: now[0])
    take = lambda: slots.reserve("k", interval=0.5, tolerance=59.5)  # noqa: E731
    assert all(take().granted for _ in range(120))
    refused = take()
    assert not refused.granted
    assert refused.ahead == pytest.approx(0.5)
    now[0] += 0.5
    assert take().granted
    assert not take().granted


class CountingSlots(coordination.LocalSlots):
    """The shared store, counting the round trips a real one would cost."""

    def __init__(self, clock: Any) -> None:
        super().__init__(clock=clock)
        self.calls: list[int] = []

    def reserve(self, key: str, *, interval: float, tolerance: float, count: int = 1) -> Any:
        self.calls.append(count)
        return super().reserve(key, interval=interval, tolerance=tolerance, count=count)


def test_leases_spare_a_busy_client_round_trips_but_never_exceed_the_limit() -> None:
    now = [0.0]
    store = CountingSlots(lambda: now[0])
    one = coordination.Leases(store, max_batch=6, hold=10, clock=lambda: now[0])
    two = coordination.Leases(store, max_batch=6, hold=10, clock=lambda: now[0])
    take = lambda leases: leases.reserve("c", interval=0.5, tolerance=59.5)  # noqa: E731
    # A burst through two processes: exactly the limit, in far fewer store calls (a
    # process may be refused while the other still holds a slot or five of it).
    granted = [take(one if n % 2 else two).granted for n in range(200)]
    assert granted.count(True) == 120
    assert granted.index(False) >= 120 - 2 * 5
    assert len(store.calls) < 60
    assert max(store.calls) == 6
    # Refused: answered from memory until a slot can fit again (0.5 s later).
    calls = len(store.calls)
    assert not take(one).granted
    assert len(store.calls) == calls
    now[0] += 0.6
    assert take(one).granted


def test_a_light_client_books_one_slot_at_a_time() -> None:
    now = [0.0]
    store = CountingSlots(lambda: now[0])
    leases = coordination.Leases(store, max_batch=6, hold=10, clock=lambda: now[0])
    for _ in range(5):
        assert leases.reserve("c", interval=0.5, tolerance=59.5).granted
        now[0] += 11  # slower than the lease's hold: nothing is booked ahead for it
    assert store.calls == [1, 1, 1, 1, 1]


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="REDIS_URL is not set")
def test_on_redis_every_process_shares_one_budget(settings, sample: Any) -> None:
    """Two web processes (two RedisSlots, as each process builds its own) count one
    client together: the budget is on Redis, not per process."""
    connection, key = coordination.redis_parts()
    log = logging.getLogger("test")
    one = coordination.RedisSlots(connection, key=key, fallback=coordination.LocalSlots(), log=log)
    two = coordination.RedisSlots(connection, key=key, fallback=coordination.LocalSlots(), log=log)
    name = f"api:rate:test-{uuid.uuid4().hex}"
    grants = [s.reserve(name, interval=20.0, tolerance=40.0).granted for s in (one, two) * 2]
    assert grants == [True, True, True, False]
    # Several at once, as leases book them: only what is left.
    other = f"{name}-batch"
    assert one.reserve(other, interval=20.0, tolerance=40.0, count=5).count == 3
    assert not two.reserve(other, interval=20.0, tolerance=40.0, count=5).granted
    # And through the site: the middleware uses the coordination Redis.
    settings.API_RATE_LIMIT = 1
    client = Client(REMOTE_ADDR=fresh_ip())
    assert client.get("/api/v1/").status_code == 200
    assert client.get("/api/v1/").status_code == 429


def test_without_redis_answering_the_limit_holds_per_process(caplog) -> None:
    def broken() -> Any:
        raise ConnectionError("Redis is down")

    fallback = coordination.LocalSlots()
    slots = coordination.RedisSlots(
        broken, key=str, fallback=fallback, log=logging.getLogger("test.slots")
    )
    with caplog.at_level(logging.WARNING):
        grants = [slots.reserve("k", interval=30.0, tolerance=30.0).granted for _ in range(3)]
    assert grants == [True, True, False]
    assert sum("Redis unavailable" in r.message for r in caplog.records) == 1


# --- CORS, HEAD -------------------------------------------------------------------------


def test_cors_is_open_for_reads_of_the_api_only(client: Client, sample: Any) -> None:
    response = client.get("/api/v1/", HTTP_ORIGIN="https://app.example")
    assert response["Access-Control-Allow-Origin"] == "*"
    assert "ETag" in response["Access-Control-Expose-Headers"]
    preflight = client.options(
        "/api/v1/search/",
        HTTP_ORIGIN="https://app.example",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="if-none-match",
    )
    assert preflight.status_code == 204
    assert preflight["Access-Control-Allow-Origin"] == "*"
    assert preflight["Access-Control-Allow-Methods"] == "GET, HEAD, OPTIONS"
    assert preflight["Access-Control-Allow-Headers"] == "if-none-match"
    # The site's own player endpoint and the pages stay same-origin.
    assert "Access-Control-Allow-Origin" not in client.get("/api/mirror/999999/")
    assert "Access-Control-Allow-Origin" not in client.get("/", HTTP_ORIGIN="https://x.example")


def test_head_answers_like_get_without_a_body(client: Client, sample: Any) -> None:
    got = client.get("/api/v1/genres/")
    head = client.head("/api/v1/genres/")
    assert head.status_code == 200
    assert head.content == b""
    assert head["ETag"] == got["ETag"]
    assert head["Content-Length"] == str(len(got.content))


# --- Errors -----------------------------------------------------------------------------


@pytest.mark.parametrize("debug", [False, True])
def test_django_answers_become_json(client: Client, settings, sample: Any, debug: bool) -> None:
    settings.DEBUG = debug  # make run: Django's debug pages must not leak either
    assert_error_shape(client.get("/api/v1/tidak/ada/"), 404, "not_found")
    refused = client.post("/api/v1/genres/")
    assert_error_shape(refused, 405, "method_not_allowed")
    assert refused["Allow"] == "GET"
    assert_error_shape(client.delete("/api/v1/anime/x/"), 405, "method_not_allowed")


@pytest.mark.parametrize("debug", [False, True])
def test_a_bug_is_a_500_without_a_traceback(
    client: Client, settings, sample: Any, monkeypatch, debug: bool
) -> None:
    settings.DEBUG = debug

    def broken() -> str:
        raise RuntimeError("secret detail of the bug")

    monkeypatch.setattr(selectors, "catalogue_version", broken)
    response = client.get("/api/v1/ongoing/")
    assert_error_shape(response, 500, "server_error")
    assert b"secret detail" not in response.content
    assert b"Traceback" not in response.content


def test_a_database_outage_is_a_503_with_retry_after(
    client: Client, settings, sample: Any, monkeypatch
) -> None:
    def down() -> str:
        raise OperationalError(2013, "Lost connection to server during query")

    monkeypatch.setattr(selectors, "catalogue_version", down)
    response = client.get("/api/v1/")
    assert_error_shape(response, 503, "unavailable")
    assert response["Retry-After"] == str(settings.DEGRADED_RETRY_AFTER)


def test_client_key_groups_ipv6_by_network() -> None:
    assert middleware.network_of("2001:db8:1:2:3:4:5:6") == "2001:db8:1:2::"
    assert middleware.network_of("::ffff:192.0.2.7") == "192.0.2.7"
    assert middleware.network_of("192.0.2.7") == "192.0.2.7"
    assert middleware.network_of("not an address") == "not an address"


# --- The API's own middleware chain -------------------------------------------------------


def test_json_answers_skip_the_page_layers_the_docs_page_keeps(
    client: Client, settings, sample: Any
) -> None:
    # A viewer's language cookie and session do not reach the API: its answers are the
    # same for everyone (no Vary: Cookie, no cookie set), so any shared cache may keep them.
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    answer = client.get("/api/v1/genres/")
    assert answer.status_code == 200
    assert "Cookie" not in answer.get("Vary", "")
    assert "Content-Language" not in answer
    assert not answer.cookies
    assert answer["X-Content-Type-Options"] == "nosniff"  # SecurityMiddleware still applies
    # Revalidation and the trailing-slash redirect still work on that chain.
    assert client.get("/api/v1/genres/", HTTP_IF_NONE_MATCH=answer["ETag"]).status_code == 304
    redirect = client.get("/api/v1/genres")
    assert redirect.status_code == 301
    assert redirect["Location"] == "/api/v1/genres/"
    # The documentation is an HTML page: it keeps the page's CSP and framing rule.
    docs = client.get("/api/v1/docs/")
    assert docs.status_code == 200
    assert "img-src 'self' data:" in docs["Content-Security-Policy"]  # Swagger UI's icons
    assert "data:" not in client.get("/")["Content-Security-Policy"]  # the docs page only
    assert docs["X-Frame-Options"] == "DENY"


def test_the_api_chain_is_the_configured_middleware(settings, sample: Any) -> None:
    # API_MIDDLEWARE is what JSON answers go through: without ConditionalGetMiddleware
    # there is no 304, so the setting is really used.
    settings.API_MIDDLEWARE = [
        m for m in settings.API_MIDDLEWARE if not m.endswith("ConditionalGetMiddleware")
    ]
    client = Client()
    etag = client.get("/api/v1/genres/")["ETag"]
    assert client.get("/api/v1/genres/", HTTP_IF_NONE_MATCH=etag).status_code == 200
