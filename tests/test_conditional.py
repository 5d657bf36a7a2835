"""Conditional requests of the ongoing update against the fake origin over HTTP: an origin
that honours If-None-Match / If-Modified-Since answers an unchanged home with 304 and the
update costs one request; one that ignores them (or sends no validators) costs what it
did; either way nothing published is missed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from catalog.models import Episode
from scraper.crawl import CrawlResult, run_crawl
from tests.fake_origin import FakeOrigin
from tests.pipeline_helpers import fast_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def origin() -> Iterator[FakeOrigin]:
    with FakeOrigin(seed=7, size=20) as fake:
        yield fake


def update(origin: FakeOrigin, kind: str = "ongoing") -> CrawlResult:
    origin.reset_log()
    with fast_client(origin.base_url) as client:
        return run_crawl(kind, client=client)


def answers(origin: FakeOrigin) -> list[tuple[str, int]]:
    return [(r.path, r.status) for r in origin.requests]


def test_an_origin_that_honours_validators_answers_an_unchanged_home_with_304(
    origin: FakeOrigin,
) -> None:
    origin.conditional.set_mode("honour")
    update(origin, "full")
    update(origin)  # learns the validators of home and the ongoing list

    quiet = update(origin)

    assert answers(origin) == [("/", 304)]
    assert (quiet.status, quiet.requests_made, quiet.created) == ("ok", 1, 0)

    # A new episode changes home: asked for in full, and the episode is stored.
    anime = origin.truth.ongoing()[-1].slug
    new_slug = origin.add_episode(anime)
    found = update(origin)
    assert answers(origin)[:2] == [("/", 200), ("/ongoing-anime/", 200)]
    assert (f"/episode/{new_slug}/", 200) in answers(origin)
    assert Episode.objects.filter(slug=new_slug).exists()
    assert found.created >= 1

    update(origin)
    assert answers(origin) == [("/", 304)]


def test_last_modified_alone_is_enough(origin: FakeOrigin) -> None:
    """An origin that sends Last-Modified but no ETag: the update asks with
    If-Modified-Since only, and an unchanged home is a 304."""
    origin.conditional.set_mode("honour")
    origin.conditional.etags = False
    update(origin, "full")
    update(origin)
    update(origin)
    assert answers(origin) == [("/", 304)]

    new_slug = origin.add_episode(origin.truth.ongoing()[-1].slug)
    update(origin)
    assert answers(origin)[0] == ("/", 200)
    assert Episode.objects.filter(slug=new_slug).exists()


@pytest.mark.parametrize("mode", ["ignore", "off"])
def test_an_origin_that_ignores_validators_costs_two_requests_and_misses_nothing(
    origin: FakeOrigin, mode: str
) -> None:
    origin.conditional.set_mode(mode)
    update(origin, "full")
    update(origin)

    quiet = update(origin)
    assert answers(origin) == [("/", 200), ("/ongoing-anime/", 200)]
    assert (quiet.status, quiet.created, quiet.updated) == ("ok", 0, 0)

    new_slug = origin.add_episode(origin.truth.ongoing()[-1].slug)
    update(origin)
    assert Episode.objects.filter(slug=new_slug).exists()


def test_a_poll_with_errors_keeps_no_validators(origin: FakeOrigin) -> None:
    """A run that could not store everything home showed must not let the next poll's
    304 hide it: the next poll asks for home in full."""
    origin.conditional.set_mode("honour")
    update(origin, "full")
    update(origin)
    anime = origin.truth.ongoing()[-1].slug
    new_slug = origin.add_episode(anime)
    origin.fail_paths([f"/anime/{anime}/"], status=503)

    failed = update(origin)
    assert failed.status == "partial"
    assert not Episode.objects.filter(slug=new_slug).exists()

    origin.fail_paths(())
    update(origin)
    assert answers(origin)[0] == ("/", 200)
    assert Episode.objects.filter(slug=new_slug).exists()
