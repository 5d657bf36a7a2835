"""Issue 11, item 2: a failed episode page is repaired by later updates, and a run whose
pages failed says so (status ``partial``, exit code 2, the admin, the site).

Everything goes through the real ``manage.py scrape`` command against the fake origin over
HTTP; an episode page is broken with a 5xx that outlasts the client's retries or with a
changed layout (ParseError), then healed.
"""

from __future__ import annotations

import datetime
import io
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from catalog.models import Episode, ScrapeRun
from scraper import page_retries, tasks
from scraper.crawl import run_crawl
from tests.fake_origin import FakeOrigin
from tests.pipeline_helpers import expected_catalog, fast_client, stored_catalog

pytestmark = pytest.mark.django_db

EXIT_PARTIAL = 2


@pytest.fixture
def origin(settings, tmp_path) -> Iterator[FakeOrigin]:
    settings.SCRAPER_RATE_LIMIT = 0
    settings.SCRAPER_RETRIES = 0  # a 5xx is final at once: no real sleeping between retries
    settings.SCRAPER_COOKIE_PATH = tmp_path / "cookies.json"
    with FakeOrigin(seed=5, size=12) as fake:
        settings.OTAKUDESU_BASE_URL = fake.base_url
        yield fake


def scrape(*args: str) -> tuple[int, str, str]:
    """Run `manage.py scrape ARGS` as an operator would: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("scrape", *args, stdout=out, stderr=err)
        code = 0
    except CommandError as exc:
        err.write(str(exc))
        code = exc.returncode
    except SystemExit as exc:
        code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


def newest_episode(origin: FakeOrigin, index: int = 0) -> tuple[str, str]:
    """(anime slug, slug of its newest episode) of the index-th ongoing anime."""
    anime = origin.truth.ongoing()[index]
    return anime.slug, anime.episodes[0].slug


def break_pages(origin: FakeOrigin, how: str, slugs: list[str]) -> None:
    paths = [f"/episode/{slug}/" for slug in slugs]
    if how == "5xx":
        origin.fail_paths(paths, status=503)
    else:
        origin.change_layout(paths)


def heal(origin: FakeOrigin) -> None:
    origin.fail_paths(())
    origin.change_layout(())


def episode_paths(origin: FakeOrigin) -> list[str]:
    return [r.path for r in origin.requests if r.path.startswith("/episode/")]


def make_due(*slugs: str) -> None:
    """As if each one's backoff had passed (the clock is not moved in tests)."""
    past = timezone.now() - datetime.timedelta(seconds=1)
    Episode.objects.filter(slug__in=slugs).update(page_retry_at=past)


def change_url(slug: str) -> str:
    return reverse("admin:catalog_episode_change", args=[Episode.objects.get(slug=slug).pk])


def stored_episode(origin: FakeOrigin, anime_slug: str, slug: str) -> Any:
    return stored_catalog()[anime_slug]["episodes"][slug]


def expected_episode(origin: FakeOrigin, anime_slug: str, slug: str) -> Any:
    return expected_catalog(origin.truth)[anime_slug]["episodes"][slug]


@pytest.mark.parametrize("how", ["5xx", "layout"])
def test_a_run_with_a_failed_episode_page_is_partial_exits_2_and_names_it(
    origin: FakeOrigin, how: str
) -> None:
    _, slug = newest_episode(origin)
    break_pages(origin, how, [slug])

    code, out, err = scrape("full", "--base-url", origin.base_url)

    assert code == EXIT_PARTIAL, (out, err)
    assert out.strip().splitlines()[-1].startswith("full partial:")
    assert f"episode {slug}" in err
    run = ScrapeRun.objects.get()
    assert run.status == ScrapeRun.Status.PARTIAL
    assert run.error_count == 1
    assert f"episode {slug}" in run.errors
    # The episode is there (listed on its anime's page) without its page's data, and it
    # says when it will be tried again and why it failed.
    episode = Episode.objects.get(slug=slug)
    assert episode.post_id is None
    assert not episode.stream_links.exists()
    assert not episode.download_links.exists()
    assert episode.page_attempts == 1
    assert episode.page_error
    assert episode.page_retry_at > timezone.now()


@pytest.mark.parametrize("how", ["5xx", "layout"])
def test_the_next_ongoing_update_repairs_the_episode_once_its_retry_is_due(
    origin: FakeOrigin, how: str
) -> None:
    # Two broken pages: the newest episode of one ongoing anime (the card's number equals
    # the stored newest, so the update used to see "nothing new") and an older episode of
    # another one.
    anime_a, slug_a = newest_episode(origin, 0)
    other = origin.truth.ongoing()[1]
    anime_b, slug_b = other.slug, other.episodes[-1].slug
    break_pages(origin, how, [slug_a, slug_b])
    assert scrape("full", "--base-url", origin.base_url)[0] == EXIT_PARTIAL
    heal(origin)

    # Before the retry is due: the update does not ask for the pages again.
    origin.reset_log()
    code, out, err = scrape("ongoing", "--base-url", origin.base_url)
    assert code == 0, (out, err)
    assert episode_paths(origin) == []
    assert Episode.objects.get(slug=slug_a).post_id is None

    # Due: the next update fetches exactly the missing pages, nothing else of theirs.
    make_due(slug_a, slug_b)
    origin.reset_log()
    code, out, err = scrape("ongoing", "--base-url", origin.base_url)
    assert code == 0, (out, err)
    assert sorted(episode_paths(origin)) == sorted([f"/episode/{slug_a}/", f"/episode/{slug_b}/"])
    assert out.strip().splitlines()[-1].startswith("ongoing ok:")
    assert ScrapeRun.objects.latest("started_at").status == ScrapeRun.Status.OK
    # Mirrors and downloads exactly as on the origin; the whole catalogue matches too.
    for anime_slug, slug in ((anime_a, slug_a), (anime_b, slug_b)):
        assert stored_episode(origin, anime_slug, slug) == expected_episode(
            origin, anime_slug, slug
        )
        episode = Episode.objects.get(slug=slug)
        assert (episode.page_attempts, episode.page_retry_at, episode.page_error) == (0, None, "")
    assert stored_catalog() == expected_catalog(origin.truth)

    # Repaired: the update is back to its two requests.
    origin.reset_log()
    assert scrape("ongoing", "--base-url", origin.base_url)[0] == 0
    assert [r.path for r in origin.requests] == ["/", "/ongoing-anime/"]


def test_backoff_grows_and_retries_stop_at_the_cap_until_an_operator_crawls_the_anime(
    origin: FakeOrigin, admin_client
) -> None:
    anime_slug, slug = newest_episode(origin)
    break_pages(origin, "5xx", [slug])
    started = timezone.now()
    scrape("full", "--base-url", origin.base_url)
    first = Episode.objects.get(slug=slug)

    make_due(slug)
    before = timezone.now()
    code, _, err = scrape("ongoing", "--base-url", origin.base_url)
    assert code == EXIT_PARTIAL
    assert f"episode {slug}" in err
    second = Episode.objects.get(slug=slug)
    assert second.page_attempts == 2
    # The pause doubled: the second one is longer than the first.
    assert second.page_retry_at - before > first.page_retry_at - started

    # One try short of the cap: this update is the last automatic one.
    Episode.objects.filter(slug=slug).update(page_attempts=page_retries.PAGE_RETRY_LIMIT - 1)
    make_due(slug)
    origin.reset_log()
    assert scrape("ongoing", "--base-url", origin.base_url)[0] == EXIT_PARTIAL
    assert episode_paths(origin) == [f"/episode/{slug}/"]
    assert Episode.objects.get(slug=slug).page_attempts == page_retries.PAGE_RETRY_LIMIT

    make_due(slug)
    origin.reset_log()
    assert scrape("ongoing", "--base-url", origin.base_url)[0] == 0
    assert episode_paths(origin) == []

    # The operator finds it in the admin ...
    url = reverse("admin:catalog_episode_changelist")
    page = admin_client.get(url, {"page_missing": "stopped"}).content.decode()
    assert change_url(slug) in page
    healthy = origin.truth.anime[anime_slug].episodes[1].slug
    assert change_url(healthy) not in page
    # ... and, once the origin is fixed, crawls the anime by hand.
    heal(origin)
    assert scrape("anime", anime_slug, "--base-url", origin.base_url)[0] == 0
    assert stored_episode(origin, anime_slug, slug) == expected_episode(origin, anime_slug, slug)
    assert Episode.objects.get(slug=slug).page_attempts == 0
    assert change_url(slug) not in admin_client.get(url, {"page_missing": "yes"}).content.decode()


def test_a_dry_run_with_a_failed_page_says_partial_and_records_nothing(
    origin: FakeOrigin,
) -> None:
    _, slug = newest_episode(origin)
    break_pages(origin, "5xx", [slug])
    scrape("full", "--base-url", origin.base_url)
    make_due(slug)
    before = Episode.objects.values_list("page_attempts", "page_retry_at", "page_error").get(
        slug=slug
    )
    runs = ScrapeRun.objects.count()

    code, out, err = scrape("ongoing", "--base-url", origin.base_url, "--dry-run")

    assert code == EXIT_PARTIAL, (out, err)
    assert f"episode {slug}" in err
    assert out.strip().splitlines()[-1].startswith("dry run: ongoing partial:")
    after = Episode.objects.values_list("page_attempts", "page_retry_at", "page_error").get(
        slug=slug
    )
    assert after == before
    assert ScrapeRun.objects.count() == runs


def test_the_admin_shows_partial_runs_apart(origin: FakeOrigin, admin_client) -> None:
    _, slug = newest_episode(origin)
    break_pages(origin, "5xx", [slug])
    assert scrape("full", "--base-url", origin.base_url)[0] == EXIT_PARTIAL
    heal(origin)
    ScrapeRun.objects.create(kind="ongoing", status=ScrapeRun.Status.OK)
    url = reverse("admin:catalog_scraperun_changelist")

    page = admin_client.get(url).content.decode()
    assert 'class="run-status run-status-partial"' in page
    assert 'class="run-status run-status-ok"' in page

    partial_only = admin_client.get(url, {"status__exact": "partial"}).content.decode()
    assert partial_only.count('class="run-status ') == 1
    assert "run-status-partial" in partial_only


def test_the_episode_page_tells_viewers_its_mirrors_are_being_fetched_again(
    origin: FakeOrigin, client
) -> None:
    anime_slug, slug = newest_episode(origin)
    break_pages(origin, "5xx", [slug])
    scrape("full", "--base-url", origin.base_url)
    healthy = origin.truth.anime[anime_slug].episodes[1].slug
    notice = "sedang diambil ulang"

    missing = client.get(reverse("catalog:episode", args=[slug]))
    assert missing.status_code == 200
    assert notice in missing.content.decode()
    assert notice not in client.get(reverse("catalog:episode", args=[healthy])).content.decode()

    heal(origin)
    make_due(slug)
    scrape("ongoing", "--base-url", origin.base_url)
    assert notice not in client.get(reverse("catalog:episode", args=[slug])).content.decode()


def test_the_crawl_task_result_says_partial(origin: FakeOrigin) -> None:
    _, slug = newest_episode(origin)
    break_pages(origin, "5xx", [slug])

    result = tasks.crawl_task("full", base_url=origin.base_url)

    run = ScrapeRun.objects.get(pk=result)  # still the run's id for every caller
    assert run.status == ScrapeRun.Status.PARTIAL
    assert "partial" in str(result)  # what django-q's task list shows


def test_a_crawl_under_injected_faults_converges_after_a_second_update(
    origin: FakeOrigin,
) -> None:
    # 30 % transient faults everywhere (each retried away: backoff delays are recorded,
    # not waited), plus three episode pages down for the whole first crawl: it is partial;
    # after they come back, one update is enough for the database to hold exactly what a
    # fault-free crawl stores.
    broken = [a.episodes[0].slug for a in origin.truth.ongoing()[:2]]
    completed = next(a for a in origin.truth.anime.values() if not a.is_ongoing)
    broken.append(completed.episodes[-1].slug)
    origin.faults(rate=0.3, seed=3, retry_after=1, timeout_seconds=1.5)
    break_pages(origin, "5xx", broken)

    with fast_client(origin.base_url, retries=10, timeout=0.4) as client:
        first = run_crawl("full", client=client)
    assert first.status == ScrapeRun.Status.PARTIAL
    assert stored_catalog() != expected_catalog(origin.truth)
    heal(origin)
    make_due(*broken)
    with fast_client(origin.base_url, retries=10, timeout=0.4) as client:
        second = run_crawl("ongoing", client=client)

    assert second.status == ScrapeRun.Status.OK, second.errors
    assert len(origin.fault_events) > 20
    assert stored_catalog() == expected_catalog(origin.truth)


def test_an_anime_page_failing_during_a_repair_counts_as_a_failed_try(origin: FakeOrigin) -> None:
    # Else an anime gone from the origin (or whose page is broken) would be asked for by
    # every update for ever.
    anime_slug, slug = newest_episode(origin)
    break_pages(origin, "5xx", [slug])
    scrape("full", "--base-url", origin.base_url)
    origin.fail_paths([f"/anime/{anime_slug}/"], status=503)
    make_due(slug)

    code, _, err = scrape("ongoing", "--base-url", origin.base_url)
    assert code == EXIT_PARTIAL
    assert f"anime {anime_slug}" in err
    episode = Episode.objects.get(slug=slug)
    assert episode.page_attempts == 2
    assert episode.page_retry_at > timezone.now()
    assert "anime page" in episode.page_error

    origin.reset_log()
    assert scrape("ongoing", "--base-url", origin.base_url)[0] == 0
    assert f"/anime/{anime_slug}/" not in [r.path for r in origin.requests]


def test_the_admin_action_sends_a_given_up_episode_back_to_the_next_update(
    origin: FakeOrigin, admin_client
) -> None:
    _, slug = newest_episode(origin)
    break_pages(origin, "5xx", [slug])
    scrape("full", "--base-url", origin.base_url)
    Episode.objects.filter(slug=slug).update(page_attempts=page_retries.PAGE_RETRY_LIMIT)
    heal(origin)
    origin.reset_log()
    assert scrape("ongoing", "--base-url", origin.base_url)[0] == 0
    assert episode_paths(origin) == []  # given up: no automatic try

    pk = Episode.objects.get(slug=slug).pk
    url = reverse("admin:catalog_episode_changelist")
    admin_client.post(url, {"action": "retry_page_now", "_selected_action": [pk]})
    origin.reset_log()
    assert scrape("ongoing", "--base-url", origin.base_url)[0] == 0
    assert episode_paths(origin) == [f"/episode/{slug}/"]
    assert Episode.objects.get(slug=slug).post_id is not None
