"""Episode page `/episode/<slug>/` and the two admin-ajax answers of the mirror protocol."""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from selectolax.lexbor import LexborHTMLParser, LexborNode

from .common import (
    TAG_A,
    TAG_COMMENT,
    TAG_LI,
    TAG_TEXT,
    ColumnCut,
    Page,
    ParseError,
    attr,
    head_attr,
    iso_site_date,
    load_page,
    media_src,
    node_text,
    page_slug,
    raw_text,
    safe_http_url,
    slug_from_url,
    url_kind,
)
from .downloads import download_links
from .types import (
    DownloadLink,
    EpisodePage,
    Mirror,
    MirrorToken,
    new_mirror,
    new_mirror_token,
)

# Known admin-ajax action names (unchanged from Jan 2023 to Aug 2026); used only when the page
# carries no mirror script to read them from.
KNOWN_NONCE_ACTION = "aa1208d27f29ca340c92c66d1926f13f"
KNOWN_EMBED_ACTION = "2a3505c93b0035d3f455df82bf976b84"

# Starts with a literal so that the regex engine can skip to each "action" with a fast substring
# search; the word boundary before it and the `{` of a nonce call's data object are checked by
# hand (an optional leading group made the engine try every position of the script).
_ACTION_RE = re.compile(r"""action\s*:\s*["']([A-Za-z0-9_\-]{1,100})["']""")
_QUALITY_RE = re.compile(r"(\d{3,4}p)", re.I)
_SHORTLINK_RE = re.compile(r"[?&]p=(\d{1,12})\b")
_SIMPLE_TOKEN_RE = re.compile(rb'\{"id":(\d{1,12}),"i":(\d{1,5}),"q":"([0-9A-Za-z]{1,10})"\}')
# A token is ~40 base64 chars; anything much longer is not one (and is not worth decoding).
_MAX_TOKEN_CHARS = 400


_B64_RE = re.compile(r"[A-Za-z0-9+/_\-]*={0,2}")


def _decode_b64(text: str) -> bytes | None:
    """Strict base64 (standard or URL-safe alphabet, padding optional); None otherwise."""
    try:
        # Fast path for the usual padded standard base64: what it accepts, the general path
        # below accepts too, with the same bytes.
        return binascii.a2b_base64(text, strict_mode=True)
    except ValueError:  # binascii.Error, or non-ASCII text
        pass
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


def decode_token(content: str | None) -> MirrorToken | None:
    """`data-content` → MirrorToken(id, i, q); None when it is not a valid token."""
    if not content or len(content) > _MAX_TOKEN_CHARS:
        return None
    raw = _decode_b64(content)
    if raw is None:
        return None
    # The site's tokens are always this compact object; skip the JSON machinery for them.
    simple = _SIMPLE_TOKEN_RE.fullmatch(raw)
    if simple is not None:
        post_id, index, quality = simple.groups()
        return new_mirror_token(int(post_id), int(index), quality.decode())
    data = _json_object(raw)
    if data is None:
        return None
    post_id, index, quality = data.get("id"), data.get("i"), data.get("q")
    if isinstance(post_id, str) and post_id.isdigit() and len(post_id) < 13:
        post_id = int(post_id)
    if isinstance(index, str) and index.isdigit() and len(index) < 6:
        index = int(index)
    if type(post_id) is not int or type(index) is not int or not isinstance(quality, str):
        return None
    return MirrorToken(id=post_id, i=index, q=quality)


def _mirror_quality(group: LexborNode) -> str | None:
    """ "Mirror 720p" label of a `ul.m720p` (the text before its first `li`), else the class."""
    label = []
    # Sibling links rather than `iter()`: a generator left at the first `li` costs more
    # than the two or three nodes before it.
    node = group.first_child
    while node is not None:
        tag = node.tag_id
        if tag == TAG_LI:
            break
        if tag == TAG_TEXT:
            label.append(node.text_content or "")
        elif tag != TAG_COMMENT:
            label.append(raw_text(node))
        node = node.next
    match = _QUALITY_RE.search("".join(label)) or _QUALITY_RE.search(attr(group, "class") or "")
    return match.group(1).lower() if match else None


def _mirrors(root: LexborNode) -> list[Mirror]:
    mirrors: list[Mirror] = []
    box = root.css_first(".mirrorstream")
    if box is None:
        return mirrors
    groups = box.css("ul") or [box]
    for group in groups:
        quality = _mirror_quality(group) if group is not box else None
        # `group.css("a[data-content]")` as a walk of the few nodes of the group: cheaper than
        # compiling the selector for each group.
        for link in group.traverse(include_text=False):
            if link.tag_id != TAG_A:
                continue
            # All attributes at once: both lookups from one dict, and no KeyError raised
            # inside selectolax for the `data-default` most links lack (runs per mirror).
            attrs = link.attributes
            content = attrs.get("data-content")
            if not content:
                continue  # absent, or empty (not a token either)
            token = decode_token(content.strip())
            if token is None:
                continue
            default = attrs.get("data-default")
            mirrors.append(
                new_mirror(
                    quality or (token.q.lower() or None),
                    " ".join(raw_text(link).split()),
                    token,
                    default is not None and default.strip().lower() == "true",
                )
            )
    return mirrors


def _mirror_script(html: str) -> str | None:
    """Text of the inline script that drives the mirrors (it follows `#venkonten`), found in
    the raw HTML: cheaper than walking every script node of the tree."""
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


def _opens_object(text: str, end: int) -> bool:
    """Whether `text[:end]` ends in `{` plus whitespace: a data object holding only the action."""
    index = end - 1
    while index >= 0 and text[index].isspace():
        index -= 1
    return index >= 0 and text[index] == "{"


def _actions(html: str) -> tuple[str, str, bool]:
    """(nonce action, embed action, read from the script?).

    In the mirror script the embed call comes first and the nonce call second; the nonce call
    is the one whose data object is only `{action:"…"}`.
    """
    script = _mirror_script(html)
    if script is None:
        return KNOWN_NONCE_ACTION, KNOWN_EMBED_ACTION, False
    nonce = embed = None
    position = 0
    while (match := _ACTION_RE.search(script, position)) is not None:
        start = match.start()
        before = script[start - 1] if start else ""
        if before.isalnum() or before == "_":  # no word boundary: "transaction:…"
            position = start + 1
            continue
        position = match.end()
        name = match.group(1)
        if _opens_object(script, start):
            nonce = nonce or name
        elif name != nonce:
            embed = embed or name
    if embed == nonce:
        embed = None
    return nonce or KNOWN_NONCE_ACTION, embed or KNOWN_EMBED_ACTION, bool(nonce or embed)


def _links_in(root: LexborNode, container: str) -> list[LexborNode]:
    """`root.css(f"{container} a[href]")` for a class selector `container`: with the usual
    single container, a walk of its own few nodes instead of a descendant selector (lexbor
    tests the ancestors of every link in the column, ~60 on an episode page)."""
    containers = root.css(container)
    if len(containers) != 1:
        return root.css(f"{container} a[href]") if containers else []
    nodes = containers[0].traverse(include_text=False)
    next(nodes)  # the container itself: it has no container ancestor
    return [node for node in nodes if node.tag_id == TAG_A and "href" in node.attrs]


def _nav(root: LexborNode) -> tuple[str | None, str | None, str | None]:
    """(anime slug, previous episode slug, next episode slug) from the `.flir` links."""
    anime = prev_slug = next_slug = None
    links = _links_in(root, ".flir") or _links_in(root, ".prevnext")
    # Episode links without a word saying which way they go (icon-only buttons): the site
    # puts the previous episode before the "See All Episodes" link and the next one after.
    unlabelled: list[tuple[bool, str | None]] = []
    for link in links:
        # All attributes at once: `attr()` three times would each raise a KeyError inside
        # selectolax for the `rel`/`title` most links lack.
        attrs = link.attributes
        href = (attrs.get("href") or "").strip() or None
        if url_kind(href) == "anime" or (attrs.get("rel") or "").strip() == "follow":
            anime = anime or slug_from_url(href)
            continue
        label = f"{(attrs.get('title') or '').strip()} {node_text(link)}".lower()
        if "sebelum" in label or "prev" in label:
            prev_slug = prev_slug or slug_from_url(href)
        elif "selanjut" in label or "next" in label:
            next_slug = next_slug or slug_from_url(href)
        elif url_kind(href) == "episode":
            unlabelled.append((anime is None, slug_from_url(href)))
    if anime is not None:
        for before_anime, slug in unlabelled:
            if before_anime:
                prev_slug = prev_slug or slug
            else:
                next_slug = next_slug or slug
    if anime is None:
        # The help box's "download other episodes" link names the show; any anime link in
        # the episode column only after it (one selector each: a combined one would return
        # the links in page order, column first).
        for selector in (".alert-info a[href]", ".venutama a[href]"):
            for link in root.css(selector):
                href = attr(link, "href")
                if url_kind(href) == "anime":
                    anime = slug_from_url(href)
                    break
            if anime is not None:
                break
    return anime, prev_slug, next_slug


def _embed_url(root: LexborNode) -> str | None:
    for selector in (
        "#pembed iframe",
        ".player-embed iframe",
        ".responsive-embed-stream iframe",
        "#embed_holder iframe",
        "#lightsVideo iframe",
    ):
        src = media_src(root.css_first(selector))
        if src:
            # An iframe that is not an absolute http(s) URL (javascript:, data:, a relative
            # path) is no player we can show: never stored, the mirrors stand in for it.
            return safe_http_url(src)
    return None


def _post_id(page: Page, mirrors: list[Mirror]) -> int | None:
    if mirrors:
        return mirrors[0].token.id
    match = _SHORTLINK_RE.search(head_attr(page.head, "link", "rel", "shortlink", "href") or "")
    return int(match.group(1)) if match else None


# The episode parser reads the title, navigation, player, mirrors, downloads and help box, all
# before the info box `.cukder`; the box and what follows it in the column (poster, genres,
# every episode's link, sharing buttons, comments) is a quarter of the column's markup and
# of its parse. The words are what those reads look for (class names, the player's tag).
_COLUMN_CUT = ColumnCut(
    "cukder",
    (
        "download",
        "mirrorstream",
        "iframe",
        "posttl",
        "venutama",
        "kategoz",
        "flir",
        "prevnext",
        "alert-info",
    ),
)


def parse_episode(html: str, url: str = "") -> EpisodePage:
    page = load_page(html, "episode", url, cut=_COLUMN_CUT)
    root = page.root
    if root is None:
        raise ParseError("episode", url, "player and downloads")
    embed = _embed_url(root)
    mirrors = _mirrors(root)
    downloads: list[DownloadLink] = []
    for block in root.css(".download"):
        downloads.extend(download_links(block))
    if embed is None and not mirrors and not downloads:
        raise ParseError("episode", url, "player (#pembed iframe, .mirrorstream) and downloads")
    title = node_text(root.css_first("h1.posttl") or root.css_first(".venutama h1"))
    anime, prev_slug, next_slug = _nav(root)
    nonce_action, embed_action, from_script = _actions(page.text)
    released = None
    # The descendant selector is as cheap as a walk of the one box here (few spans).
    for span in root.css(".kategoz span"):
        text = node_text(span)
        if text.lower().startswith("release on"):
            released = text[len("release on") :].strip() or None
    published = iso_site_date(
        head_attr(page.head, "meta", "property", "article:published_time", "content")
    )
    return EpisodePage(
        slug=page_slug(page, url),
        title=title,
        anime_slug=anime,
        prev_slug=prev_slug,
        next_slug=next_slug,
        post_id=_post_id(page, mirrors),
        default_embed_url=embed,
        mirrors=mirrors,
        downloads=downloads,
        nonce_action=nonce_action,
        embed_action=embed_action,
        actions_from_script=from_script,
        released_text=released,
        published_on=published,
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
