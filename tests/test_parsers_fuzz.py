"""Hypothesis: whatever the input, parsers return a result or raise ParseError, nothing else."""

from __future__ import annotations

import base64
import contextlib
import datetime
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scraper.parsers import (
    PARSERS,
    ParseError,
    parse_embed_response,
    parse_nonce_response,
    slug_from_url,
    to_jsonable,
)
from scraper.parsers.episode import decode_token
from scraper.parsers.values import parse_full_date, resolve_short_date

from .parser_pages.builders import detail_body, episode_body, mirror_script, prettify, wrap

PAGES = Path(__file__).resolve().parents[1].parent / "shared" / "otakudesu-pages"


def _corpus() -> list[str]:
    own = [
        wrap(detail_body(batch=("b-sub-indo", "B [BATCH]"), lengkap=("l-sub-indo", "L"))),
        wrap(episode_body(), tail=mirror_script("n1", "e1")),
        prettify(wrap(episode_body(player=False))),
    ]
    real = []
    if PAGES.is_dir():
        # The 800 kB A–Z list is left out to keep the run short; its parser shares the helpers.
        real = [
            path.read_text(encoding="utf-8")
            for path in sorted(PAGES.glob("*.html"))
            if not path.name.startswith("anime-list")
        ]
    return own + real


CORPUS = _corpus()
SNIPPETS = [
    "<",
    ">",
    "</div>",
    "<div>",
    "<b>",
    "</b>",
    "<ul>",
    "<li>",
    '<a href="',
    '"',
    "&amp;",
    "&#",
    "<!--",
    "\x00",
    "Episode 9999999999999999999999",
    "cached@99999999999",
    "99 Desember,0000",
    'data-content="',
    'action:"',
    '{action:"',
    "<script>",
    "</script>",
    "://",
    "/page/",
    "💥",
    "\ud800",
]


@st.composite
def mutated_pages(draw: st.DrawFn) -> str:
    html = draw(st.sampled_from(CORPUS))
    for _ in range(draw(st.integers(1, 4))):
        size = len(html)
        start = draw(st.integers(0, size))
        end = draw(st.integers(start, min(size, start + 400)))
        operation = draw(st.sampled_from(["delete", "insert", "duplicate", "truncate", "replace"]))
        if operation == "delete":
            html = html[:start] + html[end:]
        elif operation == "insert":
            extra = draw(st.sampled_from(SNIPPETS) | st.text(max_size=20))
            html = html[:start] + extra + html[start:]
        elif operation == "duplicate":
            html = html[:end] + html[start:end] + html[end:]
        elif operation == "truncate":
            html = html[:start]
        else:
            html = html[:start] + draw(st.text(max_size=5)) * (end - start) + html[end:]
    return html


def _check(kind: str, html: str, url: str) -> None:
    try:
        result = PARSERS[kind](html, url)
    except ParseError as error:
        message = str(error)
    else:
        json.dumps(to_jsonable(result), ensure_ascii=False)
        return
    assert "\n" not in message
    assert message.startswith("cannot parse ")


FUZZ = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,
)


@pytest.mark.parametrize("kind", sorted(PARSERS))
@FUZZ
@given(
    html=mutated_pages(),
    url=st.sampled_from(["", "https://otakudesu.blog/x/", "::", "/page/9/", "a\nb"]),
)
def test_mutated_pages_only_raise_parse_error(kind: str, html: str, url: str) -> None:
    _check(kind, html, url)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.text(max_size=200))
def test_arbitrary_text(text: str) -> None:
    for kind in PARSERS:
        _check(kind, text, text)
    for parse in (parse_nonce_response, parse_embed_response):
        with contextlib.suppress(ParseError):
            parse(text)
    assert slug_from_url(text) is None or isinstance(slug_from_url(text), str)
    assert parse_full_date(text) is None or isinstance(parse_full_date(text), datetime.date)
    resolve_short_date(text, datetime.date(2026, 1, 1))
    decode_token(text)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
        lambda children: (
            st.lists(children, max_size=3)
            | st.dictionaries(st.sampled_from(["data", "id", "i", "q"]), children, max_size=3)
        ),
        max_leaves=8,
    )
)
def test_ajax_answers_and_tokens_from_any_json(value: object) -> None:
    body = json.dumps(value)
    for parse in (parse_nonce_response, parse_embed_response):
        with contextlib.suppress(ParseError):
            assert isinstance(parse(body), str)
    decode_token(base64.b64encode(body.encode()).decode())
