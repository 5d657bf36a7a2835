"""Issue 11 items 7, 8, 14 in-process (no servers needed, so `make test` on a bare machine
covers them too; tests/test_degraded.py does the same through real processes):
a database failure in a view gives the page's kept copy or the 503 page, a query bug still
the 500 page, /healthz is readiness with Redis reported but not required, and the Redis
breaker answers without the network once it has seen Redis fail.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
import redis
from django.db import OperationalError, ProgrammingError
from django.test import Client, override_settings

from otakusite import resilience

pytestmark = pytest.mark.django_db


def fail_database(monkeypatch: pytest.MonkeyPatch, error: Exception) -> None:
    """Every catalogue read fails as an unreachable database would."""

    def broken(*args: object, **kwargs: object) -> str:
        raise error

    monkeypatch.setattr("catalog.selectors.catalogue_version", broken)
    monkeypatch.setattr("catalog.selectors.anime_version", broken)


def test_database_down_kept_page_or_friendly_503(sample, monkeypatch) -> None:
    client = Client()
    fresh = client.get("/jadwal/")
    assert fresh.status_code == 200
    fail_database(monkeypatch, OperationalError(2003, "Can't connect to MySQL server"))
    kept = client.get("/jadwal/?utm_source=feed")
    assert kept.status_code == 200
    body = kept.content.decode()
    assert "Data per" in body
    assert "salinan tersimpan terakhir" in body
    assert body.count('class="notice notice-stale') == 1
    assert kept["X-Otakusite-Degraded"].startswith("database")
    never = client.get("/genres/")
    assert never.status_code == 503
    assert never["Retry-After"] == "30"
    assert "Sedang ada gangguan" in never.content.decode()
    assert 'class="topbar"' in never.content.decode()


def test_a_query_bug_is_still_a_500_in_the_site_look(sample, monkeypatch) -> None:
    fail_database(monkeypatch, ProgrammingError("no such column"))
    response = Client(raise_request_exception=False).get("/jadwal/")
    assert response.status_code == 500
    assert "Terjadi kesalahan" in response.content.decode()
    assert 'class="topbar"' in response.content.decode()


def test_unknown_page_is_a_404_in_the_site_look(sample) -> None:
    response = Client().get("/anime/no-such-anime/")
    assert response.status_code == 404
    assert "Halaman tidak ditemukan" in response.content.decode()


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers: a frozen server."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        yield server.getsockname()[1]


def test_breaker_answers_without_the_network_after_a_failure(silent_port: int) -> None:
    pool = resilience.FailFastConnectionPool(
        host="127.0.0.1", port=silent_port, socket_timeout=0.5, retry_seconds=600
    )
    client = redis.Redis(connection_pool=pool)
    with pytest.raises(redis.TimeoutError):
        client.get("k")  # waits its socket timeout once
    with pytest.raises(resilience.RedisUnavailableError):
        client.get("k")  # then fails at once, without sending anything
    assert pool.breaker.failures == 1
    pool.breaker.down_until = 0.0  # the pause is over: the next call tries Redis again
    with pytest.raises(redis.TimeoutError):
        client.get("k")
    pool.disconnect()


def test_readiness_with_redis_down_is_degraded_not_failing(sample) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # nothing listens here once closed
    caches = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{port}/0",
            "OPTIONS": {
                "IGNORE_EXCEPTIONS": True,
                "SOCKET_CONNECT_TIMEOUT": 1,
                "SOCKET_TIMEOUT": 1,
                "CONNECTION_POOL_CLASS": "otakusite.resilience.FailFastConnectionPool",
            },
        }
    }
    # Changing CACHES makes Django build its cache handlers anew (setting_changed).
    with override_settings(CACHES=caches, NEAR_CACHE=False):
        client = Client()
        ready = client.get("/healthz/ready")
        assert ready.status_code == 200
        assert ready.json()["status"] == "degraded"
        assert ready.json()["dependencies"] == {
            "database": "up",
            "cache": "down",
            "near_cache": "off",
        }
        assert client.get("/jadwal/").status_code == 200  # pages come from the database
        assert client.get("/healthz/live").json() == {"ok": True, "status": "alive"}


def test_a_missing_table_is_not_an_outage() -> None:
    """SQLite says OperationalError for a schema problem (migrations not applied): a bug to
    show (500), not an outage to hide behind kept pages."""
    assert resilience.database_unavailable(OperationalError(2013, "Lost connection"))
    assert not resilience.database_unavailable(OperationalError("no such table: catalog_anime"))
    assert not resilience.database_unavailable(ProgrammingError("syntax error"))
