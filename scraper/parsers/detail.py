"""Anime detail page `/anime/<slug>/`."""

from __future__ import annotations

from selectolax.lexbor import LexborNode

from .common import (
    TAG_A,
    ColumnCut,
    ParseError,
    episode_number,
    labelled_values,
    load_page,
    media_src,
    node_text,
    page_slug,
    paragraphs_text,
    parse_full_date,
    parse_int,
    parse_score,
    parse_status,
    slug_from_url,
    split_list,
    strip_sub_suffix,
    url_kind,
)
from .listing import genre_refs
from .types import AnimeDetail, EpisodeRef, PageRef, new_episode_ref


def _synopsis(root: LexborNode) -> str:
    # Paragraphs as shown, including text put directly in the box and `<br>` line breaks.
    return paragraphs_text(root.css_first(".sinopc"))


def _list_kind(heading: str) -> str | None:
    lowered = heading.lower()
    if "batch" in lowered and "lengkap" not in lowered:
        return "batch"
    if "lengkap" in lowered:
        return "lengkap"
    if "episode" in lowered:
        return "episode"
    return None


def _lists(
    root: LexborNode,
) -> tuple[list[EpisodeRef], PageRef | None, PageRef | None]:
    """Episodes, batch and lengkap links of the three `.episodelist` blocks.

    A link is classified by its path (`/episode/`, `/batch/`, `/lengkap/`) whatever block it
    sits in; only links on unknown paths fall back to their block's heading.
    """
    episodes: list[EpisodeRef] = []
    seen: set[str] = set()
    batch = lengkap = None
    for block in root.css(".episodelist"):
        # Read only when a link's path does not tell its kind (a selector per block otherwise).
        heading_kind: str | None = None
        heading_read = False
        for item in block.css("li"):
            # One walk over the row instead of a selector per field (selectors are compiled
            # per call, which dominates on small subtrees).
            link = date_node = None
            raw_href = ""
            for node in item.traverse(include_text=False):
                if node.tag_id == TAG_A and link is None and (value := node.attrs.get("href")):
                    link, raw_href = node, value
                # `attributes` (a dict, empty for the bare `li` and `span`), not `attrs.get`,
                # which raises and catches a KeyError inside selectolax for a missing class.
                elif "zeebr" in (node.attributes.get("class") or ""):
                    date_node = node
            if link is None:
                continue
            href = raw_href.strip() or None  # what attr(link, "href") gives
            slug = slug_from_url(href)
            title = node_text(link)
            if not slug:
                continue
            kind = url_kind(href)
            if kind not in ("episode", "batch", "lengkap"):
                if not heading_read:
                    heading = block.css_first(".monktit, .smokelister")
                    heading_kind, heading_read = _list_kind(node_text(heading)), True
                kind = heading_kind
            if kind == "episode":
                # "pembatas" (separator) posts are dividers in long lists, not episodes.
                if slug in seen or "pembatas" in slug.lower():
                    continue
                seen.add(slug)
                episodes.append(
                    new_episode_ref(
                        slug,
                        title or slug,
                        episode_number(title, slug),
                        parse_full_date(node_text(date_node)),
                    )
                )
            elif kind == "batch" and batch is None:
                batch = PageRef(slug=slug, title=title or slug)
            elif kind == "lengkap" and lengkap is None:
                lengkap = PageRef(slug=slug, title=title or slug)
    return episodes, batch, lengkap


# The detail parser reads the info block, title, poster, synopsis and the episode lists, all
# before the `.keyword` box; that box and what follows it in the column (help box, sharing
# buttons, recommendations with their pictures, comments) is half of the column's markup
# and of its parse. The words are what those reads look for (class names, tag names).
_COLUMN_CUT = ColumnCut(
    "keyword",
    ("infozingle", "jdlrx", "<h1", "fotoanime", "wp-post-image", "episodelist", "sinopc"),
)


def parse_detail(html: str, url: str = "") -> AnimeDetail:
    page = load_page(html, "detail", url, cut=_COLUMN_CUT)
    root = page.root
    info = None
    if root is not None:
        info = root.css_first(".fotoanime .infozingle") or root.css_first(".infozingle")
    if info is None:
        raise ParseError("detail", url, "info block (.infozingle)")
    rows = labelled_values(info)

    def value(*labels: str) -> str | None:
        for label in labels:
            if label in rows and rows[label][0]:
                return rows[label][0]
        return None

    title = value("judul", "title") or strip_sub_suffix(
        node_text(root.css_first(".jdlrx h1") or root.css_first("h1"))
    )
    if not title:
        raise ParseError("detail", url, "title (Judul)")
    genre_links = next((rows[k][1] for k in ("genre", "genres") if k in rows), [])
    release_text = value("tanggal rilis", "rilis", "aired")
    poster = root.css_first(".fotoanime img") or root.css_first("img.wp-post-image")
    episodes, batch, lengkap = _lists(root)
    return AnimeDetail(
        slug=page_slug(page, url),
        title=title,
        title_japanese=value("japanese"),
        score=parse_score(value("skor", "score", "rating")),
        producers=split_list(value("produser", "producers", "producer")),
        type=value("tipe", "type"),
        status=parse_status(value("status")),
        total_episodes=parse_int(value("total episode", "episode", "episodes")),
        duration=value("durasi", "duration"),
        release_date=parse_full_date(release_text),
        release_date_text=release_text,
        studios=split_list(value("studio", "studios")),
        genres=genre_refs(genre_links),
        poster_url=media_src(poster),
        synopsis=_synopsis(root),
        episodes=episodes,
        batch=batch,
        lengkap=lengkap,
    )
