"""The catalogue's storage rules: keys, constraints, text round-trips, migrations."""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction

from catalog.models import Anime, Batch, DownloadLink, Episode, StreamLink, fold_text
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.django_db


def make_anime(slug: str = "kimi-no-hoshi-sub-indo", **kw: object) -> Anime:
    return Anime.objects.create(slug=slug, title=kw.pop("title", f"Anime {slug}"), **kw)


def make_episode(anime: Anime, slug: str = "knh-episode-1-sub-indo", **kw: object) -> Episode:
    return Episode.objects.create(anime=anime, slug=slug, title=f"Episode {slug}", **kw)


def test_migrations_are_complete() -> None:
    # A model change without its migration would apply nowhere.
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


def test_migrations_apply_on_a_fresh_sqlite_database(tmp_path) -> None:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.sqlite3'}"}
    env.pop("REDIS_URL", None)
    done = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=REPO_ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "tests.settings"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "fresh.sqlite3").stat().st_size > 0


def test_migrations_applied_on_the_test_database() -> None:
    tables = set(connection.introspection.table_names())
    expected = {"catalog_anime", "catalog_episode", "catalog_streamlink", "catalog_downloadlink"}
    assert expected <= tables


def test_slugs_differing_in_case_are_two_rows() -> None:
    make_anime("Abc-sub-indo")
    make_anime("abc-sub-indo")
    assert Anime.objects.filter(slug="abc-sub-indo").count() == 1
    assert Anime.objects.get(slug="Abc-sub-indo").slug == "Abc-sub-indo"


def test_slugs_differing_in_accent_are_two_rows() -> None:
    make_anime("café-sub-indo")
    make_anime("cafe-sub-indo")
    assert Anime.objects.count() == 2
    assert Anime.objects.get(slug="café-sub-indo").slug == "café-sub-indo"


@pytest.mark.skipif(connection.vendor != "mysql", reason="MySQL/MariaDB collation check")
def test_mysql_slug_columns_are_binary() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COLLATION_NAME FROM information_schema.COLUMNS "
            "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'catalog_anime' "
            "AND COLUMN_NAME = 'slug'"
        )
        assert cursor.fetchone()[0] == "utf8mb4_bin"


def test_japanese_title_with_emoji_round_trips() -> None:
    title = "推しの子 第3期 🌟✨ — ｢アイ｣ 𠮷野家"
    make_anime("oshi-sub-indo", title=title, title_japanese="【推しの子】🎤")
    anime = Anime.objects.get(slug="oshi-sub-indo")
    assert anime.title == title
    assert anime.title_japanese == "【推しの子】🎤"


def test_search_text_is_folded_for_case_and_accent_insensitive_search() -> None:
    make_anime("pokemon-sub-indo", title="Pokémon Horizons", title_japanese="ポケモン")
    assert fold_text("POKÉMON") == "pokemon"
    assert list(Anime.objects.search("pokemon hori").values_list("slug", flat=True)) == [
        "pokemon-sub-indo"
    ]
    assert list(Anime.objects.search("ポケモン").values_list("slug", flat=True)) == [
        "pokemon-sub-indo"
    ]
    assert not Anime.objects.search("   ").exists()


def test_stream_link_unique_per_episode_quality_provider() -> None:
    episode = make_episode(make_anime())
    fields = {"token_id": 1, "token_i": 0, "token_q": "720p"}
    StreamLink.objects.create(episode=episode, quality="720p", provider="vidhide", **fields)
    StreamLink.objects.create(episode=episode, quality="480p", provider="vidhide", **fields)
    with pytest.raises(IntegrityError), transaction.atomic():
        StreamLink.objects.create(episode=episode, quality="720p", provider="vidhide", **fields)


def test_download_link_unique_per_owner_format_quality_provider() -> None:
    anime = make_anime()
    episode = make_episode(anime)
    batch = Batch.objects.create(anime=anime, slug="knh-batch-sub-indo", title="Batch")
    row = {"format": "mp4", "quality": "720p", "provider": "GoFile", "url": "https://x.test/1"}
    DownloadLink.objects.create(episode=episode, **row)
    DownloadLink.objects.create(batch=batch, **row)  # same link, other owner: allowed
    with pytest.raises(IntegrityError), transaction.atomic():
        DownloadLink.objects.create(episode=episode, **row)
    with pytest.raises(IntegrityError), transaction.atomic():
        DownloadLink.objects.create(batch=batch, **row)


def test_download_link_needs_exactly_one_owner() -> None:
    episode = make_episode(make_anime())
    batch = Batch.objects.create(anime=episode.anime, slug="b-sub-indo", title="Batch")
    row = {"format": "mkv", "quality": "480p", "provider": "Mega", "url": "https://x.test/2"}
    with pytest.raises(IntegrityError), transaction.atomic():
        DownloadLink.objects.create(**row)
    with pytest.raises(IntegrityError), transaction.atomic():
        DownloadLink.objects.create(episode=episode, batch=batch, **row)


def test_episodes_order_by_number_with_half_episodes() -> None:
    anime = make_anime()
    for n in ["2", "12.5", "1", "12"]:
        make_episode(anime, slug=f"ep-{n}", number=Decimal(n))
    numbers = [e.number_display for e in anime.episodes.all()]
    assert numbers == ["1", "2", "12", "12.5"]
