"""Mirrors that work: "Lapor rusak" (the endpoint, its CSRF token and rate limit, counting),
the order of an episode's mirrors (working, reported, dead) and the stream the player
starts on, the page cache, the admin, and the health check that verifies reported
mirrors first (catalog/mirror_reports.py, catalog/mirror_views.py, scraper/health.py)."""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterator

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from catalog import mirror_reports
from catalog.models import Anime, EmbedHost, Episode, MirrorReport, StreamLink
from scraper.health import check_mirrors
from tests.fake_origin import FakeOrigin
from tests.pipeline_helpers import fast_client
from tests.site_factories import SampleCatalogue

pytestmark = pytest.mark.django_db


def report_url(link: StreamLink | int) -> str:
    pk = link if isinstance(link, int) else link.pk
    return reverse("catalog:report_mirror", args=[pk])


def viewer(address: str = "198.51.100.7", **extra: str) -> Client:
    return Client(REMOTE_ADDR=address, **extra)


def links_of(episode: Episode) -> dict[tuple[str, str], StreamLink]:
    return {(link.quality, link.provider): link for link in episode.stream_links.all()}


def mirror_order(body: str, quality: str) -> list[tuple[str, str]]:
    """(provider, health) of the buttons of one quality group, in page order."""
    group = re.search(
        rf'class="mirror-quality">{quality}</span>\s*<div class="mirror-buttons">(.*?)</div>',
        body,
        re.S,
    )
    assert group, quality
    buttons = re.findall(r"<button ([^>]*)>", group.group(1))
    found = []
    for attrs in buttons:
        provider = re.search(r'data-provider="([^"]*)"', attrs).group(1)
        health = re.search(r'data-health="([^"]*)"', attrs)
        found.append((provider, health.group(1) if health else ""))
    return found


def active_mirror(body: str) -> str | None:
    match = re.search(
        r'<button type="button" class="mirror active[^"]*"[^>]*data-mirror="(\d+)"', body
    )
    return match.group(1) if match else None


def iframe_src(body: str) -> str | None:
    tag = re.search(r'<iframe id="player-frame"[^>]*>', body).group(0)
    src = re.search(r'src="([^"]*)"', tag)
    return src.group(1) if src else None


# --- The endpoint ---------------------------------------------------------------------


def test_a_report_counts_once_per_client_mirror_and_day(sample: SampleCatalogue) -> None:
    link = sample.episodes[0].stream_links.first()
    first = viewer().post(report_url(link))
    assert first.status_code == 200
    assert first.json()["ok"] is True
    assert first.json()["counted"] is True
    assert "Terima kasih" in first.json()["message"]
    assert "no-store" in first["Cache-Control"]

    again = viewer().post(report_url(link))
    assert again.status_code == 200
    assert again.json()["counted"] is False
    assert "sudah melaporkan" in again.json()["message"]
    assert MirrorReport.objects.filter(link=link).count() == 1

    # Another client counts; a neighbour in the same IPv6 /64 is the same client.
    assert viewer("203.0.113.9").post(report_url(link)).json()["counted"] is True
    assert viewer("2001:db8:1:2::10").post(report_url(link)).json()["counted"] is True
    assert viewer("2001:db8:1:2::99").post(report_url(link)).json()["counted"] is False
    assert MirrorReport.objects.filter(link=link).count() == 3
    # Nothing stored names an address.
    stored = " ".join(MirrorReport.objects.values_list("client", flat=True))
    assert "198.51.100.7" not in stored
    assert "203.0.113.9" not in stored


def test_the_same_client_counts_again_the_next_day(sample: SampleCatalogue) -> None:
    link = sample.episodes[0].stream_links.first()
    yesterday = timezone.now() - datetime.timedelta(days=1)
    mirror_reports.report_mirror(link_id=link.pk, network="198.51.100.7", now=yesterday)
    assert viewer().post(report_url(link)).json()["counted"] is True
    assert MirrorReport.objects.filter(link=link).count() == 2


def test_get_is_405_and_unknown_mirrors_are_404(sample: SampleCatalogue) -> None:
    link = sample.episodes[0].stream_links.first()
    assert viewer().get(report_url(link)).status_code == 405
    for pk in (link.pk + 10_000, 99_999_999_999_999_999_999):
        answer = viewer().post(f"/api/mirror/{pk}/lapor/")
        assert answer.status_code == 404
        assert answer.json()["ok"] is False
    assert viewer().post("/api/mirror/abc/lapor/").status_code == 404
    assert viewer().post("/api/mirror/-1/lapor/").status_code == 404
    assert not MirrorReport.objects.exists()


def test_a_report_needs_the_csrf_token(sample: SampleCatalogue) -> None:
    link = sample.episodes[0].stream_links.first()
    browser = Client(enforce_csrf_checks=True, REMOTE_ADDR="198.51.100.7")
    assert browser.post(report_url(link)).status_code == 403
    # A page elsewhere cannot read the token: it needs our origin to fetch it.
    token = browser.get(reverse("catalog:csrf_token"))
    assert token.status_code == 200
    assert "no-store" in token["Cache-Control"]
    value = token.json()["token"]
    assert browser.post(report_url(link), HTTP_X_CSRFTOKEN="x" * 32).status_code == 403
    assert browser.post(report_url(link), HTTP_X_CSRFTOKEN=value).status_code == 200
    assert MirrorReport.objects.filter(link=link).count() == 1


def test_reports_are_rate_limited_per_client(sample: SampleCatalogue) -> None:
    links = list(StreamLink.objects.order_by("pk"))
    assert len(links) > mirror_reports.REPORTS_PER_WINDOW
    noisy = viewer("198.51.100.50")
    for link in links[: mirror_reports.REPORTS_PER_WINDOW]:
        assert noisy.post(report_url(link)).status_code == 200
    limited = noisy.post(report_url(links[mirror_reports.REPORTS_PER_WINDOW]))
    assert limited.status_code == 429
    assert int(limited["Retry-After"]) > 0
    assert "Terlalu sering" in limited.json()["error"]
    assert MirrorReport.objects.count() == mirror_reports.REPORTS_PER_WINDOW
    # Another viewer is not affected.
    assert viewer("198.51.100.51").post(report_url(links[-1])).status_code == 200


def test_behind_the_proxy_the_client_is_nginx_real_ip(sample: SampleCatalogue, settings) -> None:
    links = list(StreamLink.objects.order_by("pk"))
    limit = mirror_reports.REPORTS_PER_WINDOW
    # Without BEHIND_PROXY a viewer's own X-Real-IP header is not believed.
    spoofer = viewer("198.51.100.60")
    for n, link in enumerate(links[: limit + 1]):
        answer = spoofer.post(report_url(link), HTTP_X_REAL_IP=f"192.0.2.{n}")
    assert answer.status_code == 429

    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    MirrorReport.objects.all().delete()
    # Every viewer arrives from nginx's address: told apart by the X-Real-IP nginx sets.
    proxy = viewer("127.0.0.1")
    for link in links[:limit]:
        assert proxy.post(report_url(link), HTTP_X_REAL_IP="192.0.2.77").status_code == 200
    assert proxy.post(report_url(links[limit]), HTTP_X_REAL_IP="192.0.2.77").status_code == 429
    assert proxy.post(report_url(links[limit]), HTTP_X_REAL_IP="192.0.2.78").status_code == 200


# --- Order and the starting stream ------------------------------------------------------


def test_reported_and_dead_mirrors_rank_last_within_their_quality(
    client: Client, sample: SampleCatalogue
) -> None:
    episode = sample.episodes[0]
    links = links_of(episode)
    url = episode.get_absolute_url()
    body = client.get(url).content.decode()
    assert mirror_order(body, "480p") == [("penyedia1", ""), ("penyedia2", "")]
    assert mirror_order(body, "720p") == [("penyedia1", ""), ("penyedia2", "")]

    assert viewer().post(report_url(links["480p", "penyedia1"])).status_code == 200
    StreamLink.objects.filter(pk=links["720p", "penyedia1"].pk).update(ok=False)
    # The health check's verdict bumps the page too (tested below); here by hand.
    mirror_reports.bump_mirror_order(episode_ids=[episode.pk])
    body = client.get(url).content.decode()
    assert mirror_order(body, "480p") == [("penyedia2", ""), ("penyedia1", "reported")]
    assert mirror_order(body, "720p") == [("penyedia2", ""), ("penyedia1", "dead")]
    assert "(dilaporkan rusak)" in body
    assert "(tidak berfungsi)" in body
    # Quality groups keep their order.
    assert body.index('class="mirror-quality">480p') < body.index('class="mirror-quality">720p')


def test_a_reported_default_gives_way_to_a_working_mirror(
    client: Client, sample: SampleCatalogue
) -> None:
    episode = sample.episodes[0]
    links = links_of(episode)
    default, other = links["480p", "penyedia1"], links["480p", "penyedia2"]
    assert default.is_default
    body = client.get(episode.get_absolute_url()).content.decode()
    assert iframe_src(body) == f"{sample.embed_base}/default/1"
    assert active_mirror(body) == str(default.pk)

    # Reported, and no other mirror has a stored embed: the page asks the player to
    # resolve the first working one of the same quality on load.
    viewer().post(report_url(default))
    body = client.get(episode.get_absolute_url()).content.decode()
    assert iframe_src(body) is None
    assert f'data-autoload="{other.pk}"' in body

    # With a stored embed, it plays at once.
    StreamLink.objects.filter(pk=other.pk).update(embed_url=f"{sample.embed_base}/other")
    mirror_reports.bump_mirror_order(episode_ids=[episode.pk])
    body = client.get(episode.get_absolute_url()).content.decode()
    assert iframe_src(body) == f"{sample.embed_base}/other"
    assert active_mirror(body) == str(other.pk)
    assert "data-autoload" not in body


def test_with_every_mirror_broken_the_default_stays(
    client: Client, sample: SampleCatalogue
) -> None:
    episode = sample.episodes[0]
    StreamLink.objects.filter(episode=episode).update(ok=False)
    body = client.get(episode.get_absolute_url()).content.decode()
    assert iframe_src(body) == f"{sample.embed_base}/default/1"
    assert "data-autoload" not in body


def test_only_the_report_that_changes_the_order_changes_a_page(
    client: Client, sample: SampleCatalogue, django_assert_max_num_queries
) -> None:
    episode, anime = sample.episodes[0], sample.ongoing
    link = episode.stream_links.get(quality="720p", provider="penyedia1")
    other_episode = sample.episodes[1]
    before = client.get(other_episode.get_absolute_url())
    long_ago = timezone.now() - datetime.timedelta(days=2)
    Episode.objects.filter(pk=episode.pk).update(updated_at=long_ago)
    Anime.objects.filter(pk=anime.pk).update(updated_at=long_ago)
    first_seen = client.get(episode.get_absolute_url())

    viewer("198.51.100.1").post(report_url(link))
    episode.refresh_from_db()
    assert episode.mirrors_version == 1
    # Nothing else changes: the anime page and the lists keep their cached copies.
    assert Anime.objects.get(pk=anime.pk).version == anime.version
    after = client.get(other_episode.get_absolute_url())
    assert after["ETag"] == before["ETag"]
    # The reported episode's page changed: new validators, also for a client that
    # revalidates by date alone.
    changed = client.get(episode.get_absolute_url())
    assert changed["ETag"] != first_seen["ETag"]
    assert changed["Last-Modified"] != first_seen["Last-Modified"]
    stale_date = client.get(
        episode.get_absolute_url(), HTTP_IF_MODIFIED_SINCE=first_seen["Last-Modified"]
    )
    assert stale_date.status_code == 200

    # More reports of a mirror already reported change nothing a viewer sees.
    viewer("198.51.100.2").post(report_url(link))
    viewer("198.51.100.3").post(report_url(link))
    episode.refresh_from_db()
    assert episode.mirrors_version == 1
    assert MirrorReport.objects.filter(link=link).count() == 3
    page = client.get(episode.get_absolute_url())
    with django_assert_max_num_queries(3):  # served from the cache: its version only
        again = client.get(episode.get_absolute_url())
    assert again["ETag"] == page["ETag"]


def test_a_report_of_a_dead_mirror_changes_nothing(sample: SampleCatalogue) -> None:
    episode = sample.episodes[0]
    link = episode.stream_links.get(quality="720p", provider="penyedia2")
    StreamLink.objects.filter(pk=link.pk).update(ok=False)
    assert viewer().post(report_url(link)).json()["counted"] is True
    episode.refresh_from_db()
    assert episode.mirrors_version == 0  # already ranked last


# --- The admin --------------------------------------------------------------------------


@pytest.fixture
def staff() -> Client:
    user = User.objects.create_superuser("editor", "editor@example.test", "pw-123456-long")
    client = Client()
    client.force_login(user)
    return client


def test_admin_shows_filters_and_clears_reports(staff: Client, sample: SampleCatalogue) -> None:
    episode = sample.episodes[0]
    link = episode.stream_links.get(quality="480p", provider="penyedia2")
    for n in range(3):
        viewer(f"198.51.100.{n}").post(report_url(link))

    changelist = reverse("admin:catalog_streamlink_changelist")
    reported = staff.get(changelist, {"dilaporkan": "yes"})
    assert [row.pk for row in reported.context["cl"].result_list] == [link.pk]
    assert reported.context["cl"].result_list[0].open_reports == 3
    assert "laporan rusak" in reported.content.decode()
    others = staff.get(changelist, {"dilaporkan": "no"}).context["cl"].result_list
    assert link.pk not in [row.pk for row in others]
    assert len(others) == StreamLink.objects.count() - 1

    episodes = staff.get(reverse("admin:catalog_episode_changelist"), {"dilaporkan": "yes"})
    rows = episodes.context["cl"].result_list
    assert [(row.pk, row.mirror_reports_open) for row in rows] == [(episode.pk, 3)]
    # The episode's page lists the count next to the mirror.
    change = staff.get(reverse("admin:catalog_episode_change", args=[episode.pk]))
    assert change.status_code == 200

    version = Episode.objects.get(pk=episode.pk).mirrors_version
    answer = staff.post(
        changelist,
        {"action": "clear_link_reports", "_selected_action": [link.pk]},
        follow=True,
    )
    assert "3 laporan rusak dihapus" in answer.content.decode()
    assert not MirrorReport.objects.exists()
    assert Episode.objects.get(pk=episode.pk).mirrors_version == version + 1
    assert staff.get(changelist, {"dilaporkan": "yes"}).context["cl"].result_list.count() == 0


def test_admin_clears_the_reports_of_whole_episodes(staff: Client, sample: SampleCatalogue) -> None:
    first, second = sample.episodes[0], sample.episodes[1]
    for episode in (first, second):
        for link in episode.stream_links.all()[:2]:
            viewer().post(report_url(link))
    staff.post(
        reverse("admin:catalog_episode_changelist"),
        {"action": "clear_episode_reports", "_selected_action": [first.pk]},
    )
    assert not MirrorReport.objects.filter(link__episode=first).exists()
    assert MirrorReport.objects.filter(link__episode=second).count() == 2


# --- The health check -------------------------------------------------------------------


@pytest.fixture
def embeds(sample: SampleCatalogue) -> Iterator[FakeOrigin]:
    """The fake origin's embed host (its players answer 200, others 404), approved."""
    with FakeOrigin(seed=3, size=1) as origin:
        EmbedHost.objects.create(host=f"localhost:{origin.port}", approved=True)
        yield origin


def embed_url(origin: FakeOrigin, name: str) -> str:
    return f"{origin.embed_base}/embed/{name}" + ("/x" if name != "removed" else "")


def test_the_health_check_verifies_reported_mirrors_first(
    sample: SampleCatalogue, embeds: FakeOrigin
) -> None:
    episode = sample.episodes[0]
    links = links_of(episode)
    long_ago = timezone.now() - datetime.timedelta(days=30)
    recently = timezone.now() - datetime.timedelta(minutes=5)
    # Three mirrors never checked; two reported ones checked a moment ago: the reported
    # ones go first all the same, the most reported first.
    fresh = [links["720p", "penyedia1"], links["720p", "penyedia2"], links["480p", "penyedia1"]]
    for n, link in enumerate(fresh):
        StreamLink.objects.filter(pk=link.pk).update(embed_url=embed_url(embeds, f"p{n}"))
    alive, dead = links["480p", "penyedia2"], links["480p", "penyedia1"]
    StreamLink.objects.filter(pk=alive.pk).update(
        embed_url=embed_url(embeds, "alive"), checked_at=recently, ok=True
    )
    StreamLink.objects.filter(pk=dead.pk).update(
        embed_url=embed_url(embeds, "removed"), checked_at=recently, ok=True
    )
    for n in range(2):
        viewer(f"198.51.100.{n}").post(report_url(alive))
    viewer("198.51.100.9").post(report_url(dead))
    # A report from before the window no longer counts: pruned by the run.
    MirrorReport.objects.create(
        link=links["720p", "penyedia2"], client="old", day=long_ago.date(), created_at=long_ago
    )
    version = Episode.objects.get(pk=episode.pk).mirrors_version
    embeds.reset_log()

    with fast_client(embeds.base_url) as client:
        summary = check_mirrors(limit=3, client=client)

    checked = [r.path for r in embeds.requests if r.host.startswith("localhost")]
    assert checked[:2] == ["/embed/alive/x", "/embed/removed"]
    assert len(checked) == 3
    assert summary.reported == 2
    assert summary.cleared == 1
    # Alive: its reports are cleared; dead: it ranks last for its failed check.
    assert not MirrorReport.objects.filter(link=alive).exists()
    assert MirrorReport.objects.filter(link=dead).count() == 1
    assert StreamLink.objects.get(pk=dead.pk).ok is False
    assert not MirrorReport.objects.filter(
        created_at__lt=timezone.now() - datetime.timedelta(days=4)
    ).exists()
    assert Episode.objects.get(pk=episode.pk).mirrors_version > version
    body = Client().get(episode.get_absolute_url()).content.decode()
    assert mirror_order(body, "480p") == [("penyedia2", ""), ("penyedia1", "dead")]


def test_the_half_hourly_run_checks_only_mirrors_reported_since_their_check(
    sample: SampleCatalogue, embeds: FakeOrigin, settings
) -> None:
    from catalog.models import ScrapeRun
    from scraper import tasks

    settings.OTAKUDESU_BASE_URL = embeds.base_url
    settings.SCRAPER_RATE_LIMIT = 0
    links = list(StreamLink.objects.filter(episode=sample.episodes[0]).order_by("pk"))
    for n, link in enumerate(links):
        StreamLink.objects.filter(pk=link.pk).update(embed_url=embed_url(embeds, f"p{n}"))
    runs = ScrapeRun.objects.count()
    assert tasks.check_reported_mirrors_task() is None  # nothing reported: no run, no request
    assert ScrapeRun.objects.count() == runs

    reported = links[2]
    viewer().post(report_url(reported))
    embeds.reset_log()
    run = ScrapeRun.objects.get(pk=tasks.check_reported_mirrors_task())
    assert run.kind == "check_reported_mirrors"
    assert run.status == ScrapeRun.Status.OK
    assert [r.path for r in embeds.requests if r.host.startswith("localhost")] == ["/embed/p2/x"]
    assert StreamLink.objects.get(pk=reported.pk).ok is True
    assert not MirrorReport.objects.exists()  # verified alive: cleared

    # Reported again after that check: checked again; a report the check already
    # answered is not (a dead mirror is not fetched every half hour for days).
    StreamLink.objects.filter(pk=reported.pk).update(embed_url=embed_url(embeds, "removed"))
    viewer("203.0.113.5").post(report_url(reported))
    assert tasks.check_reported_mirrors_task() is not None
    assert StreamLink.objects.get(pk=reported.pk).ok is False
    assert MirrorReport.objects.filter(link=reported).count() == 1
    assert tasks.check_reported_mirrors_task() is None
