"""`manage.py scrape` and `resolve_mirrors` as an operator runs them."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from django.core.management import CommandError, call_command

from catalog.models import Anime, ScrapeRun, StreamLink
from scraper.crawl import ProgressEvent
from scraper.ingest import Counts
from scraper.progress import ProgressPrinter
from tests.fake_origin import FakeOrigin

pytestmark = pytest.mark.django_db


@pytest.fixture
def origin(settings, tmp_path) -> Iterator[FakeOrigin]:
    settings.SCRAPER_RATE_LIMIT = 0
    settings.SCRAPER_RETRIES = 0
    settings.SCRAPER_COOKIE_PATH = tmp_path / "cookies.json"
    with FakeOrigin(seed=2, size=12) as fake:
        yield fake


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("scrape", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_full_scrape_logs_one_line_per_page_and_a_summary(origin: FakeOrigin) -> None:
    out, _ = run("full", "--base-url", origin.base_url, "--limit", "2")
    lines = out.strip().splitlines()
    run_row = ScrapeRun.objects.get()
    page_lines = [line for line in lines if line.startswith("anime ")]
    assert len(page_lines) == run_row.pages_fetched
    assert any(origin.base_url + "/anime-list/" in line for line in page_lines)
    assert lines[-1].startswith("full ok:")
    assert f"{run_row.pages_fetched} pages" in lines[-1]
    assert Anime.objects.count() == 2


def test_dry_run_prints_what_would_change_and_writes_nothing(origin: FakeOrigin) -> None:
    out, _ = run("ongoing", "--base-url", origin.base_url, "--limit", "1", "--dry-run")
    assert "would change" in out
    assert out.strip().splitlines()[-1].startswith("dry run: ongoing ok:")
    assert not Anime.objects.exists()
    assert not ScrapeRun.objects.exists()


def test_fatal_error_exits_non_zero_with_a_clear_message() -> None:
    with pytest.raises(CommandError, match="home page unavailable"):
        run("ongoing", "--base-url", "http://127.0.0.1:9")
    assert ScrapeRun.objects.get().status == ScrapeRun.Status.FAILED


def test_bad_arguments_are_clear_errors() -> None:
    with pytest.raises(CommandError, match="needs a SLUG"):
        run("anime")
    with pytest.raises(CommandError, match="not a duration"):
        run("full", "--max-age", "soon")


def test_anime_and_episode_by_slug(origin: FakeOrigin) -> None:
    anime = next(a for a in origin.truth.anime.values() if a.episodes)
    run("anime", anime.slug, "--base-url", origin.base_url)
    assert Anime.objects.get(slug=anime.slug).episodes.count() == len(anime.episodes)
    other = next(a for a in origin.truth.anime.values() if a.episodes and a is not anime)
    run("episode", other.episodes[0].slug, "--base-url", origin.base_url)
    assert Anime.objects.get(slug=other.slug).episodes.filter(post_id__isnull=False).count() == 1


def test_resolve_mirrors_command_resolves_the_newest(origin: FakeOrigin) -> None:
    anime = next(a for a in origin.truth.anime.values() if a.episodes)
    run("anime", anime.slug, "--base-url", origin.base_url)
    out = io.StringIO()
    call_command("resolve_mirrors", "--recent", "1", stdout=out)
    resolved = StreamLink.objects.exclude(embed_url="")
    assert resolved.exists()
    assert out.getvalue().startswith(f"{resolved.count()} mirrors resolved, 0 failed")
    truth = {m.embed_url for e in anime.episodes for m in e.mirrors}
    assert set(resolved.values_list("embed_url", flat=True)) <= truth


def test_progress_bar_on_a_terminal() -> None:
    stream = io.StringIO()
    printer = ProgressPrinter(stream, tty=True)
    printer(ProgressEvent("http://o/anime/x/", done=5, total=10, counts=Counts(created=3)))
    printer.close()
    text = stream.getvalue()
    assert text.startswith("\r[##########..........] anime 5/10")
    assert "+3" in text
