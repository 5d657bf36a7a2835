"""The scraper's clients configured from settings: the crawl's (make_client) and a
viewer's mirror request's (make_viewer_client), starting at the origin's current base
(scraper/origin.py: the stored base after a domain move). scraper/client.py stays free of
settings and the database."""

from __future__ import annotations

from typing import Any

from scraper.client import Lane, OriginClient

# A viewer waits for a mirror's resolution; these keep that wait to seconds (the budget's
# own wait is SCRAPER_VIEWER_MAX_WAIT, in all, across the requests of one resolution).
VIEWER_TIMEOUT = 8.0
VIEWER_RETRIES = 1


def make_client(base_url: str | None = None, **overrides: Any) -> OriginClient:
    """The scraper's HTTP client, configured from settings."""
    from django.conf import settings

    options: dict[str, Any] = {
        "rate": settings.SCRAPER_RATE_LIMIT or None,
        "timeout": settings.SCRAPER_TIMEOUT,
        "retries": settings.SCRAPER_RETRIES,
        "cookie_path": settings.SCRAPER_COOKIE_PATH,
    }
    options.update(overrides)
    if base_url is not None and "verify_move" in options:
        return OriginClient(base_url, **options)
    # The stored base, the bases left behind and the move checks use the database.
    from scraper.origin import current_base_url, former_bases, verify_redirect

    options.setdefault("verify_move", verify_redirect)
    if base_url is not None:  # an explicit base: no database read until a move is met
        return OriginClient(base_url, **options)
    client = OriginClient(current_base_url(), **options)
    for old in former_bases():
        client.add_former_origin(old)
    return client


def make_viewer_client(base_url: str | None = None) -> OriginClient:
    """The client of a viewer's mirror request: the budget's viewer lane (served before
    the crawl), a bounded wait for slots, one quick retry and a short timeout."""
    from django.conf import settings

    from scraper.origin import is_adopted

    return make_client(
        base_url,
        # A viewer does not wait for a move's verification: only an adopted one is followed.
        verify_move=is_adopted,
        lane=Lane.VIEWER,
        max_budget_wait=settings.SCRAPER_VIEWER_MAX_WAIT,
        retries=VIEWER_RETRIES,
        timeout=min(settings.SCRAPER_TIMEOUT, VIEWER_TIMEOUT),
        connect_timeout=min(settings.SCRAPER_TIMEOUT, VIEWER_TIMEOUT) / 2,
        max_backoff=1.0,
        max_retry_after=settings.SCRAPER_VIEWER_MAX_WAIT,
    )
