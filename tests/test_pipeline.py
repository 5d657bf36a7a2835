"""Crawl -> ingest over real HTTP against the fake origin on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from catalog.models import Anime, Episode, ScrapeRun, StreamLink
from scraper import ingest, mirrors
from scraper.crawl import CrawlError, CrawlResult, run_crawl
from tests.fake_origin import FakeOrigin
from tests.pipeline_helpers import expected_catalog, fast_client, snapshot, stored_catalog

pytestmark = pytest.mark.django_db


@pytest.fixture
def origin() -> Iterator[FakeOrigin]:
    with FakeOrigin(seed=7, size=50) as fake:
        yield fake


def crawl(origin: FakeOrigin, kind: str = "full", **kw) -> CrawlResult:
    overrides = {k: kw.pop(k) for k in ("retries", "timeout") if k in kw}
    client = fast_client(origin.base_url, **overrides)
    with client:
        return run_crawl(kind, client=client, **kw)


def test_full_crawl_fills_the_database_exactly_as_the_origin_says(origin: FakeOrigin) -> None:
    run = crawl(origin)
    assert run.status == ScrapeRun.Status.OK, run.errors
    assert run.error_count == 0
    expected = expected_catalog(origin.truth)
    stored = stored_catalog()
    assert set(stored) == set(expected)
    for slug, want in expected.items():
        assert stored[slug] == want, slug
    n_episodes = sum(len(a["episodes"]) for a in expected.values())
    assert Episode.objects.count() == n_episodes
    assert run.created > n_episodes
    saved = ScrapeRun.objects.get(pk=run.run_id)
    assert saved.pages_fetched == run.pages_fetched
    assert saved.finished_at is not None


def test_second_identical_crawl_writes_nothing(origin: FakeOrigin) -> None:
    crawl(origin)
    before = snapshot()
    versions = dict(Anime.objects.values_list("slug", "version"))
    run = crawl(origin)
    assert (run.created, run.updated) == (0, 0)
    assert run.unchanged > 0
    assert snapshot() == before
    assert dict(Anime.objects.values_list("slug", "version")) == versions


def test_ongoing_update_stores_exactly_the_new_episode(origin: FakeOrigin) -> None:
    crawl(origin)
    anime_slug = origin.truth.ongoing()[-1].slug  # the least recently updated one
    version = Anime.objects.get(slug=anime_slug).version
    before = set(Episode.objects.values_list("slug", flat=True))
    new_slug = origin.add_episode(anime_slug)
    origin.reset_log()

    run = crawl(origin, "ongoing")

    assert set(Episode.objects.values_list("slug", flat=True)) - before == {new_slug}
    new = Episode.objects.get(slug=new_slug)
    truth = origin.truth.episodes[new_slug]
    assert new.anime.slug == anime_slug
    assert new.post_id == truth.post_id
    assert new.default_embed_url == truth.default_embed
    assert new.stream_links.count() == len(truth.mirrors)
    assert new.download_links.count() == len(truth.downloads)
    assert Anime.objects.get(slug=anime_slug).version > version
    paths = [r.path for r in origin.requests]
    # home, ongoing page 1 (had the change), page 2 if there is one (nothing new: stop),
    # then the changed anime's detail and only its new episode.
    pages = ["/", "/ongoing-anime/"]
    if len(origin.truth.ongoing()) > 25:
        pages.append("/ongoing-anime/page/2/")
    assert paths == [*pages, f"/anime/{anime_slug}/", f"/episode/{new_slug}/"]
    assert run.requests_made == len(paths)


def test_update_with_nothing_new_costs_two_requests(origin: FakeOrigin) -> None:
    crawl(origin)
    origin.reset_log()
    run = crawl(origin, "ongoing")
    assert [r.path for r in origin.requests] == ["/", "/ongoing-anime/"]
    assert (run.created, run.updated) == (0, 0)


def test_update_notices_an_anime_that_finished(origin: FakeOrigin) -> None:
    crawl(origin)
    slug = origin.truth.ongoing()[0].slug
    origin.complete(slug)
    run = crawl(origin, "ongoing")
    assert run.status == ScrapeRun.Status.OK
    anime = Anime.objects.get(slug=slug)
    assert anime.status == Anime.Status.COMPLETED
    if origin.truth.anime[slug].batch:
        assert anime.batches.filter(slug=origin.truth.anime[slug].batch.slug).exists()


def test_retitled_anime_is_updated_by_a_crawl_of_it(origin: FakeOrigin) -> None:
    crawl(origin)
    slug = next(iter(origin.truth.anime))
    origin.retitle(slug, "Judul Baru 🌸 &amp; <b>lain</b>")
    crawl(origin, "anime", slug=slug)
    assert Anime.objects.get(slug=slug).title == origin.truth.anime[slug].title


def test_crawl_survives_a_flaky_origin(origin: FakeOrigin) -> None:
    # Stalls outlast the client's short read timeout; sleeps are recorded, not waited.
    origin.faults(rate=0.3, seed=3, retry_after=1, timeout_seconds=1.5)
    run = crawl(origin, retries=10, timeout=0.4)
    assert run.status == ScrapeRun.Status.OK, run.errors
    assert len(origin.fault_events) > 50
    assert stored_catalog() == expected_catalog(origin.truth)


def test_changed_layout_leaves_stored_rows_untouched(origin: FakeOrigin) -> None:
    crawl(origin)
    slug = next(iter(origin.truth.anime))
    before = snapshot()
    origin.retitle(slug, "Should Not Be Stored")
    origin.change_layout([f"/anime/{slug}/"])
    with pytest.raises(CrawlError):
        crawl(origin, "anime", slug=slug)
    assert snapshot() == before
    failed = ScrapeRun.objects.latest("started_at")
    assert failed.status == ScrapeRun.Status.FAILED
    assert slug in failed.errors


def test_changed_layout_in_a_full_crawl_is_an_error_of_the_run(origin: FakeOrigin) -> None:
    crawl(origin)
    slug = next(iter(origin.truth.anime))
    title = Anime.objects.get(slug=slug).title
    origin.retitle(slug, "Should Not Be Stored")
    origin.change_layout([f"/anime/{slug}/"])
    run = crawl(origin)
    assert run.status == ScrapeRun.Status.PARTIAL  # finished, but a page failed
    assert run.error_count == 1
    assert f"anime {slug}" in run.errors
    assert Anime.objects.get(slug=slug).title == title


def test_domain_move_is_followed(origin: FakeOrigin) -> None:
    old = origin.base_url
    new = origin.move_domain()
    run = crawl_from(old, limit=3)
    assert run.status == ScrapeRun.Status.OK
    assert run.base_url == new
    assert Anime.objects.count() == 3


def crawl_from(base_url: str, **kw) -> CrawlResult:
    with fast_client(base_url) as client:
        return run_crawl("full", client=client, **kw)


def test_the_client_only_contacts_the_origin(origin: FakeOrigin) -> None:
    crawl(origin, limit=5)
    hosts = {r.host for r in origin.requests}
    assert hosts == {urlsplit(origin.base_url).netloc}


def test_mirror_resolution_stores_the_origins_embed_url(origin: FakeOrigin) -> None:
    crawl(origin, limit=3)
    link = StreamLink.objects.filter(is_default=False).select_related("episode").first()
    truth = origin.truth.episodes[link.episode.slug]
    want = next(
        m.embed_url
        for m in truth.mirrors
        if (m.quality, m.provider) == (link.quality, link.provider)
    )
    with fast_client(origin.base_url) as client:
        assert mirrors.resolve_mirror(link_id=link.pk, client=client) == want
    link.refresh_from_db()
    assert link.embed_url == want
    assert link.resolved_at is not None
    assert link.last_error == ""


def test_failed_resolution_keeps_the_link_and_says_why(origin: FakeOrigin) -> None:
    crawl(origin, limit=2)
    link = StreamLink.objects.first()
    StreamLink.objects.filter(pk=link.pk).update(token_id=999_999_999)  # unknown to the origin
    with fast_client(origin.base_url) as client, pytest.raises(mirrors.MirrorError):
        mirrors.resolve_mirror(link_id=link.pk, client=client)
    link.refresh_from_db()
    assert link.embed_url == ""
    assert link.last_error


def test_dry_run_writes_nothing(origin: FakeOrigin) -> None:
    run = crawl(origin, limit=4, dry_run=True)
    assert run.created > 0
    assert Anime.objects.count() == 0
    assert Episode.objects.count() == 0
    assert ScrapeRun.objects.count() == 0
    assert len(run.changes) == 4


def test_max_age_skips_what_was_just_scraped(origin: FakeOrigin) -> None:
    import datetime

    crawl(origin, limit=5)
    origin.reset_log()
    run = crawl(origin, limit=8, max_age=datetime.timedelta(hours=1))
    details = [r.path for r in origin.requests if r.path.startswith("/anime/")]
    assert len(details) == 3
    assert run.status == ScrapeRun.Status.OK
    assert Anime.objects.count() == 8


def test_interrupt_marks_the_run_and_leaves_no_half_written_anime(
    origin: FakeOrigin, monkeypatch
) -> None:
    calls = {"n": 0}
    # Called last inside ingest's transaction, after the anime, episodes and links.
    real = ingest.record_page_results

    def interrupt_on_second(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(ingest, "record_page_results", interrupt_on_second)
    with pytest.raises(KeyboardInterrupt):
        crawl(origin, limit=5)
    run = ScrapeRun.objects.get()
    assert run.status == ScrapeRun.Status.INTERRUPTED
    assert Anime.objects.count() == 1  # the second anime was rolled back as a whole
    stored = Anime.objects.get()
    assert stored.episodes.count() == len(origin.truth.anime[stored.slug].episodes)


def test_a_broken_batch_page_does_not_lose_the_anime(origin: FakeOrigin) -> None:
    slug = next(a.slug for a in origin.truth.anime.values() if a.batch is not None)
    origin.change_layout(["batch"])
    run = crawl(origin, "anime", slug=slug)
    assert run.status == ScrapeRun.Status.PARTIAL
    assert "batch" in run.errors
    anime = Anime.objects.get(slug=slug)
    assert anime.episodes.count() == len(origin.truth.anime[slug].episodes)
    assert not anime.batches.exists()


def test_episode_zero_keeps_its_number_and_a_repeat_writes_nothing() -> None:
    from scraper.parsers.types import AnimeDetail, EpisodeRef

    detail = AnimeDetail(
        slug="zero-sub-indo", title="Zero", title_japanese=None, score=None, producers=[],
        type="TV", status="ongoing", total_episodes=None, duration=None, release_date=None,
        release_date_text=None, studios=[], genres=[], poster_url=None, synopsis="",
        episodes=[EpisodeRef("zero-episode-0-sub-indo", "Zero Episode 0", 0, None)],
        batch=None, lengkap=None,
    )  # fmt: skip
    ingest.ingest_anime(bundle=ingest.AnimeBundle(detail))
    assert Episode.objects.get().number == 0
    again = ingest.ingest_anime(bundle=ingest.AnimeBundle(detail))
    assert (again.created, again.updated) == (0, 0)


def test_cached_nonce_is_reused_and_renewed_when_the_origin_expired_it() -> None:
    now = [1000.0]
    with FakeOrigin(seed=7, size=6, nonce_ttl=60, clock=lambda: now[0]) as origin:
        crawl(origin)
        links = list(StreamLink.objects.select_related("episode").order_by("pk")[:3])
        with fast_client(origin.base_url) as client:
            origin.reset_log()
            mirrors.resolve_mirror(link_id=links[0].pk, client=client)
            mirrors.resolve_mirror(link_id=links[1].pk, client=client)
            ajax = [r for r in origin.requests if r.path == "/wp-admin/admin-ajax.php"]
            assert len(ajax) == 3  # one nonce, then two embeds with the cached nonce
            now[0] += 120  # the origin forgets the nonce; our cache still holds it
            origin.reset_log()
            url = mirrors.resolve_mirror(link_id=links[2].pk, client=client)
            statuses = [r.status for r in origin.requests if r.path.endswith("admin-ajax.php")]
            assert statuses == [400, 200, 200]  # stale nonce refused, fresh nonce, embed
        truth = origin.truth.episodes[links[2].episode.slug]
        key = (links[2].quality, links[2].provider)
        assert url == next(m.embed_url for m in truth.mirrors if (m.quality, m.provider) == key)
