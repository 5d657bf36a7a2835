"""Shared pytest setup: environment defaults, the backend banner, static storage."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_PAGES = REPO_ROOT.parent / "shared" / "otakudesu-pages"


def pytest_report_header(config: pytest.Config) -> list[str]:
    from django.conf import settings

    db = settings.DATABASES["default"]
    cache = settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1]
    return [f"otakusite: database backend {db['ENGINE'].rsplit('.', 1)[-1]}, cache {cache}"]


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    from django.db import connection

    terminalreporter.write_line(
        f"otakusite: tests ran on {connection.vendor} ({connection.settings_dict['ENGINE']})"
    )


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def sample():
    """The site tests' small made-up catalogue."""
    from tests.site_factories import build_sample_catalogue

    return build_sample_catalogue()


@pytest.fixture
def webhook(settings: Any) -> Iterator[Any]:
    """A fake alert webhook on 127.0.0.1 that the alerts go to (Telegram off)."""
    from tests.alert_receiver import receiver

    with receiver() as hook:
        settings.ALERT_WEBHOOK_URL = hook.base_url + "/hook"
        settings.TELEGRAM_BOT_TOKEN = ""
        yield hook
