"""The API's documentation page in a real browser (Debian's Chromium through Playwright):
Swagger UI renders every operation of the schema under the site's Content-Security-Policy
(its own static files, no CDN) and "Try it out" gets a real answer from the API."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from tests.test_browser import Watcher, chromium  # noqa: F401  (fixture)

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is not installed"),
]

# Playwright's sync API runs an event loop in this thread; the ORM calls here are the
# test's own, not concurrent.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"


def test_docs_page_lists_every_operation_and_tries_one(
    chromium: Any,  # noqa: F811
    live_server: Any,
    sample: Any,
) -> None:
    schema = Client().get("/api/v1/schema/").json()
    operations = sum(len(methods) for methods in schema["paths"].values())
    page = chromium.new_page()
    watcher = Watcher(page)
    page.goto(f"{live_server.url}/api/v1/docs/")
    blocks = page.locator(".opblock")
    blocks.first.wait_for()
    assert blocks.count() == operations
    assert watcher.problems == []  # no CSP violation, no script error

    genres = page.locator(".opblock", has=page.locator("[data-path='/api/v1/genres/']"))
    genres.locator(".opblock-summary").click()
    page.get_by_role("button", name="Try it out").click()
    page.get_by_role("button", name="Execute").click()
    status = genres.locator(".live-responses-table tbody .response-col_status").first
    status.wait_for()
    assert status.inner_text().strip() == "200"
    assert watcher.problems == []
