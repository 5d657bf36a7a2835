"""What the HTTP client hands back (FetchedPage) and raises on purpose (the ClientError
family): plain Python, so the request budget and the crawls use them without httpx."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = [
    "BudgetExhausted",
    "ChallengeError",
    "ClientError",
    "DisallowedHost",
    "FetchError",
    "FetchedPage",
    "NotFound",
]


@dataclass(frozen=True)
class FetchedPage:
    """A fetched response: final URL after redirects, status, decoded text, headers;
    ``content``: the raw body, kept only for binary fetches (images)."""

    url: str
    status: int
    text: str
    headers: Mapping[str, str]
    content: bytes = b""


class ClientError(Exception):
    """Base class of everything the client raises on purpose."""


class FetchError(ClientError):
    """A request failed for good (after retries, or at once for a 4xx)."""

    def __init__(self, message: str, *, url: str, status: int | None, attempts: int) -> None:
        super().__init__(message)
        self.url = url
        self.status = status
        self.attempts = attempts


def gave_up(method: str, url: str, attempts: int, reason: str, status: int | None) -> FetchError:
    """The client's last word on a request: logged, and the error it raises."""
    message = f"{method} {url} failed after {attempts} attempt(s): {reason}"
    logging.getLogger("scraper.client").warning("%s", message)
    return FetchError(message, url=url, status=status, attempts=attempts)


class NotFound(FetchError):  # noqa: N818 -- a FetchError; "not found" says which
    """The origin answered 404/410: the page is gone, retrying will not help."""


class ChallengeError(ClientError):
    """The origin answered with a Cloudflare challenge instead of the page."""

    def __init__(self, message: str, *, url: str, status: int) -> None:
        super().__init__(message)
        self.url = url
        self.status = status


class BudgetExhausted(ClientError):  # noqa: N818 -- reads better at the call sites
    """No request slot toward ``host`` within the caller's wait limit (a viewer's request
    when the origin's budget is spent); nothing was sent. Ask again in ``retry_after`` s."""

    def __init__(self, message: str, *, url: str, host: str, retry_after: float) -> None:
        super().__init__(message)
        self.url = url
        self.host = host
        self.retry_after = retry_after


class DisallowedHost(ClientError):  # noqa: N818 -- a ClientError; says what was refused
    """A URL points at a host the client may not contact (nothing was sent)."""

    def __init__(self, message: str, *, url: str, host: str) -> None:
        super().__init__(message)
        self.url = url
        self.host = host
