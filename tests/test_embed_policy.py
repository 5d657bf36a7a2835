"""Issue 11, items 10 and 11: the origin does not decide what the site frames or links to.

* An embed host the scraper meets is recorded pending: not in the episode page's CSP
  frame-src, not framed, refused by the mirror endpoint, not fetched by the health check,
  and logged ("host embed baru menunggu persetujuan: ...") until an admin approves it in
  the admin (an action, as a superuser through the test client) or EMBED_HOSTS_ALLOWED
  lists it.
* javascript:/data:/vbscript:/protocol-relative embeds and download links, in any case or
  spacing, are never stored (parser and again at ingest) and never rendered.

The crawls are real: the fake origin over HTTP (tests/fake_origin), whose embed host
(``localhost:<port>``) is no real otakudesu host, so it is new to the policy.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from catalog.models import DownloadLink, EmbedHost, Episode, StreamLink
from scraper.crawl import run_crawl
from scraper.health import check_mirrors
from tests.fake_origin import FakeOrigin
from tests.pipeline_helpers import fast_client

pytestmark = pytest.mark.django_db

PENDING_WARNING = "host embed baru menunggu persetujuan"
# Anything that is not an absolute http(s) link, whatever its case or leading spaces.
UNSAFE_IN_HTML = re.compile(r"(java\s*script|vbscript|data:text|file:)", re.IGNORECASE)


@pytest.fixture
def origin() -> Iterator[FakeOrigin]:
    with FakeOrigin(seed=5, size=4) as server:
        yield server


@pytest.fixture
def site_settings(settings, tmp_path: Path, origin: FakeOrigin):
    """The site's own mirror resolver talks to the fake origin; the policy is the real
    otakudesu hosts only (what the default of EMBED_HOSTS_ALLOWED lists)."""
    settings.OTAKUDESU_BASE_URL = origin.base_url
    settings.SCRAPER_RATE_LIMIT = 0
    settings.SCRAPER_RETRIES = 1
    settings.SCRAPER_TIMEOUT = 10
    settings.SCRAPER_COOKIE_PATH = tmp_path / "cookies.json"
    settings.EMBED_HOSTS_ALLOWED = ["desustream.com", "*.desustream.com", "odvidhide.com"]
    return settings


def crawl_anime(origin: FakeOrigin, slug: str) -> None:
    with fast_client(origin.base_url) as client:
        run = run_crawl("anime", slug=slug, client=client)
    assert run.status in {"ok", "partial"}, run.errors


def crawled_episode(origin: FakeOrigin) -> tuple[str, str]:
    """Crawl the first anime; (its newest episode's slug, the fake's embed host)."""
    anime = next(iter(origin.truth.anime.values()))
    crawl_anime(origin, anime.slug)
    return anime.episodes[0].slug, urlsplit(origin.embed_base).netloc


def frame_src(response) -> list[str]:
    for part in response["Content-Security-Policy"].split(";"):
        words = part.split()
        if words and words[0] == "frame-src":
            return words[1:]
    return []


def player_src(body: str) -> str | None:
    tag = re.search(r'<iframe id="player-frame"[^>]*>', body)
    assert tag is not None, "no player on the page"
    src = re.search(r'\ssrc="([^"]*)"', tag.group(0))
    return src.group(1) if src else None


@pytest.fixture
def admin_client() -> Client:
    user = User.objects.create_superuser("penjaga", "penjaga@example.test", "pw-123456-long")
    client = Client()
    client.force_login(user)
    return client


def admin_action(admin_client: Client, action: str, hosts: list[str]) -> None:
    """Run an EmbedHost admin action on `hosts` the way the changelist's form does."""
    ids = [str(pk) for pk in EmbedHost.objects.filter(host__in=hosts).values_list("pk", flat=True)]
    assert ids, hosts
    response = admin_client.post(
        reverse("admin:catalog_embedhost_changelist"),
        {"action": action, "_selected_action": ids, "index": "0"},
        follow=True,
    )
    assert response.status_code == 200


# --------------------------------------------------------------------------- item 10


def test_a_new_embed_host_waits_for_approval_and_is_framed_only_after_it(
    origin: FakeOrigin, site_settings, admin_client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="scraper.embeds"):
        slug, host = crawled_episode(origin)
    truth = origin.truth.episodes[slug]

    # Recorded, pending.
    stored = EmbedHost.objects.get(host=host)
    assert stored.approved is False

    # The episode page neither allows nor frames it, and says why the player is empty.
    page = Client().get(f"/episode/{slug}/")
    assert page.status_code == 200
    assert host not in frame_src(page)
    assert frame_src(page) == ["'self'"]
    body = page.content.decode()
    assert player_src(body) is None
    assert truth.default_embed not in body
    assert "belum disetujui" in body
    # The operator hears of it: the log names the host.
    assert f"{PENDING_WARNING}: {host}" in caplog.text

    # The admin lists it first, as pending.
    EmbedHost.objects.create(host="aaa.desustream.com")  # allowed by the policy
    EmbedHost.objects.create(host="aaa-approved.example.test", approved=True)
    listing = admin_client.get(reverse("admin:catalog_embedhost_changelist")).content.decode()
    assert "menunggu persetujuan" in listing
    assert listing.index(host) < listing.index("aaa.desustream.com")
    assert listing.index(host) < listing.index("aaa-approved.example.test")

    assert stored.last_seen is not None  # the admin shows when the origin last named it

    # An admin approves it: the page's CSP allows it and the player frames it.
    admin_action(admin_client, "approve_hosts", [host])
    assert EmbedHost.objects.get(host=host).approved is True
    page = Client().get(f"/episode/{slug}/")
    assert host in frame_src(page)
    assert player_src(page.content.decode()) == truth.default_embed

    # Rejected (the row goes): out of the CSP again.
    admin_action(admin_client, "reject_hosts", [host])
    assert not EmbedHost.objects.filter(host=host).exists()
    assert host not in frame_src(Client().get(f"/episode/{slug}/"))


def test_a_host_listed_in_embed_hosts_allowed_needs_no_approval(
    origin: FakeOrigin, site_settings, admin_client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    port = urlsplit(origin.embed_base).port
    site_settings.EMBED_HOSTS_ALLOWED = [*site_settings.EMBED_HOSTS_ALLOWED, f"localhost:{port}"]
    with caplog.at_level(logging.WARNING, logger="scraper.embeds"):
        slug, host = crawled_episode(origin)
    assert PENDING_WARNING not in caplog.text
    assert EmbedHost.objects.get(host=host).approved is False  # nobody had to approve it
    page = Client().get(f"/episode/{slug}/")
    assert host in frame_src(page)
    assert player_src(page.content.decode()) == origin.truth.episodes[slug].default_embed
    listing = admin_client.get(reverse("admin:catalog_embedhost_changelist")).content.decode()
    assert "EMBED_HOSTS_ALLOWED" in listing

    # The same host on another port is another host: not listed, so pending.
    site_settings.EMBED_HOSTS_ALLOWED = [f"localhost:{port + 1}"]
    assert host not in frame_src(Client().get(f"/episode/{slug}/"))


def test_the_mirror_endpoint_refuses_a_mirror_on_a_pending_host(
    origin: FakeOrigin, site_settings, admin_client: Client
) -> None:
    slug, host = crawled_episode(origin)
    link = StreamLink.objects.filter(episode__slug=slug).order_by("pk").first()
    answer = Client().get(f"/api/mirror/{link.pk}/")
    data = answer.json()
    assert answer.status_code == 403
    assert data["ok"] is False
    assert "url" not in data
    assert "belum disetujui" in data["error"]
    assert host not in answer.content.decode()
    # Resolved all the same (it is an http(s) URL): once approved, it plays at once.
    assert urlsplit(StreamLink.objects.get(pk=link.pk).embed_url).netloc == host

    admin_action(admin_client, "approve_hosts", [host])
    answer = Client().get(f"/api/mirror/{link.pk}/")
    assert answer.status_code == 200
    assert urlsplit(answer.json()["url"]).netloc == host


def test_the_health_check_does_not_fetch_a_pending_host(origin: FakeOrigin, site_settings) -> None:
    slug, host = crawled_episode(origin)
    # Mirrors resolved (http(s) URLs on the fake's embed host, still pending).
    for link in StreamLink.objects.filter(episode__slug=slug):
        assert Client().get(f"/api/mirror/{link.pk}/").status_code == 403
    resolved = StreamLink.objects.exclude(embed_url="").count()
    assert resolved > 0
    origin.reset_log()

    with fast_client(origin.base_url) as client:
        summary = check_mirrors(client=client)
    assert [r for r in origin.requests if r.host == host] == []
    assert summary.checked == 0
    assert summary.skipped == resolved
    assert set(StreamLink.objects.values_list("checked_at", flat=True)) == {None}

    # Approved, it is checked (the fake server is there and answers).
    EmbedHost.objects.filter(host=host).update(approved=True)
    with fast_client(origin.base_url) as client:
        summary = check_mirrors(client=client)
    assert summary.checked == resolved
    assert len([r for r in origin.requests if r.host == host]) == resolved


# --------------------------------------------------------------------------- items 10 + 11


def test_unsafe_embeds_are_never_stored_nor_framed(origin: FakeOrigin, site_settings) -> None:
    slug = origin.serve_unsafe_links()
    anime = origin.truth.anime_of(origin.truth.episodes[slug])
    crawl_anime(origin, anime.slug)
    episode = Episode.objects.get(slug=slug)
    # The page's player was a javascript: iframe: not stored.
    assert episode.default_embed_url == ""
    # Every mirror asked for through the site (the origin resolves each to an unsafe URL).
    for link in StreamLink.objects.filter(episode__slug=slug):
        answer = Client().get(f"/api/mirror/{link.pk}/")
        assert answer.json()["ok"] is False
        assert not UNSAFE_IN_HTML.search(answer.content.decode())
    embeds = set(StreamLink.objects.filter(episode=episode).values_list("embed_url", flat=True))
    assert embeds == {""}
    assert not EmbedHost.objects.filter(host__contains="evil").exists()
    assert not EmbedHost.objects.exclude(host=urlsplit(origin.embed_base).netloc).exists()

    # Even written straight into the database (an old row, an admin's typo), never framed.
    StreamLink.objects.filter(episode=episode).update(embed_url=" JaVaScRiPt:alert(1)")
    Episode.objects.filter(pk=episode.pk).update(default_embed_url="JaVaScRiPt:alert(1)")
    EmbedHost.objects.update(approved=True)
    body = Client().get(f"/episode/{slug}/").content.decode()
    assert not UNSAFE_IN_HTML.search(body)
    assert player_src(body) is None


def test_non_http_download_links_are_never_stored_nor_shown(
    origin: FakeOrigin, site_settings
) -> None:
    slug = origin.serve_unsafe_links()
    truth = origin.truth.episodes[slug]
    crawl_anime(origin, origin.truth.anime_of(truth).slug)
    episode = Episode.objects.get(slug=slug)

    # Only absolute http(s) URLs in the database; the safe links of the page all there.
    urls = list(DownloadLink.objects.values_list("url", flat=True))
    assert urls
    assert all(re.fullmatch(r"https://[a-z0-9.-]+/\S*", url) for url in urls), urls
    assert not DownloadLink.objects.filter(provider__startswith="Jahat").exists()
    safe = {d.url for d in truth.downloads if not d.provider.startswith("Jahat")}
    assert set(DownloadLink.objects.filter(episode=episode).values_list("url", flat=True)) == safe
    body = Client().get(f"/episode/{slug}/").content.decode()
    assert "Jahat" not in body
    assert not UNSAFE_IN_HTML.search(body)

    # Even written straight into the database (an old row, an admin's typo), never shown,
    # not even as a dead "#" link.
    first = DownloadLink.objects.filter(episode=episode).order_by("pk").first()
    DownloadLink.objects.filter(pk=first.pk).update(url=" JaVaScRiPt:alert(2)", provider="Jahat")
    bump = episode.anime  # a new page version, as an edit in the admin makes
    bump.version += 1
    bump.save(update_fields=["version"])
    body = Client().get(f"/episode/{slug}/").content.decode()
    assert "Jahat" not in body
    assert not UNSAFE_IN_HTML.search(body)
    downloads = body[body.index('id="downloads"') :]
    assert 'href="#"' not in downloads


def test_ingest_refuses_unsafe_urls_the_parser_let_through(origin: FakeOrigin, site_settings):
    """Defence in depth: a parser bug must not be enough to store a javascript: link."""
    from scraper import parsers
    from scraper.ingest import AnimeBundle, ingest_anime

    anime = next(iter(origin.truth.anime.values()))
    ep = anime.episodes[0]
    with fast_client(origin.base_url) as client:
        detail = parsers.parse_detail(client.get(f"/anime/{anime.slug}/").text, anime.slug)
        page = parsers.parse_episode(client.get(f"/episode/{ep.slug}/").text, ep.slug)
    bad = [
        dataclasses.replace(link, url=url)
        for link, url in zip(
            page.downloads,
            [" JaVaScRiPt:alert(1)", "data:text/html,x", "//evil.example/x", "vbscript:x"],
            strict=False,
        )
    ]
    page = dataclasses.replace(
        page, default_embed_url="  javascript:alert(1)", downloads=bad + page.downloads[len(bad) :]
    )
    ingest_anime(bundle=AnimeBundle(detail=detail, episodes=[page]))
    episode = Episode.objects.get(slug=ep.slug)
    assert episode.default_embed_url == ""
    stored = list(DownloadLink.objects.filter(episode=episode).values_list("url", flat=True))
    assert len(stored) == len(page.downloads) - len(bad)
    assert all(url.startswith("https://") for url in stored)


def test_safe_http_url_accepts_only_absolute_http_urls_with_a_host() -> None:
    from catalog.safe_urls import safe_http_url, url_host

    refused = [
        "javascript:alert(1)",
        " JaVaScRiPt:alert(1)",
        "JAVASCRIPT:alert(1)",
        "java\tscript:alert(1)",
        "java\nscript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "DATA:text/html,x",
        "vbscript:msgbox(1)",
        "file:///etc/passwd",
        "//evil.example/x",
        "///evil.example/x",
        "https:/evil.example/x",
        "https:\\\\evil.example/x",
        "https://good.example\\@evil.example/",
        "https://user:pw@evil.example/",
        "https://evil.example:0/",
        "https://evil.example:99999/",
        "https://",
        "/embed/relative",
        "#",
        "",
        "https://" + "a" * 1000 + ".example/",
    ]
    for url in refused:
        assert safe_http_url(url) is None, url
        assert url_host(url) is None, url
    for url in (
        "https://str.desustream.com/dstream/ondesu3/v5/index.php?id=abc",
        "HTTP://Link.DesuStream.com/?id=1",
        "  https://desustream.com/safelink/linkuz/?id=x  ",
        "http://localhost:8123/embed/a/b",
    ):
        assert safe_http_url(url) == url.strip()
    assert url_host("HTTP://Link.DesuStream.com/?id=1") == "link.desustream.com"
    assert url_host("http://localhost:8123/embed/a/b") == "localhost:8123"


def test_the_parsers_keep_only_http_links() -> None:
    import base64
    import json

    from scraper.parsers import ParseError, parse_batch, parse_embed_response, parse_episode

    hrefs = [
        " JaVaScRiPt:alert(1)",
        "data:text/html,x",
        "VBScript:x",
        "//evil.example/x",
        "https://ok.example/dl",
    ]
    anchors = "".join(f'<a href="{h}">P{n}</a> ' for n, h in enumerate(hrefs))
    rows = f"<ul><li><strong>Mp4 480p</strong> {anchors}<i>50 MB</i></li></ul>"
    html = (
        '<div id="venkonten"><div class="venser"><div class="venutama">'
        '<h1 class="posttl">Ep 1</h1>'
        '<div id="pembed"><iframe src="JaVa&#9;ScRiPt:alert(1)"></iframe></div>'
        f'<div class="download">{rows}</div></div></div></div>'
    )
    page = parse_episode(html, "https://o.example/episode/x-episode-1-sub-indo/")
    assert page.default_embed_url is None
    assert [d.url for d in page.downloads] == ["https://ok.example/dl"]
    batch = parse_batch(
        f'<div id="venkonten"><div class="batchlink"><h4>Batch</h4>{rows}</div></div>',
        "https://o.example/batch/x-batch-sub-indo/",
    )
    assert [d.url for d in batch.downloads] == ["https://ok.example/dl"]

    for src in ("JaVaScRiPt:alert(1)", "data:text/html,x", "//evil.example/e"):
        snippet = base64.b64encode(f'<iframe src="{src}"></iframe>'.encode()).decode()
        with pytest.raises(ParseError):
            parse_embed_response(json.dumps({"data": snippet}))


def test_embed_hosts_allowed_patterns(settings, caplog: pytest.LogCaptureFixture) -> None:
    from catalog.embed_policy import host_in_policy

    settings.EMBED_HOSTS_ALLOWED = ["a.example", "*.b.example:*", "c.example:8443", "https://d/"]
    with caplog.at_level(logging.WARNING, logger="catalog.embed_policy"):
        allowed = {
            host
            for host in (
                "a.example",
                "a.example:8080",
                "x.a.example",
                "b.example",
                "y.b.example",
                "z.y.b.example:81",
                "c.example",
                "c.example:8443",
                "evil-a.example",
                "a.example.evil",
                "d",
            )
            if host_in_policy(host)
        }
    assert allowed == {"a.example", "y.b.example", "z.y.b.example:81", "c.example:8443"}
    assert "'https://d/' is no host pattern" in caplog.text
    # The default names the real otakudesu player and mirror hosts.
    from otakusite.settings import EMBED_HOSTS_ALLOWED

    settings.EMBED_HOSTS_ALLOWED = EMBED_HOSTS_ALLOWED
    for host in ("str.desustream.com", "desustream.net", "odvidhide.com", "filedon.co", "mega.nz"):
        assert host_in_policy(host), host
    assert not host_in_policy("localhost:8000")
