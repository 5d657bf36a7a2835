"""Django admin: every changelist and change page works, at a query cost that stays flat."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from catalog.models import (
    Anime,
    Batch,
    DownloadLink,
    EmbedHost,
    Episode,
    Genre,
    ScrapeRun,
    StreamLink,
)

pytestmark = pytest.mark.django_db

MODELS = [Anime, Batch, DownloadLink, EmbedHost, Episode, Genre, ScrapeRun, StreamLink]


def build_catalog(n_anime: int, n_episodes: int) -> None:
    genres = [Genre.objects.create(slug=f"g{i}", name=f"Genre {i}") for i in range(3)]
    for a in range(n_anime):
        anime = Anime.objects.create(
            slug=f"anime-{a}-sub-indo", title=f"Anime {a} ✨", type="TV", score=Decimal("7.5")
        )
        anime.genres.set(genres[: 1 + a % 3])
        batch = Batch.objects.create(anime=anime, slug=f"anime-{a}-batch", title=f"Batch {a}")
        DownloadLink.objects.create(
            batch=batch, format="mp4", quality="720p", provider="GoFile", url="https://d.test/b"
        )
        for e in range(n_episodes):
            ep = Episode.objects.create(
                anime=anime, slug=f"a{a}-episode-{e}", title=f"Ep {e}", number=e + 1
            )
            StreamLink.objects.create(
                episode=ep, quality="720p", provider="vid", token_id=e, token_i=0, token_q="720p"
            )
            DownloadLink.objects.create(
                episode=ep, format="mkv", quality="480p", provider="Mega", url="https://d.test/e"
            )
    EmbedHost.objects.create(host="embed.test")
    ScrapeRun.objects.create(kind="full", status=ScrapeRun.Status.OK, created=5)


@pytest.fixture
def admin_client_db() -> Client:
    user = User.objects.create_superuser("boss", "boss@example.test", "pw-123456-long")
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_changelist_queries_do_not_grow_with_rows(
    model, admin_client_db: Client, django_assert_max_num_queries
) -> None:
    build_catalog(n_anime=3, n_episodes=3)
    url = reverse(f"admin:catalog_{model._meta.model_name}_changelist")
    with django_assert_max_num_queries(12) as small:
        assert admin_client_db.get(url).status_code == 200
    build_catalog_more()
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = admin_client_db.get(url)
    assert response.status_code == 200


def build_catalog_more() -> None:
    offset = Anime.objects.count()
    for a in range(offset, offset + 20):
        anime = Anime.objects.create(slug=f"more-{a}", title=f"More {a}", type="Movie")
        anime.genres.set(Genre.objects.all())
        for e in range(3):
            ep = Episode.objects.create(anime=anime, slug=f"more-{a}-{e}", title=f"E{e}", number=e)
            StreamLink.objects.create(
                episode=ep, quality="360p", provider="m", token_id=e, token_i=0, token_q="360p"
            )
            DownloadLink.objects.create(
                episode=ep, format="mp4", quality="360p", provider="X", url="https://d.test/m"
            )


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_change_page_answers(model, admin_client_db: Client, django_assert_max_num_queries) -> None:
    build_catalog(n_anime=2, n_episodes=4)
    obj = model.objects.order_by("pk").first()
    url = reverse(f"admin:catalog_{model._meta.model_name}_change", args=[obj.pk])
    with django_assert_max_num_queries(30):
        response = admin_client_db.get(url)
    assert response.status_code == 200


def test_anime_page_lists_every_episode_as_a_link(admin_client_db: Client) -> None:
    anime = Anime.objects.create(slug="long-run", title="Long Run")
    episodes = [
        Episode.objects.create(anime=anime, slug=f"lr-{n}", title=f"Long Run Ep {n}", number=n)
        for n in range(1, 301)
    ]
    response = admin_client_db.get(reverse("admin:catalog_anime_change", args=[anime.pk]))
    html = response.content.decode()
    for ep in (episodes[0], episodes[150], episodes[-1]):
        assert reverse("admin:catalog_episode_change", args=[ep.pk]) in html


def test_episode_page_shows_its_stream_and_download_links(admin_client_db: Client) -> None:
    build_catalog(n_anime=1, n_episodes=1)
    ep = Episode.objects.get()
    html = admin_client_db.get(reverse("admin:catalog_episode_change", args=[ep.pk])).content
    assert b"vid" in html
    assert b"https://d.test/e" in html


def test_scrape_runs_are_read_only_and_newest_first(admin_client_db: Client) -> None:
    ScrapeRun.objects.create(kind="full", status=ScrapeRun.Status.OK)
    newest = ScrapeRun.objects.create(kind="ongoing", status=ScrapeRun.Status.FAILED)
    response = admin_client_db.get(reverse("admin:catalog_scraperun_changelist"))
    assert response.context["cl"].result_list[0] == newest
    assert admin_client_db.get(reverse("admin:catalog_scraperun_add")).status_code == 403
    change = admin_client_db.post(
        reverse("admin:catalog_scraperun_change", args=[newest.pk]), {"kind": "x"}
    )
    assert change.status_code == 403
    newest.refresh_from_db()
    assert newest.kind == "ongoing"


def test_anime_changelist_filters_and_search(admin_client_db: Client) -> None:
    build_catalog(n_anime=3, n_episodes=1)
    Anime.objects.filter(slug="anime-1-sub-indo").update(status="completed")
    url = reverse("admin:catalog_anime_changelist")
    completed = admin_client_db.get(url, {"status__exact": "completed"}).context["cl"]
    assert [a.slug for a in completed.result_list] == ["anime-1-sub-indo"]
    found = admin_client_db.get(url, {"q": "anime-2"}).context["cl"]
    assert [a.slug for a in found.result_list] == ["anime-2-sub-indo"]


def test_an_editors_fix_shows_on_the_cached_site_at_once(admin_client_db: Client) -> None:
    genre = Genre.objects.create(slug="aksi", name="Aksi")
    anime = Anime.objects.create(slug="fix-me", title="Fix Me", type="TV")
    anime.genres.add(genre)
    batch = Batch.objects.create(anime=anime, slug="fix-me-batch", title="Fix Me Batch")
    DownloadLink.objects.create(
        batch=batch, format="mp4", quality="720p", provider="GoFile", url="https://d.test/b"
    )
    page = Client().get("/anime/fix-me/").content.decode()  # now cached
    assert "Aksi" in page
    assert "https://d.test/b" in page

    change = admin_client_db.post(
        reverse("admin:catalog_genre_change", args=[genre.pk]), {"slug": "aksi", "name": "Laga"}
    )
    assert change.status_code == 302
    delete = admin_client_db.post(
        reverse("admin:catalog_batch_delete", args=[batch.pk]), {"post": "yes"}
    )
    assert delete.status_code == 302

    page = Client().get("/anime/fix-me/").content.decode()
    assert "Laga" in page
    assert "https://d.test/b" not in page
