"""Every viewer page answers, shows what a viewer expects, and never 500s on odd input."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.site_factories import SampleCatalogue, build_sample_catalogue

pytestmark = pytest.mark.django_db


@pytest.fixture
def sample() -> SampleCatalogue:
    return build_sample_catalogue()


def test_every_page_answers(client: Client, sample: SampleCatalogue) -> None:
    urls = [
        "/",
        "/ongoing/",
        "/completed/",
        "/anime/",
        "/genres/",
        "/genres/aksi/",
        "/jadwal/",
        "/search/?q=pedang",
        f"/anime/{sample.ongoing.slug}/",
        f"/episode/{sample.episodes[0].slug}/",
        "/feed/",
        f"/anime/{sample.ongoing.slug}/feed/",
        "/sitemap.xml",
        "/robots.txt",
        "/healthz",
    ]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
