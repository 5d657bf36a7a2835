"""Anime detail page `/anime/<slug>/`."""

from __future__ import annotations

from selectolax.lexbor import LexborNode

from .common import (
    ParseError,
    attr,
    labelled_values,
    load_document,
    media_src,
    node_text,
    page_slug,
    paragraphs_text,
    slug_from_url,
    url_kind,
)
from .listing import genre_refs
from .types import AnimeDetail, EpisodeRef, PageRef
from .values import (
    episode_number,
    parse_full_date,
    parse_int,
    parse_score,
    parse_status,
    split_list,
    strip_sub_suffix,
)


def _list_kind(heading: str) -> str | None:
    lowered = heading.lower()
    if "batch" in lowered and "lengkap" not in lowered:
        return "batch"
    if "lengkap" in lowered:
        return "lengkap"
    if "episode" in lowered:
        return "episode"
    return None


class _Lists:
    """Episodes, batch and lengkap links of the three `.episodelist` blocks."""

    def __init__(self) -> None:
        self.episodes: list[EpisodeRef] = []
        self.batch: PageRef | None = None
        self.lengkap: PageRef | None = None
        self._seen: set[str] = set()

    def add(self, item: LexborNode, heading_kind: str | None) -> None:
        """One `li`: classified by its link's path (`/episode/`, `/batch/`, `/lengkap/`)
        whatever block it sits in; a link on another path by its block's heading."""
        link = next((a for a in item.css("a") if a.attributes.get("href")), None)
        href = attr(link, "href")
        slug = slug_from_url(href)
        if not slug:
            return
        title = node_text(link) or slug
        kind = url_kind(href)
        if kind not in ("episode", "batch", "lengkap"):
            kind = heading_kind
        if kind == "episode":
            self._add_episode(item, slug, node_text(link))
        elif kind == "batch" and self.batch is None:
            self.batch = PageRef(slug=slug, title=title)
        elif kind == "lengkap" and self.lengkap is None:
            self.lengkap = PageRef(slug=slug, title=title)

    def _add_episode(self, item: LexborNode, slug: str, title: str) -> None:
        # "pembatas" (separator) posts are dividers in long lists, not episodes.
        if slug in self._seen or "pembatas" in slug.lower():
            return
        self._seen.add(slug)
        dates = item.css('[class*="zeebr"]')
        self.episodes.append(
            EpisodeRef(
                slug=slug,
                title=title or slug,
                number=episode_number(title, slug),
                published_on=parse_full_date(node_text(dates[-1]) if dates else ""),
            )
        )


def _lists(root: LexborNode) -> _Lists:
    lists = _Lists()
    for block in root.css(".episodelist"):
        heading_kind = _list_kind(node_text(block.css_first(".monktit, .smokelister")))
        for item in block.css("li"):
            lists.add(item, heading_kind)
    return lists


def parse_detail(html: str, url: str = "") -> AnimeDetail:
    doc = load_document(html, "detail", url)
    root = doc.root
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
    lists = _lists(root)
    return AnimeDetail(
        slug=page_slug(doc, url),
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
        # Paragraphs as shown, including text put directly in the box and `<br>` breaks.
        synopsis=paragraphs_text(root.css_first(".sinopc")),
        episodes=lists.episodes,
        batch=lists.batch,
        lengkap=lists.lengkap,
    )
