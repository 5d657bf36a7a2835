"""Every page a search engine may list says what it is in its meta description (Lighthouse's
SEO audit and the snippet under the result), also an anime the origin gave no synopsis."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from tests.site_factories import SampleCatalogue, make_anime

pytestmark = pytest.mark.django_db

DESCRIPTION = re.compile(r'<meta name="description" content="([^"]*)">')


def description(client: Client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    found = DESCRIPTION.findall(response.content.decode())
    assert len(found) == 1, url
    return found[0].strip()


def test_every_listed_page_has_a_description(client: Client, sample: SampleCatalogue) -> None:
    urls = [
        "/",
        "/ongoing/",
        "/completed/",
        "/anime/",
        "/genres/",
        "/genres/aksi/",
        "/jadwal/",
        sample.ongoing.get_absolute_url(),
        sample.completed.get_absolute_url(),
        sample.episodes[0].get_absolute_url(),
    ]
    empty = [url for url in urls if not description(client, url)]
    assert empty == []


def test_anime_without_synopsis_is_described_by_its_title(client: Client) -> None:
    anime = make_anime("tanpa-sinopsis", "Tanpa Sinopsis", synopsis="")
    text = description(client, anime.get_absolute_url())
    assert "Tanpa Sinopsis" in text
    assert text.startswith("Nonton ")
    with_synopsis = make_anime("ada-sinopsis", "Ada", synopsis="Kisah seorang kurir di kota.")
    assert description(client, with_synopsis.get_absolute_url()) == "Kisah seorang kurir di kota."
