"""Conditional requests of the ongoing update: the validators (ETag, Last-Modified) of the
last answer of each page it polls, kept in the coordination cache (shared by every worker,
surviving restarts), turned into If-None-Match / If-Modified-Since on the next request.

A page's validators are saved only once what that answer said has been stored (the crawl
calls :meth:`Validators.save` at the end of a run without errors): a poll that failed
half-way must not leave a validator behind that would make the next poll's 304 hide the
episodes it never stored. An origin that sends no validators, or ignores them, is asked
the plain way: nothing changes for it.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.conf import settings
from django.core.cache import BaseCache, caches

__all__ = ["Validators", "request_headers", "validators_of"]

KEY = "conditional:v1:"
TIMEOUT = 7 * 24 * 3600  # a week: older validators only cost one full answer


def _cache() -> BaseCache:
    return caches["coordination" if "coordination" in settings.CACHES else "default"]


def validators_of(headers: Mapping[str, str]) -> dict[str, str]:
    """The validators an answer carries: {"etag": ..., "last-modified": ...} (either may
    be missing; a weak ETag is kept as sent, W/ included)."""
    found = {name: headers.get(name, "").strip() for name in ("etag", "last-modified")}
    return {name: value for name, value in found.items() if value}


def request_headers(saved: Mapping[str, str]) -> dict[str, str]:
    """The conditional request headers for saved validators."""
    headers = {}
    if saved.get("etag"):
        headers["If-None-Match"] = saved["etag"]
    if saved.get("last-modified"):
        headers["If-Modified-Since"] = saved["last-modified"]
    return headers


class Validators:
    """The validators of one crawl: read once per URL, written back by :meth:`save`."""

    def __init__(self) -> None:
        self._pending: dict[str, dict[str, str]] = {}

    def headers_for(self, url: str) -> dict[str, str]:
        saved = _cache().get(KEY + url)
        return request_headers(saved) if isinstance(saved, dict) else {}

    def seen(self, url: str, status: int, headers: Mapping[str, str]) -> None:
        """Note an answer: a 200's validators wait for :meth:`save`; a 304 keeps the saved
        ones (and any newer it sends)."""
        found = validators_of(headers)
        if status == 200 or (status == 304 and found):
            self._pending[url] = found

    def save(self) -> None:
        cache = _cache()
        for url, found in self._pending.items():
            if found:
                cache.set(KEY + url, found, TIMEOUT)
            else:
                cache.delete(KEY + url)
        self._pending.clear()
