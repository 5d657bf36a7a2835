"""Posters in the Anime admin: each anime's poster state (column and filter) as the worker
recorded it against the fake origin, and the action "Ambil ulang poster", which fetches
the selected posters again through the worker's poster task."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from selectolax.lexbor import LexborHTMLParser

from catalog.models import Anime
from catalog.poster_state import STATE_Q, PosterState, state_of
from scraper import posters as fetcher
from scraper.crawl import run_crawl
from tests.fake_origin import FakeOrigin
from tests.pipeline_helpers import fast_client

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:catalog_anime_changelist")


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def origin(settings) -> Iterator[FakeOrigin]:
    with FakeOrigin(seed=21, size=7) as fake:
        # The worker's own client (the queued task) talks to this origin, without pauses.
        settings.OTAKUDESU_BASE_URL = fake.base_url
        settings.SCRAPER_RATE_LIMIT = 0
        settings.SCRAPER_RETRIES = 0
        yield fake


@pytest.fixture
def admin(db) -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("boss", "boss@example.test", "pw-123456"))
    return client


def _dead_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/wp-content/uploads/2026/01/gone.jpg"


def fetch(origin: FakeOrigin) -> fetcher.PosterRun:
    with fast_client(origin.base_url, retries=0) as client:
        return fetcher.fetch_pending(client=client)


def catalogue_in_every_state(origin: FakeOrigin) -> dict[PosterState, Anime]:
    """One anime in each state, as the worker records it (no field set by hand but the
    origin's own poster URL)."""
    with fast_client(origin.base_url) as client:
        run_crawl("full", client=client)
    anime = list(Anime.objects.order_by("slug"))
    stored, outdated, pending, retrying, failed, none, _extra = anime
    origin.fail_paths([origin.truth.anime[failed.slug].poster_path], status=404)
    Anime.objects.filter(pk=retrying.pk).update(poster_url=_dead_url())
    Anime.objects.filter(pk=none.pk).update(poster_url="")
    Anime.objects.filter(pk=pending.pk).update(poster_url="")  # not known during the run
    fetch(origin)
    new_poster = origin.url("/wp-content/uploads/2026/02/new-poster.jpg")
    Anime.objects.filter(pk=outdated.pk).update(poster_url=new_poster)
    Anime.objects.filter(pk=pending.pk).update(
        poster_url=origin.url(origin.truth.anime[pending.slug].poster_path)
    )
    states = {
        PosterState.STORED: stored,
        PosterState.OUTDATED: outdated,
        PosterState.PENDING: pending,
        PosterState.RETRYING: retrying,
        PosterState.FAILED: failed,
        PosterState.NONE: none,
    }
    for item in states.values():
        item.refresh_from_db()
    return states


def listed(admin: Client, query: str = "") -> dict[int, str]:
    """The changelist's rows: anime id -> the poster column's text (titles may repeat)."""
    page = LexborHTMLParser(admin.get(CHANGELIST + query).content.decode())
    return {
        int(row.css_first('input[name="_selected_action"]').attributes["value"]): row.css_first(
            "td.field-poster_status"
        ).text(strip=True)
        for row in page.css("#result_list tbody tr")
    }


def test_each_anime_shows_its_poster_state_and_the_filter_finds_it(
    admin: Client, origin: FakeOrigin
) -> None:
    states = catalogue_in_every_state(origin)
    labels = {
        PosterState.STORED: "tersimpan",
        PosterState.OUTDATED: "tersimpan, poster baru belum diambil",
        PosterState.PENDING: "menunggu diambil",
        PosterState.RETRYING: "gagal, dicoba lagi",
        PosterState.FAILED: "gagal, berhenti dicoba",
        PosterState.NONE: "tidak ada di sumber",
    }
    rows = listed(admin)
    for state, anime in states.items():
        assert rows[anime.pk] == labels[state], state
        # Each anime is in its state's filter, and in no other.
        for other in PosterState:
            found = anime.pk in listed(admin, f"?poster={other.value}")
            assert found == (other is state), (state, other)
    # What the worker fetches next: the new, the retried and the changed posters.
    due = {PosterState.PENDING, PosterState.RETRYING, PosterState.OUTDATED}
    assert set(fetcher.pending()) == {states[s] for s in due}
    assert listed(admin, "?poster=nonsense") == rows  # an odd value filters nothing

    # The stored copy's thumbnail is our own JPEG, served.
    page = LexborHTMLParser(admin.get(CHANGELIST).content.decode())
    styles = [link.attributes["href"] for link in page.css('link[rel="stylesheet"]')]
    assert any(href.endswith("css/admin-posters.css") for href in styles)  # the labels' colours
    thumbs = [img.attributes["src"] for img in page.css("td.field-poster_status img")]
    assert len(thumbs) == 3  # stored, outdated (older copy) and the seventh anime
    for src in thumbs:
        assert src.startswith("/media/posters/")
        assert admin.get(src)["Content-Type"] == "image/jpeg"


def test_the_python_and_the_sql_states_agree(origin: FakeOrigin) -> None:
    catalogue_in_every_state(origin)
    for anime in Anime.objects.all():
        state = state_of(
            poster_url=anime.poster_url,
            poster_key=anime.poster_key,
            poster_source=anime.poster_source,
            tries=anime.poster_tries,
        )
        matching = [s for s, q in STATE_Q.items() if Anime.objects.filter(q, pk=anime.pk).exists()]
        assert matching == [state], anime.slug


def test_refetch_action_fetches_the_selected_posters_again(
    admin: Client, origin: FakeOrigin, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django_q.conf import Conf

    states = catalogue_in_every_state(origin)
    failed, stored, none = (
        states[PosterState.FAILED],
        states[PosterState.STORED],
        states[PosterState.NONE],
    )
    origin.fail_paths(())  # the origin serves the given-up poster again
    origin.reset_log()
    monkeypatch.setattr(Conf, "SYNC", True)  # the worker runs the queued task at once
    response = admin.post(
        CHANGELIST,
        {"action": "refetch_posters", "_selected_action": [failed.pk, stored.pk, none.pk]},
        follow=True,
    )
    assert response.status_code == 200
    texts = [str(m) for m in get_messages(response.wsgi_request)]
    assert "Poster 2 anime diantrekan untuk diambil ulang." in texts
    assert "1 anime dilewati: sumber tidak memberi URL poster." in texts
    # Only the selected posters were asked for, once each (not the other pending ones).
    asked = sorted(r.path for r in origin.requests if r.path.startswith("/wp-content/"))
    assert asked == sorted(
        [origin.truth.anime[failed.slug].poster_path, origin.truth.anime[stored.slug].poster_path]
    )
    rows = listed(admin)
    assert rows[failed.pk] == rows[stored.pk] == "tersimpan"
    assert rows[none.pk] == "tidak ada di sumber"
    assert rows[states[PosterState.PENDING].pk] == "menunggu diambil"


def test_refetch_without_the_task_queue_leaves_them_due_for_the_next_run(
    admin: Client, origin: FakeOrigin, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django_q import tasks as q_tasks

    states = catalogue_in_every_state(origin)
    failed = states[PosterState.FAILED]

    def broken_queue(*_args, **_kw) -> None:
        raise ConnectionError("broker down")

    monkeypatch.setattr(q_tasks, "async_task", broken_queue)
    response = admin.post(
        CHANGELIST, {"action": "refetch_posters", "_selected_action": [failed.pk]}, follow=True
    )
    texts = [str(m) for m in get_messages(response.wsgi_request)]
    warning = (
        "Antrean tugas tidak bisa dihubungi: poster terpilih akan diambil setelah "
        "pembaruan berikutnya."
    )
    assert texts == [warning]
    assert listed(admin)[failed.pk] == "menunggu diambil"
    assert failed in fetcher.pending()  # the poster task after the next crawl takes it
