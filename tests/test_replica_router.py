"""Where otakusite/replica.py sends reads and writes (issue 17), without servers: the rules
of README.md's "Read replica". The real thing (a lagging, killed, frozen replica) is
tests/test_replica.py."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory

from catalog.models import Anime
from otakusite import replica

ROUTER = replica.ReplicaRouter()


@pytest.fixture(autouse=True)
def a_replica(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(replica, "configured", lambda: True)
    monkeypatch.setattr(replica.BREAKER, "retry_at", 0.0)


def routed(request: HttpRequest, during: Callable[[], object] = lambda: None) -> list[str]:
    """Where reads of the view go: before and after ``during`` runs in the view."""
    seen: list[str] = []

    def view(_request: HttpRequest) -> HttpResponse:
        seen.append(ROUTER.db_for_read(Anime))
        during()
        seen.append(ROUTER.db_for_read(Anime))
        return HttpResponse("ok")

    replica.ReplicaReadsMiddleware(view)(request)
    return seen


def test_a_viewers_page_reads_from_the_replica() -> None:
    assert routed(RequestFactory().get("/anime/x/")) == ["replica", "replica"]
    assert routed(RequestFactory().head("/")) == ["replica", "replica"]


def test_work_outside_a_request_reads_from_the_primary() -> None:
    # Workers, commands, shells: they decide what to write from what they read.
    assert ROUTER.db_for_read(Anime) == "default"


# On MariaDB the response then reads the primary's GTID position (the viewer's dbpos cookie);
# transaction=True: inside the test's own transaction every read would go to the primary.
@pytest.mark.django_db(transaction=True)
def test_after_a_write_the_request_reads_from_the_primary() -> None:
    def write() -> None:
        assert ROUTER.db_for_write(Anime) == "default"

    assert routed(RequestFactory().get("/"), write) == ["replica", "default"]


def test_posts_and_the_admin_read_from_the_primary() -> None:
    assert routed(RequestFactory().post("/push/subscription/")) == ["default", "default"]
    assert routed(RequestFactory().get("/admin/catalog/anime/")) == ["default", "default"]


@pytest.mark.django_db(transaction=True)
def test_reads_inside_a_transaction_go_to_the_primary() -> None:
    def in_transaction() -> None:
        with transaction.atomic():
            assert ROUTER.db_for_read(Anime) == "default"

    assert routed(RequestFactory().get("/"), in_transaction) == ["replica", "replica"]


def test_versions_are_read_on_the_primary() -> None:
    def versions() -> None:
        with replica.on_primary():
            assert ROUTER.db_for_read(Anime) == "default"

    assert routed(RequestFactory().get("/"), versions) == ["replica", "replica"]


def test_a_failed_replica_is_skipped_for_a_while() -> None:
    replica.BREAKER.trip("connection refused")
    assert routed(RequestFactory().get("/")) == ["default", "default"]


def test_migrations_run_on_the_primary_only() -> None:
    assert ROUTER.allow_migrate("default", "catalog")
    assert not ROUTER.allow_migrate("replica", "catalog")


def test_a_write_leaves_its_position_for_the_viewers_next_reads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(replica, "primary_position", lambda: "0-1-42")

    def view(_request: HttpRequest) -> HttpResponse:
        ROUTER.db_for_write(Anime)
        return HttpResponse("ok")

    response = replica.ReplicaReadsMiddleware(view)(RequestFactory().post("/push/subscription/"))
    assert response.cookies[replica.POSITION_COOKIE].value == "0-1-42"

    required: list[str] = []

    def next_view(_request: HttpRequest) -> HttpResponse:
        required.append(replica._reads.get().required)  # type: ignore[union-attr]
        return HttpResponse("ok")

    request = RequestFactory().get("/diikuti/")
    request.COOKIES[replica.POSITION_COOKIE] = "0-1-42"
    replica.ReplicaReadsMiddleware(next_view)(request)
    # A forged value is ignored rather than sent to the database.
    forged = RequestFactory().get("/")
    forged.COOKIES[replica.POSITION_COOKIE] = "0-1-1'); DROP TABLE x; --"
    replica.ReplicaReadsMiddleware(next_view)(forged)
    assert required == ["0-1-42", ""]


def test_positions_compare_domain_by_domain() -> None:
    assert replica.covers("0-1-10,1-2-5", "0-1-9")
    assert replica.covers("0-1-10", "0-2-10")  # the server id does not order anything
    assert not replica.covers("0-1-10", "0-1-11")
    assert not replica.covers("0-1-10", "1-1-1")  # a domain it has not seen at all
    assert replica.merge_positions("0-1-10,1-2-5", "0-1-12") == "0-1-12,1-2-5"
    assert replica.merge_positions("", "0-1-3") == "0-1-3"
