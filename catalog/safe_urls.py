"""Which scraped URLs may be stored, shown or framed: absolute http(s) with a plain host.

The catalogue applies this test to what it shows, ingest to what it stores and the parsers
to what they return; it lives here, with the standard library only, so all three share
one rule without the catalogue importing the scraper.
"""

from __future__ import annotations

import re

__all__ = ["MAX_HOST_LENGTH", "MAX_URL_LENGTH", "safe_http_url", "url_host"]

# An absolute http(s) URL with a plain host name or IPv4 address, an optional port and
# nothing a browser would read differently from Python's urlsplit: no user info ("@" is not
# a host character), no whitespace or control characters anywhere (browsers drop tabs and
# newlines, so "java\tscript:" runs), no backslash (browsers read it as "/", so
# "https://a.example\@b.example/" goes to a.example while urlsplit says b.example).
# Anything else (javascript:, data:, vbscript:, file:, "//host", "https:/host") is refused.
_HTTP_URL_RE = re.compile(
    r"https?://"
    r"([a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?)*)\.?"
    r"(?::(\d{1,5}))?"
    r"(?:[/?#][^\x00-\x20\x7f\\]*)?",
    re.IGNORECASE | re.ASCII,
)
# The longest URL the catalogue stores (the models' URLField max_length).
MAX_URL_LENGTH = 1000
# Host names longer than this are refused (DNS allows 253): with ":65535" they still fit
# EmbedHost.host (255 characters), so a hostile URL cannot make an ingest fail.
MAX_HOST_LENGTH = 248


def _http_url_match(url: object, max_length: int) -> re.Match[str] | None:
    if not isinstance(url, str):
        return None
    text = url.strip()
    if not text or len(text) > max_length:
        return None
    match = _HTTP_URL_RE.fullmatch(text)
    if match is None:
        return None
    port = match.group(2)
    if port is not None and not 0 < int(port) <= 65535:
        return None
    if len(match.group(1)) > MAX_HOST_LENGTH:
        return None
    return match


def safe_http_url(url: object, max_length: int = MAX_URL_LENGTH) -> str | None:
    """`url` without surrounding whitespace when it is an absolute http(s) URL with a host,
    else None: the one test every scraped link passes before it is stored or shown.

    Case and surrounding whitespace do not help ("  JaVaScRiPt:…" is refused like
    "javascript:…"); a port must be 1–65535; longer than `max_length` is refused (it would
    not fit the column)."""
    match = _http_url_match(url, max_length)
    return match.group(0) if match is not None else None


def url_host(url: object) -> str | None:
    """The lower-cased `host[:port]` of a URL `safe_http_url` accepts, else None."""
    match = _http_url_match(url, 10**6)
    if match is None:
        return None
    host = match.group(1).lower()
    port = match.group(2)
    return f"{host}:{int(port)}" if port is not None else host
