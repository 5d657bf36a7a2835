"""Stale while error: with the origin gone, the site keeps serving everything it stored."""

from __future__ import annotations

import datetime
import json

import pytest
from django.test import Client
from django.utils import timezone

from catalog.models import Anime, Episode, Genre, ScrapeRun, StreamLink
from scraper.crawl import CrawlError, run_crawl
from tests.fake_origin import FakeOrigin
from tests.pipeline_helpers import fast_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def stopped_origin_catalogue(settings, tmp_path) -> str:
    settings.SCRAPER_RETRIES = 0  # the site's own client: fail fast against the dead origin
    settings.SCRAPER_COOKIE_PATH = tmp_path / "cookies.json"
    with FakeOrigin(seed=5, size=12) as origin, fast_client(origin.base_url) as client:
        run_crawl("full", client=client)
        base = origin.base_url
    # The origin is stopped now: the next update fails and the data ages past the threshold.
    with pytest.raises(CrawlError), fast_client(base, retries=1) as client:
        run_crawl("ongoing", client=client)
    aged = timezone.now() - datetime.timedelta(minutes=settings.STALE_AFTER_MINUTES + 30)
    ScrapeRun.objects.filter(status=ScrapeRun.Status.OK).update(started_at=aged, finished_at=aged)
    return base


def test_every_page_answers_from_stored_data(stopped_origin_catalogue: str) -> None:
    client = Client()
    anime = Anime.objects.filter(episodes__isnull=False).first()
    episode = Episode.objects.filter(anime=anime).first()
    genre = Genre.objects.first()
    urls = [
        "/",
        "/ongoing/",
        "/completed/",
        "/anime/",
        "/genres/",
        f"/genres/{genre.slug}/",
        "/jadwal/",
        f"/search/?q={anime.title.split()[0]}",
        anime.get_absolute_url(),
        episode.get_absolute_url(),
    ]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        assert "Data per" in response.content.decode(), url
    assert anime.title in client.get(anime.get_absolute_url()).content.decode()
    for url in ("/feed/", "/sitemap.xml", "/robots.txt"):
        assert client.get(url).status_code == 200, url


def test_healthz_reports_the_stale_age(stopped_origin_catalogue: str, settings) -> None:
    data = json.loads(Client().get("/healthz").content)
    assert data["ok"] is True
    assert data["stale"] is True
    assert data["last_update_age_seconds"] >= (settings.STALE_AFTER_MINUTES + 30) * 60
    failed = ScrapeRun.objects.filter(status=ScrapeRun.Status.FAILED).get()
    assert "home page unavailable" in failed.errors


def test_mirror_switch_with_the_origin_down_says_so(stopped_origin_catalogue: str) -> None:
    link = StreamLink.objects.filter(embed_url="").first()
    response = Client().get(f"/api/mirror/{link.pk}/")
    assert response.status_code == 502
    assert json.loads(response.content)["ok"] is False
    link.refresh_from_db()
    assert link.last_error
