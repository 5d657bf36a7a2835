"""Download rows (`li > strong "Mp4 720p" + a… + i "135.2 MB"`), shared by episode, batch
and lengkap pages, and the batch and lengkap parsers."""

from __future__ import annotations

import functools
import re

from selectolax.lexbor import LexborNode

from .common import (
    TAG_A,
    TAG_B,
    TAG_COMMENT,
    TAG_I,
    TAG_STRONG,
    TAG_TEXT,
    ParseError,
    attr,
    clean,
    episode_number,
    load_page,
    node_text,
    page_slug,
    parse_size,
    raw_text,
    safe_http_url,
    slug_from_url,
    strip_sub_suffix,
    tag_id,
    url_kind,
)
from .types import BatchPage, DownloadLink, DownloadSection, LengkapPage, new_download_link

_QUALITY_RE = re.compile(r"\b(\d{3,4}p|4k|2k|hd|fhd|sd)\b", re.I)
_LABEL_PUNCTUATION_RE = re.compile(r"[\[\]()|:\-]")
# Tags whose `li` rows `download_links` reads (numbers: compared with `node.tag_id`).
_ROW_CONTAINERS = frozenset(tag_id(name) for name in ("ul", "ol", "div", "p"))
_ROW_SIZE_RE = re.compile(r"\d{1,6}(?:[.,]\d{1,3})?\s*[KMGT]i?B\b", re.I)


# Labels come from a small vocabulary ("Mp4 360p", "MKV 720p", "x265 [1080p]"…) repeated on
# every download page: remember them instead of running three regexes per row.
@functools.lru_cache(maxsize=1024)
def split_format_quality(label: str) -> tuple[str | None, str | None]:
    """ "Mp4 720p" / "720p MP4" / "MP4 480p" / "MKV 1080p" / "x265 [720p]" → (format, quality)."""
    # A size written into the label ("Mp4 720p [85 MB]") is the row's size, not its format.
    label = clean(_ROW_SIZE_RE.sub(" ", label))
    match = _QUALITY_RE.search(label)
    quality = match.group(1).lower() if match else None
    rest = _QUALITY_RE.sub(" ", label) if match else label
    rest = clean(_LABEL_PUNCTUATION_RE.sub(" ", rest)).lower()
    return (rest or None), quality


def _nested_links(node: LexborNode) -> list[LexborNode]:
    """The links inside a row's child (`<span><a>…</a></span>`, `<b><a>Mega</a></b>`): a walk
    of its few nodes; none without looking for the usual text-only `<strong>` and `<i>`."""
    first = node.first_child
    if first is None or (first.tag_id == TAG_TEXT and first.next is None):
        return []
    return [found for found in node.traverse(include_text=False) if found.tag_id == TAG_A]


def _row_parts(row: LexborNode) -> tuple[LexborNode | None, list[LexborNode], LexborNode | None]:
    """(label, provider links, size) of a row, links in page order: its direct children in the
    usual markup; a child holding links (a wrapper around some of them) gives its links and is
    neither the label nor the size."""
    label = size = None
    anchors: list[LexborNode] = []
    for child in row.iter(include_text=False):
        tag = child.tag_id
        if tag == TAG_A:
            anchors.append(child)
            continue
        nested = _nested_links(child)
        if nested:
            anchors.extend(nested)
        elif label is None and tag in (TAG_STRONG, TAG_B):
            label = child
        elif size is None and tag == TAG_I:
            size = child
    if label is None:
        # A label wrapped in something else (`<span><strong>Mp4 720p</strong></span>`).
        label = next((bold for bold in row.css("strong, b") if not _nested_links(bold)), None)
    if size is None:
        size = next((italic for italic in row.css("i") if not _nested_links(italic)), None)
    return label, anchors, size


def _provider(anchor: LexborNode) -> str:
    """A provider link's name: its text, else (a logo) its `title` or its image's `alt`."""
    provider = raw_text(anchor)
    if not provider.isalnum():  # alphanumeric text ("Pdrain") has nothing to clean
        provider = " ".join(provider.split())
    if provider:
        return provider
    image = anchor.css_first("img")
    return clean(attr(anchor, "title") or attr(image, "alt") or attr(image, "title"))


def _lead_text(row: LexborNode) -> str:
    """A row's text before its first link: the label when it is not in a `<strong>`/`<b>`
    ("Mp4 360p <a>…</a>", or "<span>MKV 720p</span> <a>…</a>")."""
    parts: list[str] = []
    for node in row.iter(include_text=True):
        tag = node.tag_id
        if tag == TAG_A:
            break
        if tag == TAG_TEXT:
            parts.append(node.text_content or "")
        elif tag not in (TAG_I, TAG_COMMENT):
            parts.append(raw_text(node))
    return " ".join("".join(parts).split())


def download_rows(container: LexborNode) -> list[DownloadLink]:
    """All provider links of the `li` rows under `container`, in page order."""
    links: list[DownloadLink] = []
    append = links.append
    for row in container.css("li"):
        label_node, anchors, size_node = _row_parts(row)
        if not anchors:
            continue
        # node_text() inlined here and below: these lines run for every row and link.
        if label_node is not None:
            label = " ".join(raw_text(label_node).split())
        else:
            label = _lead_text(row)
        # A row without any label still lists real provider links: keep them, unlabelled.
        fmt, quality = split_format_quality(label)
        size_text = " ".join(raw_text(size_node).split()) if size_node is not None else ""
        size, size_bytes = parse_size(size_text)
        if size_bytes is None:  # no size in the `<i>`: look for one in the row's text
            match = _ROW_SIZE_RE.search(clean(raw_text(row)))
            size, size_bytes = parse_size(match.group(0) if match else "")
        for anchor in anchors:
            # `attrs[name]`, not `attrs.get`: one call less per link; absent raises KeyError.
            try:
                href = anchor.attrs["href"]
            except KeyError:
                continue
            # Only absolute http(s) links are kept: "#", "javascript:…" in any case or
            # spacing, data:, relative and protocol-relative links never reach the catalogue.
            href = safe_http_url(href)
            if href is None:
                continue
            provider = _provider(anchor)
            if provider:
                append(new_download_link(fmt, quality, provider, href, size, size_bytes))
    return links


def download_links(container: LexborNode) -> list[DownloadLink]:
    """The rows of every section of a download block, flattened (what `download_sections`
    returns without its titles, for callers that do not need them)."""
    links: list[DownloadLink] = []
    for child in container.iter(include_text=False):
        if child.tag_id in _ROW_CONTAINERS:
            links.extend(download_rows(child))
    return links


def download_sections(container: LexborNode) -> list[tuple[str, list[DownloadLink]]]:
    """`h4` title + following `ul`s pairs of a download block, in page order.

    Rows before any `h4` form a section with an empty title.
    """
    sections: list[tuple[str, list[DownloadLink]]] = []
    title: str | None = None
    current: list[DownloadLink] = []
    # A wrapper holding its own heading (one `div` per episode around its `h4` + `ul`) is
    # walked into, so that each heading keeps its rows; an explicit stack, not recursion.
    stack = [container.iter(include_text=False)]
    while stack:
        child = next(stack[-1], None)
        if child is None:
            stack.pop()
            continue
        tag = child.tag
        if tag in ("h4", "h3", "h5"):
            if title is not None or current:
                sections.append((title or "", current))
            title, current = node_text(child), []
        elif tag in ("div", "section") and has_nested(child, "h4, h3, h5"):
            stack.append(child.iter(include_text=False))
        elif tag in ("ul", "ol", "div", "p"):
            current.extend(download_rows(child))
    if title is not None or current:
        sections.append((title or "", current))
    return sections


def has_nested(node: LexborNode, selector: str) -> bool:
    """Whether a descendant (not `node` itself, which lexbor's css() includes) matches."""
    return any(match.mem_id != node.mem_id for match in node.css(selector))


def _anime_slug(root: LexborNode) -> str | None:
    # Most specific first: the "all episodes" link, the info block, the help box; then any.
    for selector in (".totalepisode a", ".animeinfo a", ".alert-info a", ".venser a"):
        for link in root.css(selector):
            href = attr(link, "href")
            if url_kind(href) == "anime":
                return slug_from_url(href)
    return None


def _heading(root: LexborNode) -> str:
    for node in root.css(".jdlrx h1, h1.posttl, .venutama h1, .venser h1, h1"):
        text = node_text(node)
        if text:
            return text
    return ""


def parse_batch(html: str, url: str = "") -> BatchPage:
    page = load_page(html, "batch", url)
    root = page.root
    blocks = root.css(".batchlink, .download2") if root is not None else []
    if not blocks and root is not None:
        # A batch page laid out like an episode's download block (`.download > h4 + ul`).
        blocks = root.css(".download")
    downloads: list[DownloadLink] = []
    title = ""
    for block in blocks:
        if has_nested(block, ".batchlink"):
            continue  # .download2 wrapping a .batchlink: read the inner one only
        for section_title, rows in download_sections(block):
            title = title or section_title
            downloads.extend(rows)
    if not downloads:
        raise ParseError("batch", url, "download rows (.batchlink ul li)")
    return BatchPage(
        slug=page_slug(page, url),
        title=strip_sub_suffix(_heading(root) or title),
        anime_slug=_anime_slug(root),
        downloads=downloads,
    )


def parse_lengkap(html: str, url: str = "") -> LengkapPage:
    page = load_page(html, "lengkap", url)
    root = page.root
    blocks = root.css(".download, .batchlink, .download2") if root is not None else []
    sections: list[DownloadSection] = []
    for block in blocks:
        if has_nested(block, ".download, .batchlink"):
            continue  # read only innermost download blocks, each once
        for title, rows in download_sections(block):
            if not rows:
                continue
            is_batch = "batch" in title.lower()
            sections.append(
                DownloadSection(
                    title=title,
                    episode_number=None if is_batch else episode_number(title),
                    is_batch=is_batch,
                    downloads=rows,
                )
            )
    if not sections:
        raise ParseError("lengkap", url, "download sections (.download h4 + ul)")
    return LengkapPage(
        slug=page_slug(page, url),
        title=strip_sub_suffix(_heading(root)),
        anime_slug=_anime_slug(root),
        sections=sections,
    )
