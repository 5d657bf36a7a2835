"""The pages for editors and developers in a real browser (Debian's Chromium through
Playwright), under the site's Content-Security-Policy:

- Django admin as an editor uses it: logged in through the form, every model's list, add
  and change pages load without a violation, a script error or a failed resource;
- the API's documentation page: Swagger UI renders every operation of the schema (its own
  static files, no CDN) and "Try it out" gets a real answer from the API."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from catalog.models import ScrapeRun

# Importing test_browser also lets the ORM run beside Playwright's event loop.
from tests.test_browser import CHROMIUM, Watcher, chromium  # noqa: F401  (fixture)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is not installed"),
]


def admin_pages() -> list[str]:
    """Every registered model's list and add page, and the change page of its first row."""
    paths = [reverse("admin:index")]
    for model, model_admin in admin.site._registry.items():
        info = (model._meta.app_label, model._meta.model_name)
        paths.append(reverse("admin:{}_{}_changelist".format(*info)))
        if model_admin.has_add_permission(_superuser_request()):
            paths.append(reverse("admin:{}_{}_add".format(*info)))
        first = model._default_manager.order_by("pk").first()
        if first is not None:
            paths.append(reverse("admin:{}_{}_change".format(*info), args=[first.pk]))
    return paths


def _superuser_request() -> Any:
    from django.test import RequestFactory

    request = RequestFactory().get("/")
    request.user = get_user_model().objects.get(username="editor")
    return request


def test_every_admin_page_is_clean_in_the_browser(
    chromium: Any,  # noqa: F811
    live_server: Any,
    sample: Any,
) -> None:
    get_user_model().objects.create_superuser("editor", "editor@example.test", "rahasia-123")
    ScrapeRun.objects.create(kind="full", status=ScrapeRun.Status.OK, errors="episode x: 404")
    page = chromium.new_page()
    watcher = Watcher(page)
    failed: list[str] = []
    page.on("response", lambda r: r.status >= 400 and failed.append(f"{r.status} {r.url}"))
    page.goto(f"{live_server.url}{reverse('admin:login')}")
    page.fill("#id_username", "editor")
    page.fill("#id_password", "rahasia-123")
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}{reverse('admin:index')}")
    problems: dict[str, list[str]] = {}
    for path in admin_pages():
        answer = page.goto(f"{live_server.url}{path}")
        assert answer is not None
        assert answer.status == 200, path
        page.wait_for_load_state("load")
        if watcher.problems:
            problems[path] = list(watcher.problems)
            watcher.problems.clear()
    assert problems == {}, failed


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
