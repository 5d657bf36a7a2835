"""The site speaks Indonesian by default; English only when the viewer chooses it."""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_indonesian_even_for_an_english_browser(client: Client) -> None:
    response = client.get("/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    assert response.status_code == 200
    assert response["Content-Language"] == "id"
    assert '<html lang="id"' in response.content.decode()


def test_language_switch_gives_english_and_back() -> None:
    client = Client()
    switched = client.get("/bahasa/en/", {"next": "/ongoing/"})
    assert switched.status_code == 302
    assert switched["Location"] == "/ongoing/"
    english = client.get("/ongoing/")
    assert english["Content-Language"] == "en"
    assert '<html lang="en"' in english.content.decode()
    client.get("/bahasa/id/")
    assert client.get("/ongoing/")["Content-Language"] == "id"


def test_unknown_language_cookie_falls_back_to_indonesian(client: Client) -> None:
    client.cookies["django_language"] = "xx"
    assert client.get("/")["Content-Language"] == "id"
