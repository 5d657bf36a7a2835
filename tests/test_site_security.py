"""Escaping, the Content-Security-Policy and the mirror endpoint's safety."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.test import Client

from catalog.models import Anime, EmbedHost, Episode, StreamLink
from tests.site_factories import SampleCatalogue, make_anime, make_episode

pytestmark = pytest.mark.django_db

EVIL = '<script>alert("x")</script>'


def csp_of(response) -> dict[str, list[str]]:
    policy = response["Content-Security-Policy"]
    return {
        part.split()[0]: part.split()[1:] for part in (p.strip() for p in policy.split(";")) if part
    }


def test_scraped_script_in_titles_is_shown_as_text(client: Client) -> None:
    anime = make_anime("jahat", f"Judul {EVIL}", title_japanese=EVIL, synopsis=EVIL)
    episode = make_episode(anime, 1)
    Episode.objects.filter(pk=episode.pk).update(title=f"Ep {EVIL}")
    urls = [
        "/",
        "/ongoing/",
        "/anime/",
        anime.get_absolute_url(),
        episode.get_absolute_url(),
        "/search/?q=judul",
        "/jadwal/",
        f"/search/?q={EVIL}",
    ]
    for url in urls:
        body = client.get(url).content.decode()
        assert EVIL not in body, url
        assert "&lt;script&gt;" in body, url
    feed = client.get("/feed/").content.decode()
    assert EVIL not in feed


def test_non_http_links_never_become_hrefs_or_frames(
    client: Client, sample: SampleCatalogue
) -> None:
    episode = sample.episodes[0]
    episode.download_links.update(url="javascript:alert(1)")
    Episode.objects.filter(pk=episode.pk).update(default_embed_url="javascript:alert(1)")
    body = client.get(episode.get_absolute_url()).content.decode()
    assert "javascript:" not in body


def test_csp_allows_frames_only_from_embed_hosts(client: Client, sample: SampleCatalogue) -> None:
    EmbedHost.objects.create(host="player.example.test:8443", approved=True)
    # Approved or not, never pasted into the policy.
    EmbedHost.objects.create(host="bad host; script-src *", approved=True)
    EmbedHost.objects.create(host="pending.example.test")  # found, nobody approved it
    response = client.get(sample.episodes[0].get_absolute_url())
    csp = csp_of(response)
    assert csp["frame-src"] == ["'self'", "embed.example.test", "player.example.test:8443"]
    assert csp["script-src"] == ["'self'"]
    assert "'unsafe-inline'" not in response["Content-Security-Policy"]
    assert csp["object-src"] == ["'none'"]
    # Other pages frame nothing but the site itself.
    assert csp_of(client.get("/"))["frame-src"] == ["'self'"]


def test_pages_have_no_inline_scripts_or_handlers(client: Client, sample: SampleCatalogue) -> None:
    for url in ("/", sample.ongoing.get_absolute_url(), sample.episodes[0].get_absolute_url()):
        body = client.get(url).content.decode()
        for tag in re.findall(r"<script\b[^>]*>", body):
            # External scripts only; JSON-LD is data that nothing runs (catalog/seo.py).
            assert "src=" in tag or tag == '<script type="application/ld+json">', (url, tag)
        assert not re.search(r"\son[a-z]+=", body), url
        assert "style=" not in body, url


def test_security_headers(client: Client, sample: SampleCatalogue) -> None:
    response = client.get("/")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


def link_id(sample: SampleCatalogue, quality: str = "720p", provider: str = "penyedia2") -> int:
    return StreamLink.objects.get(episode=sample.episodes[0], quality=quality, provider=provider).pk


def test_mirror_endpoint_resolves_and_caches(
    client: Client, sample: SampleCatalogue, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scraper import mirrors

    calls: list[int] = []

    def fake_resolve(*, link_id: int, **_: object) -> str:
        calls.append(link_id)
        return f"https://embed.example.test/resolved/{link_id}"

    monkeypatch.setattr(mirrors, "resolve_mirror", fake_resolve)
    pk = link_id(sample)
    first = client.get(f"/api/mirror/{pk}/")
    second = client.get(f"/api/mirror/{pk}/")
    assert first.status_code == 200
    assert json.loads(first.content) == {
        "ok": True,
        "url": f"https://embed.example.test/resolved/{pk}",
    }
    assert json.loads(second.content) == json.loads(first.content)
    assert calls == [pk]  # the second viewer is served from the cache


def test_mirror_failure_says_so(
    client: Client, sample: SampleCatalogue, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scraper import mirrors

    def failing(*, link_id: int, **_: object) -> str:
        raise mirrors.MirrorError("origin answered 403")

    monkeypatch.setattr(mirrors, "resolve_mirror", failing)
    response = client.get(f"/api/mirror/{link_id(sample)}/")
    data = json.loads(response.content)
    assert response.status_code == 502
    assert data["ok"] is False
    assert data["error"] == "Mirror ini gagal dimuat."
    assert "403" in data["detail"]


def test_mirror_refuses_non_http_embeds(
    client: Client, sample: SampleCatalogue, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scraper import mirrors

    monkeypatch.setattr(mirrors, "resolve_mirror", lambda **_: "javascript:alert(1)")
    response = client.get(f"/api/mirror/{link_id(sample)}/")
    assert response.status_code == 502
    assert "javascript" not in response.content.decode()


def test_mirror_endpoint_only_answers_get(client: Client, sample: SampleCatalogue) -> None:
    assert client.post(f"/api/mirror/{link_id(sample)}/").status_code == 405


def test_new_embed_host_reaches_the_csp_after_resolving(
    client: Client, sample: SampleCatalogue, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    """The player reloads with ?mirror= when a mirror lives on a host first seen now (one
    EMBED_HOSTS_ALLOWED lists: a host nobody allowed stays pending, test_embed_policy)."""
    from scraper import embeds, mirrors

    settings.EMBED_HOSTS_ALLOWED = [*settings.EMBED_HOSTS_ALLOWED, "baru.example.test"]

    def resolve_on_new_host(*, link_id: int, **_: object) -> str:
        embeds.remember_embed_hosts(["https://baru.example.test/e/1"])
        return "https://baru.example.test/e/1"

    url = sample.episodes[0].get_absolute_url()
    assert "baru.example.test" not in csp_of(client.get(url))["frame-src"]
    monkeypatch.setattr(mirrors, "resolve_mirror", resolve_on_new_host)
    client.get(f"/api/mirror/{link_id(sample)}/")
    assert "baru.example.test" in csp_of(client.get(f"{url}?mirror=1"))["frame-src"]


def test_title_with_emoji_and_japanese(client: Client) -> None:
    anime = Anime.objects.create(slug="emoji", title="🎉 お祭り 🎉")
    assert "🎉 お祭り 🎉" in client.get(anime.get_absolute_url()).content.decode()
