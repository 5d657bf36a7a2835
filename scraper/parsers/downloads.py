"""Download rows (`li > strong "Mp4 720p" + a… + i "135.2 MB"`), shared by episode, batch
and lengkap pages, and the batch and lengkap parsers."""

from __future__ import annotations

import re

from selectolax.lexbor import LexborNode

from catalog.safe_urls import safe_http_url

from .common import (
    ParseError,
    attr,
    load_document,
    node_text,
    page_slug,
    slug_from_url,
    url_kind,
)
from .types import BatchPage, DownloadSection, LengkapPage, ParsedDownload
from .values import clean, episode_number, parse_size, strip_sub_suffix

_QUALITY_RE = re.compile(r"\b(\d{3,4}p|4k|2k|hd|fhd|sd)\b", re.I)
_LABEL_PUNCTUATION_RE = re.compile(r"[\[\]()|:\-]")
_ROW_SIZE_RE = re.compile(r"\d{1,6}(?:[.,]\d{1,3})?\s*[KMGT]i?B\b", re.I)
_ROW_CONTAINERS = ("ul", "ol", "div", "p")
_HEADINGS = ("h4", "h3", "h5")


def split_format_quality(label: str) -> tuple[str | None, str | None]:
    """ "Mp4 720p" / "720p MP4" / "MP4 480p" / "MKV 1080p" / "x265 [720p]" → (format, quality)."""
    # A size written into the label ("Mp4 720p [85 MB]") is the row's size, not its format.
    label = clean(_ROW_SIZE_RE.sub(" ", label))
    match = _QUALITY_RE.search(label)
    quality = match.group(1).lower() if match else None
    rest = _QUALITY_RE.sub(" ", label) if match else label
    rest = clean(_LABEL_PUNCTUATION_RE.sub(" ", rest)).lower()
    return (rest or None), quality


def _row_parts(row: LexborNode) -> tuple[LexborNode | None, list[LexborNode], LexborNode | None]:
    """(label, provider links, size) of a row, links in page order: its direct children in the
    usual markup; a child holding links (a wrapper around some of them) gives its links and is
    neither the label nor the size."""
    label = size = None
    links: list[LexborNode] = []
    for child in row.iter():
        nested = [child] if child.tag == "a" else child.css("a")
        if nested:
            links.extend(nested)
        elif label is None and child.tag in ("strong", "b"):
            label = child
        elif size is None and child.tag == "i":
            size = child
    if label is None:
        # A label wrapped in something else (`<span><strong>Mp4 720p</strong></span>`).
        label = next((bold for bold in row.css("strong, b") if not bold.css("a")), None)
    if size is None:
        size = next((italic for italic in row.css("i") if not italic.css("a")), None)
    return label, links, size


def _provider(link: LexborNode) -> str:
    """A provider link's name: its text, else (a logo) its `title` or its image's `alt`."""
    image = link.css_first("img")
    return node_text(link) or clean(
        attr(link, "title") or attr(image, "alt") or attr(image, "title")
    )


def _lead_text(row: LexborNode) -> str:
    """A row's text before its first link: the label when it is not in a `<strong>`/`<b>`
    ("Mp4 360p <a>…</a>", or "<span>MKV 720p</span> <a>…</a>")."""
    parts: list[str] = []
    for node in row.iter(include_text=True):
        if node.tag == "a":
            break
        if node.tag == "-text":
            parts.append(node.text_content or "")
        elif node.tag not in ("i", "-comment"):
            parts.append(node.text())
    return clean("".join(parts))


def _row_size(row: LexborNode, size_node: LexborNode | None) -> tuple[str | None, int | None]:
    """The row's size: its `<i>`, else a size written anywhere in the row."""
    size, size_bytes = parse_size(node_text(size_node))
    if size_bytes is None:
        match = _ROW_SIZE_RE.search(node_text(row))
        size, size_bytes = parse_size(match.group(0) if match else "")
    return size, size_bytes


def download_rows(container: LexborNode) -> list[ParsedDownload]:
    """All provider links of the `li` rows under `container`, in page order."""
    downloads: list[ParsedDownload] = []
    for row in container.css("li"):
        label_node, links, size_node = _row_parts(row)
        if not links:
            continue
        # A row without any label still lists real provider links: keep them, unlabelled.
        label = node_text(label_node) if label_node is not None else _lead_text(row)
        fmt, quality = split_format_quality(label)
        size, size_bytes = _row_size(row, size_node)
        for link in links:
            # Only absolute http(s) links are kept: "#", "javascript:…" in any case or
            # spacing, data:, relative and protocol-relative links never reach the catalogue.
            url = safe_http_url(attr(link, "href"))
            provider = _provider(link)
            if url is not None and provider:
                downloads.append(
                    ParsedDownload(
                        format=fmt,
                        quality=quality,
                        provider=provider,
                        url=url,
                        size=size,
                        size_bytes=size_bytes,
                    )
                )
    return downloads


def download_links(container: LexborNode) -> list[ParsedDownload]:
    """The rows of every section of a download block, flattened (what `download_sections`
    returns without its titles)."""
    downloads: list[ParsedDownload] = []
    for child in container.iter():
        if child.tag in _ROW_CONTAINERS:
            downloads.extend(download_rows(child))
    return downloads


def download_sections(container: LexborNode) -> list[tuple[str, list[ParsedDownload]]]:
    """`h4` title + following `ul`s pairs of a download block, in page order.

    Rows before any `h4` form a section with an empty title.
    """
    sections: list[tuple[str, list[ParsedDownload]]] = []
    title: str | None = None
    current: list[ParsedDownload] = []
    # A wrapper holding its own heading (one `div` per episode around its `h4` + `ul`) is
    # walked into, so that each heading keeps its rows; an explicit stack, not recursion.
    stack = [container.iter()]
    while stack:
        child = next(stack[-1], None)
        if child is None:
            stack.pop()
        elif child.tag in _HEADINGS:
            if title is not None or current:
                sections.append((title or "", current))
            title, current = node_text(child), []
        elif child.tag in ("div", "section") and has_nested(child, ", ".join(_HEADINGS)):
            stack.append(child.iter())
        elif child.tag in _ROW_CONTAINERS:
            current.extend(download_rows(child))
    if title is not None or current:
        sections.append((title or "", current))
    return sections


def has_nested(node: LexborNode, selector: str) -> bool:
    """Whether a descendant (not `node` itself, which lexbor's css() includes) matches."""
    return any(match.mem_id != node.mem_id for match in node.css(selector))


def _show_slug(root: LexborNode) -> str | None:
    """The show a download page belongs to, from its links to the anime page."""
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
    doc = load_document(html, "batch", url)
    root = doc.root
    blocks = root.css(".batchlink, .download2")
    if not blocks:
        # A batch page laid out like an episode's download block (`.download > h4 + ul`).
        blocks = root.css(".download")
    downloads: list[ParsedDownload] = []
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
        slug=page_slug(doc, url),
        title=strip_sub_suffix(_heading(root) or title),
        anime_slug=_show_slug(root),
        downloads=downloads,
    )


def parse_lengkap(html: str, url: str = "") -> LengkapPage:
    doc = load_document(html, "lengkap", url)
    root = doc.root
    blocks = root.css(".download, .batchlink, .download2")
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
        slug=page_slug(doc, url),
        title=strip_sub_suffix(_heading(root)),
        anime_slug=_show_slug(root),
        sections=sections,
    )
