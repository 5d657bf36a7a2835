"""Domain moves against the fake origin over real HTTP on 127.0.0.1 ports: the origin moves
twice (a permanent redirect, then only a notice on the old home page), once more through
its canonical links; decoys (another catalogue, a parked domain) are never adopted. Moves
are stored (OriginMove), alerted, and new clients start from, and only contact, the
adopted base."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from catalog.models import Anime, OriginMove
from scraper.client_factory import make_client
from scraper.crawl import CrawlError, CrawlResult, run_crawl
from scraper.origin import VERIFY_SLUGS, current_base_url
from scraper.parsers.hints import parse_origin_hints
from tests.alert_receiver import Receiver
from tests.conftest import SHARED_PAGES
from tests.fake_origin import FakeOrigin
from tests.fake_origin.moves import Decoy, announce, announce_move, redirect_to

pytestmark = pytest.mark.django_db


@pytest.fixture
def origin(settings, tmp_path: Path) -> Iterator[FakeOrigin]:
    with FakeOrigin(seed=21, size=24) as fake:
        settings.OTAKUDESU_BASE_URL = fake.base_url
        settings.SCRAPER_RATE_LIMIT = 0  # no pacing: the fake origin is local
        settings.SCRAPER_RETRIES = 1
        settings.SCRAPER_COOKIE_PATH = tmp_path / "cookies.json"
        yield fake


def crawl(kind: str = "ongoing") -> CrawlResult:
    """A crawl as the worker runs it: from the stored base, with the default client."""
    return run_crawl(kind)


def netloc(base: str) -> str:
    return urlsplit(base).netloc


def hosts_asked(origin: FakeOrigin, since: int) -> set[str]:
    return {r.host for r in origin.requests[since:]}


def test_the_origin_moving_twice_is_followed(origin: FakeOrigin, webhook: Receiver) -> None:
    first = origin.base_url
    assert crawl("full").status == "ok"
    stored = set(Anime.objects.values_list("slug", flat=True))

    second = origin.move_domain()  # the first domain answers 301 to the second
    run = crawl()
    assert run.status == "ok", run.errors
    assert run.base_url == second
    assert current_base_url() == second
    move = OriginMove.objects.get(new_base=second)
    assert (move.old_base, move.via, move.adopted) == (first, "redirect", True)
    assert f"{VERIFY_SLUGS} of {VERIFY_SLUGS}" in move.detail

    third = announce_move(origin)  # the second keeps serving; its home page names the third
    mark = len(origin.requests)
    run = crawl()
    assert run.status == "ok", run.errors
    assert run.base_url == third
    assert current_base_url() == third
    move = OriginMove.objects.get(new_base=third)
    assert (move.old_base, move.via, move.adopted) == (second, "announcement", True)
    # Of the second domain only the home page that named the third was asked for.
    asked_second = [r.path for r in origin.requests[mark:] if r.host == netloc(second)]
    assert asked_second == ["/"]

    texts = webhook.texts()
    assert len(texts) == 2
    assert "Origin pindah" in texts[0]
    assert second in texts[0]
    assert third in texts[1]
    # Same catalogue, still keyed by slugs: nothing duplicated, nothing lost.
    assert set(Anime.objects.values_list("slug", flat=True)) == stored
    # A new client starts at the third base and contacts nothing else.
    with make_client() as client:
        assert client.base_url == third
        assert client.is_allowed(third + "/")
        assert not client.is_allowed(second + "/")
        assert not client.is_allowed(first + "/")
        assert client.origin_url(second + "/anime/x/") == third + "/anime/x/"


def test_a_move_named_only_by_canonical_links_is_followed(origin: FakeOrigin) -> None:
    crawl("full")
    new = announce_move(origin, via="canonical")
    run = crawl()
    assert run.base_url == new
    assert OriginMove.objects.get(new_base=new).via == "canonical"


def test_a_decoy_named_by_the_notice_is_not_adopted(origin: FakeOrigin, webhook: Receiver) -> None:
    crawl("full")
    with Decoy("other") as decoy:
        announce(origin, netloc(decoy.base_url))
        run = crawl()
        assert run.status == "ok"
        assert run.base_url == origin.base_url
        move = OriginMove.objects.get(new_base=decoy.base_url)
        assert not move.adopted
        # Another catalogue may share a title by chance, never most of them.
        matched = int(move.detail.split(" of ", 1)[0])
        assert 2 * matched <= VERIFY_SLUGS, move.detail
        asked = decoy.request_count
        assert 1 <= asked <= 1 + VERIFY_SLUGS  # its home page and the known slugs, no more
        crawl()  # the notice is still there: the rejected candidate is not asked again
        assert decoy.request_count == asked
    assert current_base_url() == origin.base_url
    assert OriginMove.objects.filter(adopted=True).count() == 0
    assert webhook.texts() == []


def test_a_redirect_to_a_parked_domain_is_refused(origin: FakeOrigin) -> None:
    crawl("full")
    before = len(origin.requests)
    with Decoy("parked") as parked:
        redirect_to(origin, parked.base_url)
        with pytest.raises(CrawlError, match="not verified"):
            crawl()
        assert parked.request_count == 1  # its "home page", which is no otakudesu page
    move = OriginMove.objects.get(new_base=parked.base_url)
    assert (move.via, move.adopted) == ("redirect", False)
    assert "home" in move.detail
    assert current_base_url() == origin.base_url
    assert hosts_asked(origin, before) == {netloc(origin.base_url)}


def test_a_dry_run_adopts_no_move(origin: FakeOrigin) -> None:
    first = origin.base_url
    crawl("full")
    origin.move_domain()
    with pytest.raises(CrawlError, match="not verified"):
        run_crawl("ongoing", dry_run=True)
    assert not OriginMove.objects.exists()
    assert current_base_url() == first


def test_a_changed_variable_takes_over_from_stored_moves(settings) -> None:
    settings.OTAKUDESU_BASE_URL = "https://otakudesu.best"
    OriginMove.objects.create(
        old_base="https://otakudesu.best",
        new_base="https://otakudesu.cloud",
        via="redirect",
        adopted=True,
        configured_base="https://otakudesu.best",
    )
    assert current_base_url() == "https://otakudesu.cloud"
    settings.OTAKUDESU_BASE_URL = "https://otakudesu.media"  # the operator's own choice
    assert current_base_url() == "https://otakudesu.media"


# --------------------------------------------------------------------------- the hints


def test_the_notice_names_the_official_address() -> None:
    page = (
        '<html><head><link rel="canonical" href="https://otakudesu.blog/" /></head><body>'
        '<div class="infoupdate">Situs resmi Otakudesu hanya otakudesu.cloud, selain dari ini '
        "adalah situs palsu.</div></body></html>"
    )
    hints = parse_origin_hints(page)
    assert hints.announced == ("otakudesu.cloud",)
    assert hints.canonical == "https://otakudesu.blog/"
    with_port = '<div class="infoupdate">Otakudesu pindah ke http://127.0.0.1:8042 ya.</div>'
    assert parse_origin_hints(with_port).announced == ("http://127.0.0.1:8042",)


def test_a_notice_about_something_else_names_no_candidate() -> None:
    page = '<div class="infoupdate">Gabung grup kami di t.me/grupanime dan discord.gg/x.</div>'
    assert parse_origin_hints(page).announced == ()


def test_the_real_home_page_names_its_own_domain() -> None:
    captured = SHARED_PAGES / "home--illhm.html"
    if not captured.exists():
        pytest.skip(f"no captured pages at {SHARED_PAGES}")
    hints = parse_origin_hints(captured.read_text(encoding="utf-8"))
    assert hints.announced == ("otakudesu.best",)
    assert hints.canonical == "https://otakudesu.best/"
