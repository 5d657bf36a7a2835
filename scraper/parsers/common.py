"""What every page parser shares: the parsed document, reading nodes, links and slugs, errors.

Everything here is total on its input: bad markup or text gives None or an empty value,
never an exception, so the parsers built on top raise nothing but `ParseError`.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable
from dataclasses import dataclass

from selectolax.lexbor import LexborHTMLParser, LexborNode

from .values import clean, iso_site_date, label_of


class ParseError(Exception):
    """The page lacks what makes it a page of `kind` (wrong page, or the site changed)."""

    def __init__(self, kind: str, url: str | None, missing: str) -> None:
        self.kind = kind
        self.url = url if isinstance(url, str) else ""
        self.missing = missing
        # One line whatever the URL holds (it may come from user input or a mangled page).
        shown = " ".join(self.url.split())[:300] or "<no url>"
        super().__init__(f"cannot parse {kind} page {shown}: missing {missing}")


# --------------------------------------------------------------------------- the document


@dataclass(frozen=True)
class Document:
    """A parsed page: its text (scripts and the cache stamp are read from it), its tree, and
    the content column `#venkonten` (the body when the page has none)."""

    text: str
    tree: LexborHTMLParser
    root: LexborNode


def parse_html(html: str) -> LexborHTMLParser:
    """Parse; lone surrogates (never valid UTF-8) are replaced instead of crashing."""
    try:
        return LexborHTMLParser(html)
    except UnicodeEncodeError:
        return LexborHTMLParser(html.encode("utf-8", "replace"))


def load_document(html: str | bytes, kind: str, url: str | None) -> Document:
    if isinstance(html, bytes | bytearray):
        html = bytes(html).decode("utf-8", "replace")
    if not isinstance(html, str):
        raise ParseError(kind, url, "HTML text")
    tree = parse_html(html)
    root = tree.css_first("#venkonten") or tree.body or tree.root  # no body: a frameset page
    if root is None:  # lexbor always builds an <html> element: for the type checker
        raise ParseError(kind, url, "document")
    return Document(text=html, tree=tree, root=root)


def head_value(doc: Document, selector: str, name: str) -> str | None:
    """Attribute `name` of the first `selector` element (`<link rel="canonical">`, a meta)."""
    return attr(doc.tree.css_first(selector), name)


# --------------------------------------------------------------------------- nodes


def attr(node: LexborNode | None, name: str) -> str | None:
    """Attribute value, stripped; None when absent or empty."""
    if node is None:
        return None
    value = node.attributes.get(name)
    if value is None:
        return None
    return value.strip() or None


def node_text(node: LexborNode | None) -> str:
    """The text of a node and its descendants, whitespace collapsed."""
    return clean(node.text()) if node is not None else ""


def own_text(node: LexborNode) -> str:
    """Text of a node's direct text children only (skips nested markers like "On-Going")."""
    return clean(node.text(deep=False))


_PLACEHOLDER_SCHEMES = ("data:", "about:", "javascript:")


def media_src(node: LexborNode | None) -> str | None:
    """The real address of an `img`/`iframe`: lazy loading (WP Rocket, which the site runs)
    leaves a placeholder in `src` ("data:image/svg+xml…", "about:blank") and the address in
    `data-lazy-src` / `data-src`."""
    for name in ("src", "data-lazy-src", "data-src"):
        value = attr(node, name)
        if value and not value.lower().startswith(_PLACEHOLDER_SCHEMES):
            return value
    return None


_BLOCK_TAGS = frozenset(
    ("p", "div", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote")
)


class _Prose:
    """Collects text into lines and paragraphs (see `paragraphs_text`)."""

    def __init__(self) -> None:
        self.paragraphs: list[str] = []
        self.lines: list[str] = []
        self.line: list[str] = []

    def end_line(self) -> None:
        text = clean("".join(self.line))
        self.line.clear()
        if text:
            self.lines.append(text)

    def end_paragraph(self) -> None:
        self.end_line()
        if self.lines:
            self.paragraphs.append("\n".join(self.lines))
            self.lines.clear()


def paragraphs_text(node: LexborNode | None) -> str:
    """Text of a prose box as a person reads it: paragraphs (`<p>`, `<div>`, or text directly
    in the box, before or between them) joined by a blank line, `<br>` as a line break, empty
    paragraphs dropped.

    Iterative (an explicit stack, not recursion): mangled pages may nest tags very deeply.
    """
    if node is None:
        return ""
    prose = _Prose()
    stack = [(node.iter(include_text=True), False)]
    while stack:
        children, is_block = stack[-1]
        child = next(children, None)
        if child is None:
            stack.pop()
            if is_block:
                prose.end_paragraph()
        elif child.tag == "-text":
            prose.line.append(child.text_content or "")
        elif child.tag == "br":
            prose.end_line()
        elif child.tag != "-comment":
            block = child.tag in _BLOCK_TAGS
            if block:
                prose.end_paragraph()
            stack.append((child.iter(include_text=True), block))
    prose.end_paragraph()
    return "\n\n".join(prose.paragraphs)


# A label's value ends at the next label or line.
_VALUE_END_TAGS = frozenset(("b", "strong", "br", "p"))
# Wrappers a label may sit in with its value after them (`<span><b>Skor</b></span>: 8.1`).
_INLINE_TAGS = frozenset(("span", "em", "i", "u", "font", "small"))


def _value_start(label: LexborNode, container: LexborNode) -> LexborNode | None:
    """The node after a label; when the label closes its inline wrappers, the node after the
    outermost of them."""
    node = label
    while node.next is None:
        wrapper = node.parent
        if wrapper is None or wrapper.tag not in _INLINE_TAGS or wrapper.mem_id == container.mem_id:
            return None
        node = wrapper
    return node.next


def _labelled_value(label: LexborNode, container: LexborNode) -> tuple[str, list[LexborNode]]:
    """The text after a label up to the next label or line (without the leading colon), and
    the links in it."""
    parts: list[str] = []
    links: list[LexborNode] = []
    node = _value_start(label, container)
    while node is not None and node.tag not in _VALUE_END_TAGS:
        if node.tag == "-text":
            parts.append(node.text_content or "")
        elif node.tag == "a":
            links.append(node)
            parts.append(node.text())
        elif node.tag != "-comment":
            if node.css_first("b, strong") is not None:
                break  # the next row, in a wrapper of its own
            links.extend(node.css("a"))
            parts.append(node.text())
        node = node.next
    value = clean("".join(parts))
    if value.startswith((":", "\uff1a")):  # a colon, or a full-width one
        value = value[1:].strip()
    return value, links


def labelled_values(container: LexborNode) -> dict[str, tuple[str, list[LexborNode]]]:
    """Read `<b>Label</b>: value` rows, whatever wraps them (`p > span`, `p`, or `<br>` lines).

    Returns label → (value text, links in the value); the first row of a label counts.
    """
    rows: dict[str, tuple[str, list[LexborNode]]] = {}
    for bold in container.css("b, strong"):
        label = label_of(bold.text())
        if label and label not in rows:
            rows[label] = _labelled_value(bold, container)
    return rows


# --------------------------------------------------------------------------- links

# Which links are kept: absolute http(s) with a plain host (catalog.safe_urls, one rule
# for what the parsers return, ingest stores and the site shows).

_KNOWN_PREFIXES = frozenset({"anime", "episode", "batch", "lengkap", "genres", "genre"})


def url_path_segments(url: str | None) -> list[str]:
    """Path segments of a URL on any domain (or none), without query and fragment."""
    if not url or not isinstance(url, str):
        return []
    url = url.strip().partition("?")[0].partition("#")[0]
    scheme_end = url.find("//")
    if scheme_end != -1 and "/" not in url[:scheme_end]:
        url = url[scheme_end + 2 :].partition("/")[2]
    return [segment for segment in url.split("/") if segment and segment != "."]


def slug_from_url(url: str | None) -> str | None:
    """`https://otakudesu.best/anime/oshi-ko-s3-sub-indo/` → `oshi-ko-s3-sub-indo`.

    Recognises `/anime/`, `/episode/`, `/batch/`, `/lengkap/`, `/genres/` whatever the domain
    (pagination `/page/N/` after the slug is ignored); otherwise the last path segment.
    """
    segments = url_path_segments(url)
    for index, segment in enumerate(segments[:-1]):
        if segment.lower() in _KNOWN_PREFIXES:
            return segments[index + 1]
    while len(segments) >= 2 and segments[-2] == "page" and segments[-1].isdigit():
        segments = segments[:-2]
    if not segments:
        return None
    return segments[-1]


def url_kind(url: str | None) -> str | None:
    """The first path segment naming the kind of page: "anime", "episode", "batch"…"""
    for segment in url_path_segments(url):
        lowered = segment.lower()
        if lowered in _KNOWN_PREFIXES:
            return "genres" if lowered == "genre" else lowered
    return None


def anime_slug(link: LexborNode | None) -> str | None:
    """The slug of a link to an anime page (`/anime/<slug>/`, or a bare `/<slug>/`)."""
    href = attr(link, "href")
    slug = slug_from_url(href)
    return slug if slug and url_kind(href) in ("anime", None) else None


_PAGE_RE = re.compile(r"/page/(\d{1,6})(?:/|$)")


def page_from_url(url: str | None) -> int | None:
    if not url:
        return None
    match = _PAGE_RE.search(url.split("?", 1)[0])
    return int(match.group(1)) if match else None


def page_slug(doc: Document, url: str | None) -> str:
    """The page's own slug: from `url`, else its canonical link (absent in fragments)."""
    for candidate in (
        url,
        head_value(doc, 'link[rel="canonical"]', "href"),
        head_value(doc, 'meta[property="og:url"]', "content"),
    ):
        slug = slug_from_url(candidate)
        if slug:
            return slug
    return ""


# --------------------------------------------------------------------------- page date

_CACHED_RE = re.compile(r"cached@(\d{9,11})")


def page_date(doc: Document, extra_dates: Iterable[datetime.date] = ()) -> datetime.date | None:
    """When the page was rendered: the WP Rocket `cached@<unix>` stamp, else the newest of the
    page's article meta dates and the full dates found on it (`extra_dates`)."""
    text = doc.text
    # WP Rocket appends the stamp as the page's last comment: one in its tail wins over any
    # earlier mention.
    match = _CACHED_RE.search(text, max(0, len(text) - 600)) or _CACHED_RE.search(text)
    if match is not None:
        return datetime.datetime.fromtimestamp(int(match.group(1)), tz=datetime.UTC).date()
    candidates = [d for d in extra_dates if d is not None]
    for prop in ("article:modified_time", "article:published_time"):
        found = iso_site_date(head_value(doc, f'meta[property="{prop}"]', "content"))
        if found is not None:
            candidates.append(found)
    return max(candidates) if candidates else None
