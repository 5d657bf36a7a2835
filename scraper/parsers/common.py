"""Helpers shared by the page parsers: parsing, text, slugs, numbers, dates, errors.

Everything here is total on its input: bad text gives None, never an exception, so that the
parsers built on top can promise to raise nothing but `ParseError`.
"""

from __future__ import annotations

import datetime
import functools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from html import unescape as html_unescape

from selectolax.lexbor import LexborHTMLParser, LexborNode


class ParseError(Exception):
    """The page lacks what makes it a page of `kind` (wrong page, or the site changed)."""

    def __init__(self, kind: str, url: str | None, missing: str) -> None:
        self.kind = kind
        self.url = url if isinstance(url, str) else ""
        self.missing = missing
        # One line whatever the URL holds (it may come from user input or a mangled page).
        shown = " ".join(self.url.split())[:300] or "<no url>"
        super().__init__(f"cannot parse {kind} page {shown}: missing {missing}")


# --------------------------------------------------------------------------- parsing


def parse_html(html: str | bytes, kind: str, url: str | None) -> LexborHTMLParser:
    """Parse once; lone surrogates (never valid UTF-8) are replaced instead of crashing."""
    if isinstance(html, bytes):
        return LexborHTMLParser(html)
    if not isinstance(html, str):
        raise ParseError(kind, url, "HTML text")
    try:
        return LexborHTMLParser(html)
    except UnicodeEncodeError:
        return LexborHTMLParser(html.encode("utf-8", "replace"))


def tag_id(name: str) -> int:
    """lexbor's number for an HTML tag name: comparing `node.tag_id` with it is the same test
    as `node.tag == name` without building the name string (the rows' hottest line)."""
    node = LexborHTMLParser(f"<{name}></{name}>").body.child
    if node is None or node.tag != name:
        raise ValueError(f"no lexbor tag id for {name!r}")
    return node.tag_id


TAG_A, TAG_B, TAG_STRONG, TAG_I, TAG_BR, TAG_P, TAG_SPAN, TAG_LI = (
    tag_id(name) for name in ("a", "b", "strong", "i", "br", "p", "span", "li")
)
# Text and comment nodes have ids of their own (`tag` gives "-text" / "-comment").
TAG_TEXT, TAG_COMMENT = (
    node.tag_id for node in LexborHTMLParser("<p>x<!--c--></p>").body.child.iter(include_text=True)
)


def content_root(tree: LexborHTMLParser) -> LexborNode | None:
    """The main column (`#venkonten`); a page saved as only that element parses the same."""
    return tree.css_first("#venkonten") or tree.body or tree.root


@dataclass(slots=True)
class Page:
    """A page as the parsers see it: the document text, the text before the content column
    (where `<head>` metadata lives), the parsed tree and its content root."""

    text: str
    head: str
    tree: LexborHTMLParser
    root: LexborNode | None


_CONTENT_OPEN_RE = re.compile(r"<div\b[^<>]*\bid\s*=\s*[\"']?$", re.I)
# A literal pattern: the regex engine's scan for it is faster than `str.find` on page text.
_CONTENT_NAME_RE = re.compile("venkonten")


def _content_start(text: str) -> int:
    """Offset of the `<div id="venkonten"` tag, or -1."""
    found = _CONTENT_NAME_RE.search(text)
    for _ in range(20):  # the name also appears in CSS; a few hits at most on real pages
        if found is None:
            return -1
        position = found.start()
        tag_start = text.rfind("<", 0, position)
        if tag_start != -1 and _CONTENT_OPEN_RE.match(text, tag_start, position):
            return tag_start
        found = _CONTENT_NAME_RE.search(text, position + 9)
    return -1


_TAG_START_RE = re.compile(r"<[A-Za-z][^<>]*$")
# Appended where a cut column's text stops: the element the parser inserts it into, and that
# one's ancestors, are exactly the elements still open at the cut.
_CUT_TAG = "parse-cut"
_CUT_MARK = f"<{_CUT_TAG}></{_CUT_TAG}>"


@dataclass(frozen=True, slots=True)
class ColumnCut:
    """Where a parser that reads only the first part of the column may stop the parse: at
    the element whose opening tag holds `marker` (a class name).

    `reads` are the words of everything the parser looks for, lower-case: class names, tag
    names ("iframe", "<h1"). The cut is used only when it is at an opening tag, when the text
    after it contains none of the words in any case (nothing read lies after it), and when
    no element still open at the cut carries one of them (nothing read runs across it): then
    each read finds what it finds in the whole column. Otherwise the whole column is parsed.
    """

    marker: str
    reads: tuple[str, ...]

    def position(self, html: str, start: int, end: int) -> int:
        """Offset where the parse of `html[start:end]` may stop; `end` when it may not."""
        found = html.rfind(self.marker, start, end)
        for _ in range(5):  # the last one in a tag; the word may also be in text after it
            if found == -1:
                return end
            cut = html.rfind("<", start, found)
            if cut > start and _TAG_START_RE.match(html, cut, found):
                break
            found = html.rfind(self.marker, start, found)
        else:
            return end
        # One lower-cased copy of the tail (cheap), then a substring search per word.
        tail = html[cut:end].lower()
        for word in self.reads:
            if word in tail:
                return end
        return cut

    def clean(self, root: LexborNode) -> bool:
        """Whether the elements open where the cut text ended (the ancestors of the mark
        appended there, found along the last children from the column) are none of what the
        parser reads; the mark is removed from the tree."""
        node = root.last_child
        while node is not None and node.tag_id not in (TAG_TEXT, TAG_COMMENT):
            if node.tag == _CUT_TAG:
                node.decompose()
                return True
            attributes = node.attributes
            described = (
                f"<{node.tag} {attributes.get('class') or ''} {attributes.get('id') or ''}"
            ).lower()
            if any(word in described for word in self.reads):
                return False
            node = node.last_child
        return False  # the mark was not put at the end (inside a table, a select…)


def _column_root(tree: LexborHTMLParser) -> LexborNode | None:
    """`#venkonten` of a tree parsed from text that starts with that element's tag."""
    # It is the body's first child: taking it so saves a selector (each costs a fixed few
    # microseconds in selectolax).
    body = tree.body
    root = body.first_child if body is not None else None
    if root is None or root.tag_id in (TAG_TEXT, TAG_COMMENT) or root.id != "venkonten":
        root = tree.css_first("#venkonten")
    return root


_COMMENT_REACH = 400


def _column_end(html: str, start: int) -> int:
    """Offset of the page's `<footer>` after `start` (the last one: one in a comment or a card
    inside the column cannot end it early), skipping one inside a script (a script writing
    one: the next `</script` after it comes before any `<script`) or inside a comment opened
    shortly before it (a commented-out footer); the text's end when there is none."""
    end = html.rfind("<footer", start)
    for _ in range(5):
        if end == -1:
            break
        # Short searches only (the page's tail, a few hundred characters back): a search for
        # a comment's end from the real footer runs to the page's last comment.
        near = max(start, end - _COMMENT_REACH)
        if html.rfind("<!--", near, end) <= html.rfind("-->", near, end):
            closing = html.find("</script", end)
            if closing == -1 or html.find("<script", end, closing) != -1:
                return end
        end = html.rfind("<footer", start, end)
    return len(html)


def load_page(html: str | bytes, kind: str, url: str | None, cut: ColumnCut | None = None) -> Page:
    """Parse only the content column when the page has one.

    Half of a page is `<head>`, menus, ads and footer; leaving them out of the tree makes the
    parse itself cheaper than a parse of the whole page. The column runs from its opening tag
    to the footer (the sidebar is sometimes nested inside it, the footer never), or only to
    where `cut` allows; when that does not yield the column, the whole document is parsed.
    A page that is only the column (saved as that element) is cut too.
    """
    if isinstance(html, bytes | bytearray):
        html = bytes(html).decode("utf-8", "replace")
    if not isinstance(html, str):
        raise ParseError(kind, url, "HTML text")
    start = _content_start(html)
    if start > 0 or (start == 0 and cut is not None):
        head = html[:start] if start > 0 else html
        # The page's footer is near its end: searched from there (a third of the time of a
        # search from the column), and the last one, so that a `<footer>` inside the column
        # (a comment's, a card's) cannot end the column early.
        end = _column_end(html, start) if start > 0 else len(html)
        stop = cut.position(html, start, end) if cut is not None else end
        if stop < end and cut is not None:
            tree = parse_html(html[start:stop] + _CUT_MARK, kind, url)
            root = _column_root(tree)
            if root is not None and cut.clean(root):
                return Page(text=html, head=head, tree=tree, root=root)
        tree = parse_html(html[start:end], kind, url)
        root = _column_root(tree)
        if root is not None:
            return Page(text=html, head=head, tree=tree, root=root)
    tree = parse_html(html, kind, url)
    return Page(text=html, head=html, tree=tree, root=content_root(tree))


@functools.lru_cache(maxsize=64)
def _head_attr_patterns(key: str, value: str, wanted: str) -> tuple[re.Pattern[str], ...]:
    """The two regexes of a `head_attr` lookup, built once per lookup kind."""
    return (
        re.compile(rf"\b{key}\s*=\s*[\"']?{re.escape(value)}(?:[\"'\s/>]|$)", re.I),
        re.compile(rf"\b{wanted}\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s>]+))", re.I),
    )


def head_attr(head: str, tag: str, key: str, value: str, wanted: str) -> str | None:
    """`wanted` attribute of the first `<tag key=value>` in raw head text (`<link
    rel="canonical" href=…>`), attribute order and quoting free."""
    key_re, wanted_re = _head_attr_patterns(key, value, wanted)
    # Find the value first (one fast substring search), then look at the tag around it.
    position = head.find(value)
    for _ in range(20):
        if position == -1:
            return None
        start = head.rfind("<", 0, position)
        end = head.find(">", position)
        element = head[start : end + 1 if end != -1 else len(head)] if start != -1 else ""
        if element[1 : len(tag) + 1].lower() == tag and key_re.search(element):
            found = wanted_re.search(element)
            if found:
                raw = next(g for g in found.groups() if g is not None)
                return html_unescape(raw).strip() or None
        position = head.find(value, position + len(value))
    return None


def attr(node: LexborNode | None, name: str) -> str | None:
    """Attribute value, stripped; None when absent or empty."""
    if node is None:
        return None
    # `attrs` looks one attribute up; `attributes` would build a dict of all of them.
    value = node.attrs.get(name)
    if value is None:
        return None
    value = value.strip()
    return value or None


_PLACEHOLDER_SCHEMES = ("data:", "about:", "javascript:")

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


def media_src(node: LexborNode | None) -> str | None:
    """The real address of an `img`/`iframe`: lazy loading (WP Rocket, which the site runs)
    leaves a placeholder in `src` ("data:image/svg+xml…", "about:blank") and the address in
    `data-lazy-src` / `data-src`."""
    if node is None:
        return None
    src = attr(node, "src")
    if src and not src.lower().startswith(_PLACEHOLDER_SCHEMES):
        return src
    for name in ("data-lazy-src", "data-src"):
        lazy = attr(node, name)
        if lazy and not lazy.lower().startswith(_PLACEHOLDER_SCHEMES):
            return lazy
    return None


# --------------------------------------------------------------------------- text


def parse_status(text: str | None) -> str | None:
    """ "Ongoing" / "On-Going" / "Completed" / "Tamat" → "ongoing" / "completed"."""
    lowered = clean(text).lower()
    if "ongoing" in lowered or "on-going" in lowered or "on going" in lowered:
        return "ongoing"
    if "complete" in lowered or "tamat" in lowered or "selesai" in lowered:
        return "completed"
    return None


def clean(text: str | None) -> str:
    """Collapse whitespace (incl. NBSP and newlines of prettified markup) and strip."""
    if not text:
        return ""
    # str.split() splits on all Unicode whitespace (NBSP included) and is much faster than a
    # regex; this runs for every text node the parsers read.
    return " ".join(text.split())


def _text_lexbor_total() -> bool:
    """Whether `text_lexbor()` gives "" for a node without text (old selectolax raised)."""
    try:
        return LexborHTMLParser("<p></p>").body.child.text_lexbor() == ""
    except (RuntimeError, AttributeError):
        return False


# The text of a node: lexbor's own textContent, one C call, where `node.text()` calls back into
# Python for every text node (a third of the cost on the links the parsers read by dozens).
# Both give the text of the descendant text nodes only (comments are skipped by both).
raw_text: Callable[[LexborNode], str] = (
    LexborNode.text_lexbor if _text_lexbor_total() else LexborNode.text
)


def node_text(node: LexborNode | None) -> str:
    return clean(raw_text(node)) if node is not None else ""


def own_text(node: LexborNode) -> str:
    """Text of a node's direct text children only (skips nested markers like "On-Going")."""
    return clean(node.text(deep=False))


_BLOCK_TAGS = frozenset(
    tag_id(name)
    for name in ("p", "div", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote")
)


def paragraphs_text(node: LexborNode | None) -> str:
    """Text of a prose box as a person reads it: paragraphs (`<p>`, `<div>`, or text directly
    in the box, before or between them) joined by a blank line, `<br>` as a line break, empty
    paragraphs dropped.

    Iterative (an explicit stack, not recursion): mangled pages may nest tags very deeply.
    """
    if node is None:
        return ""
    paragraphs: list[str] = []
    lines: list[str] = []
    line: list[str] = []

    def end_line() -> None:
        text = clean("".join(line))
        line.clear()
        if text:
            lines.append(text)

    def end_paragraph() -> None:
        end_line()
        if lines:
            paragraphs.append("\n".join(lines))
            lines.clear()

    stack = [(node.iter(include_text=True), False)]
    while stack:
        children, is_block = stack[-1]
        child = next(children, None)
        if child is None:
            stack.pop()
            if is_block:
                end_paragraph()
            continue
        tag = child.tag_id
        if tag == TAG_TEXT:
            line.append(child.text_content or "")
        elif tag == TAG_BR:
            end_line()
        elif tag != TAG_COMMENT:
            block = tag in _BLOCK_TAGS
            if block:
                end_paragraph()
            stack.append((child.iter(include_text=True), block))
    end_paragraph()
    return "\n\n".join(paragraphs)


def split_list(text: str | None) -> list[str]:
    """Comma list as written: "Nippon Columbia, Kadokawa" → ["Nippon Columbia", "Kadokawa"]."""
    if not text:
        return []
    return [part for part in (clean(p) for p in text.split(",")) if part and part != "-"]


_TITLE_SUFFIX_RE = re.compile(r"\s*(?:Subtitle Indonesia|Sub Indo)\s*$", re.IGNORECASE)


def strip_sub_suffix(title: str) -> str:
    return _TITLE_SUFFIX_RE.sub("", title).strip()


def label_of(text: str) -> str:
    """Normalise a `<b>` label: "Total Episode :" → "total episode"."""
    return clean(text).strip(":\uff1a").strip().lower()


_VALUE_END_TAGS = frozenset({TAG_B, TAG_STRONG, TAG_BR, TAG_P})
# Wrappers a label may sit in with its value after them (`<span><b>Skor</b></span>: 8.1`).
_INLINE_TAGS = frozenset(tag_id(name) for name in ("span", "em", "i", "u", "font", "small"))


def labelled_values(container: LexborNode) -> dict[str, tuple[str, list[LexborNode]]]:
    """Read `<b>Label</b>: value` rows, whatever wraps them (`p > span`, `p`, or `<br>` lines).

    The value of a label is everything after its `<b>` up to the next `<b>` or `<br>`.
    Returns label → (value text without the leading ":", links in the value).
    """
    rows: dict[str, tuple[str, list[LexborNode]]] = {}
    for bold in container.css("b, strong"):
        label = label_of(raw_text(bold))
        if not label or label in rows:
            continue
        parts: list[str] = []
        links: list[LexborNode] = []
        sibling = bold.next
        if sibling is None:
            # The label closes its inline wrappers: the value follows the outermost one.
            wrapper = bold.parent
            while (
                wrapper is not None
                and wrapper.tag_id in _INLINE_TAGS
                and wrapper.mem_id != container.mem_id
            ):
                sibling = wrapper.next
                if sibling is not None:
                    break
                wrapper = wrapper.parent
        while sibling is not None:
            tag = sibling.tag_id  # numbers, not `tag` names: this loop visits every row's nodes
            if tag == TAG_TEXT:
                parts.append(sibling.text_content or "")
            elif tag in _VALUE_END_TAGS:
                break
            elif tag == TAG_A:
                links.append(sibling)
                parts.append(raw_text(sibling))
            elif tag != TAG_COMMENT:
                if sibling.css_first("b, strong") is not None:
                    break  # the next row, in a wrapper of its own
                links.extend(sibling.css("a"))
                parts.append(raw_text(sibling))
            sibling = sibling.next
        value = clean("".join(parts))
        if value.startswith((":", "\uff1a")):  # a colon, or a full-width one
            value = value[1:].strip()
        rows[label] = (value, links)
    return rows


# --------------------------------------------------------------------------- slugs

_KNOWN_PREFIXES = frozenset({"anime", "episode", "batch", "lengkap", "genres", "genre"})


@functools.lru_cache(maxsize=4096)
def _segments(url: str) -> tuple[str, ...]:
    # Plain string operations: this runs for every link the parsers look at.
    url = url.strip()
    for mark in ("?", "#"):
        url = url.partition(mark)[0]
    scheme_end = url.find("//")
    if scheme_end != -1 and ("/" not in url[:scheme_end]):
        url = url[scheme_end + 2 :].partition("/")[2]
    return tuple(seg for seg in url.split("/") if seg and seg != ".")


def url_path_segments(url: str | None) -> list[str]:
    """Path segments of a URL on any domain (or none), without query and fragment."""
    if not url or not isinstance(url, str):
        return []
    return list(_segments(url))


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


_PAGE_RE = re.compile(r"/page/(\d{1,6})(?:/|$)")


def page_from_url(url: str | None) -> int | None:
    if not url:
        return None
    match = _PAGE_RE.search(url.split("?", 1)[0])
    return int(match.group(1)) if match else None


def page_slug(page: Page, url: str | None) -> str:
    """The page's own slug: from `url`, else its canonical link (absent in fragments)."""
    slug = slug_from_url(url)
    if slug:
        return slug
    for candidate in (
        head_attr(page.head, "link", "rel", "canonical", "href"),
        head_attr(page.head, "meta", "property", "og:url", "content"),
    ):
        slug = slug_from_url(candidate)
        if slug:
            return slug
    return ""


# --------------------------------------------------------------------------- numbers

_NUMBER_RE = re.compile(r"\d{1,6}(?:[.,]\d{1,4})?")
_EPISODE_NUMBER_RE = re.compile(r"\b(?:Episode|Eps?\.?)\s*(\d{1,5}(?:[.,]\d{1,3})?)\b", re.I)
_SCORE_RE = re.compile(r"(\d{1,2}(?:[.,]\d{1,3})?)(?:\s*/\s*10)?")
_LEADING_INT_RE = re.compile(r"\s*(\d{1,6})\b")
_SLUG_EPISODE_RE = re.compile(r"episode-(\d{1,5})(?:-(\d{1,3}))?(?:-|$)")


def to_number(text: str) -> int | float:
    """ "12" → 12, "12.5" / "12,5" → 12.5 (text already matched by a bounded regex)."""
    text = text.replace(",", ".")
    if "." in text:
        value = float(text)
        return int(value) if value.is_integer() and text.endswith(".0") else value
    return int(text)


def first_number(text: str | None) -> int | float | None:
    if not text:
        return None
    match = _NUMBER_RE.search(text)
    return to_number(match.group(0)) if match else None


def parse_score(text: str | None) -> float | None:
    """ "8.25" → 8.25; "N/A", "", "Fall 2025" → None (a season is not a score)."""
    text = clean(text)
    match = _SCORE_RE.fullmatch(text)
    if not match:
        return None
    return float(match.group(1).replace(",", "."))


def parse_int(text: str | None) -> int | None:
    """ "11" → 11, "12 Eps" → 12, "Unknown" → None."""
    match = _LEADING_INT_RE.match(text or "")
    return int(match.group(1)) if match else None


def episode_number(title: str | None, slug: str | None = None) -> int | float | None:
    """Episode number from "X Episode 12.5 Subtitle Indonesia", else from the slug."""
    if title:
        match = _EPISODE_NUMBER_RE.search(title)
        if match:
            return to_number(match.group(1))
    if slug:
        match = _SLUG_EPISODE_RE.search(slug)
        if match:
            whole, fraction = match.groups()
            return to_number(f"{whole}.{fraction}") if fraction else int(whole)
    return None


_SIZE_RE = re.compile(r"(\d{1,6}(?:[.,]\d{1,3})?)\s*([KMGT]i?B)\b", re.I)
_SIZE_FACTORS = {"k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def parse_size(text: str | None) -> tuple[str | None, int | None]:
    """ "135.2 MB" → ("135.2 MB", 141767065). Binary units, as download hosts show them."""
    text = clean(text)
    match = _SIZE_RE.search(text)
    if not match:
        return (text or None), None
    number = float(match.group(1).replace(",", "."))
    return text, int(number * _SIZE_FACTORS[match.group(2)[0].lower()])


# --------------------------------------------------------------------------- dates

MONTHS: dict[str, int] = {}
for _number, _names in enumerate(
    (
        ("januari", "january", "jan"),
        ("februari", "february", "feb", "pebruari"),
        ("maret", "march", "mar"),
        ("april", "apr"),
        ("mei", "may"),
        ("juni", "june", "jun"),
        ("juli", "july", "jul"),
        ("agustus", "august", "agu", "agt", "aug", "ags"),
        ("september", "sep", "sept"),
        ("oktober", "october", "okt", "oct"),
        ("november", "nov", "nop", "nopember"),
        ("desember", "december", "des", "dec"),
    ),
    start=1,
):
    for _name in _names:
        MONTHS[_name] = _number

_DMY_RE = re.compile(r"(\d{1,2})\s*([A-Za-z]{3,10})\.?\s*,?\s*(\d{4})")
_MDY_RE = re.compile(r"([A-Za-z]{3,10})\.?\s+(\d{1,2})\s*,?\s*(\d{4})")
_ISO_RE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_DM_RE = re.compile(r"^\s*(\d{1,2})\s*([A-Za-z]{3,10})\.?\s*$")


def make_date(year: int, month: int, day: int) -> datetime.date | None:
    try:
        return datetime.date(year, month, day)
    except ValueError:
        return None


def parse_full_date(text: str | None) -> datetime.date | None:
    """ "14 Agustus,2026", "11 Februari, 2026", "Apr 03, 2026", "2026-01-21T…" → date."""
    if not text:
        return None
    match = _DMY_RE.search(text)
    if match and match.group(2).lower() in MONTHS:
        return make_date(int(match.group(3)), MONTHS[match.group(2).lower()], int(match.group(1)))
    match = _MDY_RE.search(text)
    if match and match.group(1).lower() in MONTHS:
        return make_date(int(match.group(3)), MONTHS[match.group(1).lower()], int(match.group(2)))
    match = _ISO_RE.search(text)
    if match:
        return make_date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    return None


def resolve_short_date(text: str | None, reference: datetime.date | None) -> datetime.date | None:
    """A card date "15 Agu" is at most a few days after the page was rendered; take the
    reference's year, or the year before when that would land in the future (a "27 Des" card
    on a 3 January page)."""
    if not text or reference is None:
        return None
    match = _DM_RE.match(text)
    if not match or match.group(2).lower() not in MONTHS:
        return parse_full_date(text)
    month, day = MONTHS[match.group(2).lower()], int(match.group(1))
    # Two days of slack: the page's clock (UTC cache stamp) may lag the site's local date.
    limit = reference + datetime.timedelta(days=2)
    for year in (reference.year + 1, reference.year, reference.year - 1):
        candidate = make_date(year, month, day)
        if candidate is not None and candidate <= limit:
            return candidate
    return None


# The site publishes on Jakarta time (WIB, UTC+7, no DST): its lists show dates in it.
SITE_TZ = datetime.timezone(datetime.timedelta(hours=7))


def iso_site_date(text: str | None) -> datetime.date | None:
    """ "2026-01-14T18:14:27+00:00" → 2026-01-15: the date the site's own lists show."""
    if not text:
        return None
    try:
        moment = datetime.datetime.fromisoformat(text.strip())
    except ValueError:
        return parse_full_date(text)
    if moment.tzinfo is None:
        return moment.date()
    return moment.astimezone(SITE_TZ).date()


_CACHED_RE = re.compile(r"cached@(\d{9,11})")


def page_date(page: Page, extra_dates: Iterable[datetime.date] = ()) -> datetime.date | None:
    """When the page was rendered: the WP Rocket `cached@<unix>` stamp, else the newest of the
    page's article meta dates and the full dates found on it (`extra_dates`)."""
    text = page.text
    # The stamp is the page's last comment: look at the tail first, the whole text only if
    # something was appended after it.
    match = _CACHED_RE.search(text, max(0, len(text) - 600)) or _CACHED_RE.search(text)
    if match is not None:
        return datetime.datetime.fromtimestamp(int(match.group(1)), tz=datetime.UTC).date()
    candidates = [d for d in extra_dates if d is not None]
    for prop in ("article:modified_time", "article:published_time"):
        found = iso_site_date(head_attr(page.head, "meta", "property", prop, "content"))
        if found is not None:
            candidates.append(found)
    return max(candidates) if candidates else None
