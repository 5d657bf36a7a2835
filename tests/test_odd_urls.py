"""A viewer's odd URL gets a 404, a 400, a redirect or a page: never a 500. Every URL
pattern of the site (the admin aside: Django's own) is asked with odd path values and odd
query strings, by GET, HEAD and POST, so a view added later is covered without a new test."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.urls import URLResolver, get_resolver

pytestmark = pytest.mark.django_db

ODD_VALUES = [
    "x",
    "%00",
    "a" * 600,
    "%F0%9F%98%80",  # an emoji
    "%2e%2e",
    "a%2Fb",
    "%C3%BC",
    "-1",
    "0",
    "99999999999999999999",
    "%ZZ",
    "%27%22%3C%3E",  # '"<>
]
ODD_QUERIES = [
    "?page=-1",
    "?page=0",
    "?page=99999999999999",
    "?page=abc",
    "?page=1&page=2",
    "?q=%00",
    "?q=" + "a" * 5000,
    "?genre=%00&sort=zzz&status=%ff&year=-1&min_score=abc&type=x",
    "?per_page=0",
    "?per_page=100000",
    "?q[]=1",
    "?%ff=%ff",
    "?next=//evil.example",
]
# A path value is any of these; a named parameter of any converter matches one.
PARAMETER = re.compile(r"<(?:\w+:)?\w+>|\(\?P<\w+>[^)]*\)")


def url_patterns() -> list[str]:
    """Every route of the site but the admin, as written (`anime/<slug:slug>/`)."""
    found: list[str] = []

    def walk(patterns: list[Any], prefix: str) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, prefix + str(pattern.pattern))
            else:
                found.append(prefix + str(pattern.pattern))

    walk(get_resolver().url_patterns, "")
    return sorted({p for p in found if not p.startswith("admin/")})


def fill(pattern: str, value: str) -> str:
    path = PARAMETER.sub(value, pattern)
    return "/" + path.removeprefix("^").removesuffix("$").replace("/?", "/")


def test_no_odd_url_is_a_server_error(sample: Any) -> None:
    client = Client(raise_request_exception=False)
    patterns = url_patterns()
    assert len(patterns) > 20  # the walk found the site's routes
    urls = [fill(p, value) for p in patterns for value in ODD_VALUES]
    urls += [fill(p, "x") + query for p in patterns for query in ODD_QUERIES]
    errors = []
    for url in urls:
        for method in (client.get, client.head, client.post):
            status = method(url).status_code
            if status >= 500:
                errors.append(f"{method.__name__.upper()} {url[:150]} -> {status}")
    assert errors == []
