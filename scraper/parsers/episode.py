"""Episode page `/episode/<slug>/` and the two admin-ajax answers of the mirror protocol."""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from selectolax.lexbor import LexborHTMLParser, LexborNode

from catalog.safe_urls import safe_http_url

from .common import (
    Document,
    ParseError,
    attr,
    head_value,
    load_document,
    media_src,
    node_text,
    page_slug,
    slug_from_url,
    url_kind,
)
from .downloads import download_links
from .types import EpisodePage, Mirror, MirrorToken, ParsedDownload
from .values import iso_site_date

# Known admin-ajax action names (unchanged from Jan 2023 to Aug 2026); used only when the page
# carries no mirror script to read them from.
KNOWN_NONCE_ACTION = "aa1208d27f29ca340c92c66d1926f13f"
KNOWN_EMBED_ACTION = "2a3505c93b0035d3f455df82bf976b84"

_ACTION_RE = re.compile(r"""(?<!\w)action\s*:\s*["']([A-Za-z0-9_\-]{1,100})["']""")
_QUALITY_RE = re.compile(r"(\d{3,4}p)", re.I)
_SHORTLINK_RE = re.compile(r"[?&]p=(\d{1,12})\b")
_B64_RE = re.compile(r"[A-Za-z0-9+/_\-]*={0,2}")
# A token is ~40 base64 chars; anything much longer is not one (and is not worth decoding).
_MAX_TOKEN_CHARS = 400


def _decode_b64(text: str) -> bytes | None:
    """Strict base64 (standard or URL-safe alphabet, padding optional); None otherwise."""
    text = "".join(text.split())
    if not _B64_RE.fullmatch(text):
        return None
    text = text.rstrip("=").replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None


def _json_object(raw: bytes | str) -> dict[str, Any] | None:
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):  # JSONDecodeError / UnicodeDecodeError are ValueErrors
        return None
    return value if isinstance(value, dict) else None


def _small_int(value: object, digits: int) -> int | None:
    """An int, or a string of at most `digits` decimal digits read as one (bools are no
    numbers; "²" is a digit to `isdigit` but no number to `int`)."""
    if isinstance(value, str) and value.isdecimal() and len(value) <= digits:
        return int(value)
    return value if type(value) is int else None


def decode_token(content: str | None) -> MirrorToken | None:
    """`data-content` → MirrorToken(id, i, q); None when it is not a valid token."""
    if not content or len(content) > _MAX_TOKEN_CHARS:
        return None
    raw = _decode_b64(content)
    data = _json_object(raw) if raw is not None else None
    if data is None:
        return None
    post_id, index, quality = (
        _small_int(data.get("id"), 12),
        _small_int(data.get("i"), 5),
        data.get("q"),
    )
    if post_id is None or index is None or not isinstance(quality, str):
        return None
    return MirrorToken(id=post_id, i=index, q=quality)


def _mirror_quality(group: LexborNode) -> str | None:
    """ "Mirror 720p" label of a `ul.m720p` (the text before its first `li`), else the class."""
    label = []
    for node in group.iter(include_text=True):
        if node.tag == "li":
            break
        if node.tag == "-text":
            label.append(node.text_content or "")
        elif node.tag != "-comment":
            label.append(node.text())
    match = _QUALITY_RE.search("".join(label)) or _QUALITY_RE.search(attr(group, "class") or "")
    return match.group(1).lower() if match else None


def _mirrors(root: LexborNode) -> list[Mirror]:
    mirrors: list[Mirror] = []
    box = root.css_first(".mirrorstream")
    if box is None:
        return mirrors
    for group in box.css("ul") or [box]:
        quality = _mirror_quality(group) if group is not box else None
        for link in group.css("a[data-content]"):
            token = decode_token(attr(link, "data-content"))
            if token is None:
                continue
            mirrors.append(
                Mirror(
                    quality=quality or (token.q.lower() or None),
                    provider=node_text(link),
                    token=token,
                    is_default=(attr(link, "data-default") or "").lower() == "true",
                )
            )
    return mirrors


def _mirror_script(html: str) -> str | None:
    """Text of the inline script that drives the mirrors (it follows `#venkonten`)."""
    marker = html.rfind("__x__nonce")
    if marker == -1:
        marker = html.rfind("admin-ajax")
    if marker == -1:
        return None
    start = html.rfind("<script", 0, marker)
    end = html.find("</script", marker)
    if start == -1 or html.rfind("</script", start, marker) != -1:
        return None  # the marker is not inside a script element
    return html[start : end if end != -1 else len(html)]


def _actions(html: str) -> tuple[str, str, bool]:
    """(nonce action, embed action, read from the script?).

    In the mirror script the embed call comes first and the nonce call second; the nonce call
    is the one whose data object is only `{action:"…"}`.
    """
    script = _mirror_script(html)
    if script is None:
        return KNOWN_NONCE_ACTION, KNOWN_EMBED_ACTION, False
    nonce = embed = None
    for match in _ACTION_RE.finditer(script):
        name = match.group(1)
        if script[: match.start()].rstrip().endswith("{"):
            nonce = nonce or name
        elif name != nonce:
            embed = embed or name
    if embed == nonce:
        embed = None
    return nonce or KNOWN_NONCE_ACTION, embed or KNOWN_EMBED_ACTION, bool(nonce or embed)


def _show_slug(root: LexborNode) -> str | None:
    """The show's slug from the help box's "download other episodes" link, else from any
    anime link in the episode column (the help box first, whatever the page order)."""
    for selector in (".alert-info a[href]", ".venutama a[href]"):
        for link in root.css(selector):
            href = attr(link, "href")
            if url_kind(href) == "anime":
                return slug_from_url(href)
    return None


def _nav(root: LexborNode) -> tuple[str | None, str | None, str | None]:
    """(anime slug, previous episode slug, next episode slug) from the `.flir` links."""
    anime = prev_slug = next_slug = None
    links = root.css(".flir a[href]") or root.css(".prevnext a[href]")
    # Episode links without a word saying which way they go (icon-only buttons): the site
    # puts the previous episode before the "See All Episodes" link and the next one after.
    unlabelled: list[tuple[bool, str | None]] = []
    for link in links:
        href = attr(link, "href")
        if url_kind(href) == "anime" or attr(link, "rel") == "follow":
            anime = anime or slug_from_url(href)
            continue
        label = f"{attr(link, 'title') or ''} {node_text(link)}".lower()
        if "sebelum" in label or "prev" in label:
            prev_slug = prev_slug or slug_from_url(href)
        elif "selanjut" in label or "next" in label:
            next_slug = next_slug or slug_from_url(href)
        elif url_kind(href) == "episode":
            unlabelled.append((anime is None, slug_from_url(href)))
    if anime is None:
        return _show_slug(root), prev_slug, next_slug
    for before_anime, slug in unlabelled:
        if before_anime:
            prev_slug = prev_slug or slug
        else:
            next_slug = next_slug or slug
    return anime, prev_slug, next_slug


_PLAYER_SELECTORS = (
    "#pembed iframe",
    ".player-embed iframe",
    ".responsive-embed-stream iframe",
    "#embed_holder iframe",
    "#lightsVideo iframe",
)


def _embed_url(root: LexborNode) -> str | None:
    for selector in _PLAYER_SELECTORS:
        src = media_src(root.css_first(selector))
        if src:
            # An iframe that is not an absolute http(s) URL (javascript:, data:, a relative
            # path) is no player we can show: never stored, the mirrors stand in for it.
            return safe_http_url(src)
    return None


def _post_id(doc: Document, mirrors: list[Mirror]) -> int | None:
    if mirrors:
        return mirrors[0].token.id
    shortlink = head_value(doc, 'link[rel="shortlink"]', "href") or ""
    match = _SHORTLINK_RE.search(shortlink)
    return int(match.group(1)) if match else None


def _released(root: LexborNode) -> str | None:
    """ "1:14 am" from the info line's "Release on 1:14 am" (the last one, if repeated)."""
    released = None
    for span in root.css(".kategoz span"):
        text = node_text(span)
        if text.lower().startswith("release on"):
            released = text[len("release on") :].strip() or None
    return released


def parse_episode(html: str, url: str = "") -> EpisodePage:
    doc = load_document(html, "episode", url)
    root = doc.root
    embed = _embed_url(root)
    mirrors = _mirrors(root)
    downloads: list[ParsedDownload] = []
    for block in root.css(".download"):
        downloads.extend(download_links(block))
    if embed is None and not mirrors and not downloads:
        raise ParseError("episode", url, "player (#pembed iframe, .mirrorstream) and downloads")
    anime, prev_slug, next_slug = _nav(root)
    nonce_action, embed_action, from_script = _actions(doc.text)
    published = head_value(doc, 'meta[property="article:published_time"]', "content")
    return EpisodePage(
        slug=page_slug(doc, url),
        title=node_text(root.css_first("h1.posttl") or root.css_first(".venutama h1")),
        anime_slug=anime,
        prev_slug=prev_slug,
        next_slug=next_slug,
        post_id=_post_id(doc, mirrors),
        default_embed_url=embed,
        mirrors=mirrors,
        downloads=downloads,
        nonce_action=nonce_action,
        embed_action=embed_action,
        actions_from_script=from_script,
        released_text=_released(root),
        published_on=iso_site_date(published),
    )


# --------------------------------------------------------------------------- admin-ajax answers


def _ajax_data(body: str | bytes, kind: str) -> str:
    if isinstance(body, bytes | bytearray):
        body = bytes(body).decode("utf-8", "replace")
    if not isinstance(body, str):
        raise ParseError(kind, "", "JSON body")
    data = _json_object(body.strip())
    if data is None:
        raise ParseError(kind, "", "JSON object")
    value = data.get("data")
    if not isinstance(value, str) or not value.strip():
        raise ParseError(kind, "", '"data" string')
    return value.strip()


def parse_nonce_response(body: str) -> str:
    """admin-ajax nonce answer `{"data": "<nonce>"}` → the nonce."""
    return _ajax_data(body, "nonce")


def parse_embed_response(body: str) -> str:
    """admin-ajax embed answer `{"data": "<base64 html>"}` → the `src` of its iframe."""
    data = _ajax_data(body, "embed")
    raw = _decode_b64(data)
    if raw is None:
        raise ParseError("embed", "", "base64 data")
    fragment = LexborHTMLParser(raw.decode("utf-8", "replace"))
    src = attr(fragment.css_first("iframe[src]"), "src") or attr(
        fragment.css_first("iframe[data-src]"), "data-src"
    )
    if not src:
        raise ParseError("embed", "", "iframe src")
    # The origin's answer decides nothing about what we frame: only http(s) with a host.
    safe = safe_http_url(src)
    if safe is None:
        raise ParseError("embed", "", "http(s) iframe src")
    return safe
