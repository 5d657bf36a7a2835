"""Layout alarms against the fake origin over real HTTP: pages that still arrive but parse
to nothing where something was expected are recorded on their run, their HTML is kept
(the latest few per page kind), an alert goes out, and the stored catalogue stays as it
was; the alert recovers once such pages read fine again."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from catalog.models import DownloadLink, Episode, LayoutAlarm, ScrapeRun, StreamLink
from scraper.alarms import KEEP_PER_KIND
from scraper.crawl import CrawlError, CrawlResult, run_crawl
from tests.alert_receiver import Receiver
from tests.fake_origin import FakeOrigin
from tests.fake_origin.moves import break_layout
from tests.pipeline_helpers import fast_client, snapshot

pytestmark = pytest.mark.django_db


@pytest.fixture
def origin() -> Iterator[FakeOrigin]:
    with FakeOrigin(seed=11, size=24) as fake:
        yield fake


def crawl(origin: FakeOrigin, kind: str = "full", **kw) -> CrawlResult:
    with fast_client(origin.base_url) as client:
        return run_crawl(kind, client=client, **kw)


def links() -> list[tuple]:
    streams = StreamLink.objects.order_by("pk").values_list("pk", "episode_id", "token_id")
    downloads = DownloadLink.objects.order_by("pk").values_list("pk", "episode_id", "url")
    return [*streams, *downloads]


def test_a_home_page_without_cards_is_an_alarm_and_changes_nothing(
    origin: FakeOrigin, webhook: Receiver
) -> None:
    crawl(origin)
    before = snapshot()
    break_layout(origin, "empty_home")
    with pytest.raises(CrawlError, match="home"):
        crawl(origin, "ongoing")
    assert snapshot() == before
    run = ScrapeRun.objects.latest("started_at")
    assert run.status == ScrapeRun.Status.FAILED
    assert run.layout_alarms == 1
    [alarm] = LayoutAlarm.objects.all()
    assert (alarm.page_kind, alarm.path, alarm.run_id) == ("home", "/", run.pk)
    assert "anime cards" in alarm.reason
    assert 'class="venz"' in alarm.html  # the page as served, for the operator
    [text] = webhook.texts()
    assert "Alarm tata letak" in text
    assert "home /" in text
    # Cards again: the next update works and the alarm's cause recovers.
    break_layout(origin, None)
    assert crawl(origin, "ongoing").status == ScrapeRun.Status.OK
    assert webhook.texts()[-1].startswith("[otakusite] Pulih: Alarm tata letak")


def test_an_anime_page_without_episodes_keeps_its_episodes(origin: FakeOrigin) -> None:
    crawl(origin)
    slug = next(iter(origin.truth.anime))
    episodes = sorted(Episode.objects.filter(anime__slug=slug).values_list("slug", flat=True))
    assert episodes
    before = snapshot()
    break_layout(origin, "no_episodes")
    with pytest.raises(CrawlError):
        crawl(origin, "anime", slug=slug)
    assert snapshot() == before
    [alarm] = LayoutAlarm.objects.all()
    assert (alarm.page_kind, alarm.path) == ("detail", f"/anime/{slug}/")
    assert "episode list" in alarm.reason
    assert origin.truth.anime[slug].title in alarm.html


def test_episode_pages_without_mirrors_or_downloads_keep_one_page_per_run(
    origin: FakeOrigin,
) -> None:
    crawl(origin)
    before = links()
    assert before
    break_layout(origin, "bare_episode")
    run = crawl(origin, "full")  # every episode page again, every one of them bare
    assert run.status == ScrapeRun.Status.PARTIAL
    pages = sum(len(a.episodes) for a in origin.truth.anime.values())
    assert run.layout_alarms == pages
    assert run.error_count >= pages
    assert links() == before  # no mirror and no download link lost
    [alarm] = LayoutAlarm.objects.filter(run_id=run.run_id)
    assert alarm.page_kind == "episode"
    assert alarm.path.startswith("/episode/")
    assert "#pembed" not in alarm.html  # the bare page itself was kept
    assert "Release on" in alarm.html


def test_only_the_latest_pages_of_a_kind_are_kept(origin: FakeOrigin) -> None:
    crawl(origin, limit=3)
    slugs = list(Episode.objects.order_by("slug").values_list("slug", flat=True))
    assert len(slugs) > KEEP_PER_KIND + 1
    break_layout(origin, "bare_episode")
    tried = slugs[: KEEP_PER_KIND + 2]
    for slug in tried:
        with pytest.raises(CrawlError):
            crawl(origin, "episode", slug=slug)
    kept = LayoutAlarm.objects.filter(page_kind="episode")
    assert sorted(kept.values_list("path", flat=True)) == sorted(
        f"/episode/{s}/" for s in tried[-KEEP_PER_KIND:]
    )
    assert all(alarm.html for alarm in kept)


def test_a_dry_run_keeps_no_page(origin: FakeOrigin) -> None:
    crawl(origin, limit=2)
    break_layout(origin, "empty_home")
    with pytest.raises(CrawlError):
        crawl(origin, "ongoing", dry_run=True)
    assert not LayoutAlarm.objects.exists()
