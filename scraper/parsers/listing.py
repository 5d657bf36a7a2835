"""Card and list pages: home, ongoing/completed lists, genre pages, search, A–Z list,
genre list and release schedule."""

from __future__ import annotations

import datetime
import re

from selectolax.lexbor import LexborNode

from .common import (
    TAG_COMMENT,
    TAG_SPAN,
    TAG_TEXT,
    ParseError,
    attr,
    clean,
    episode_number,
    first_number,
    label_of,
    load_page,
    media_src,
    node_text,
    own_text,
    page_date,
    page_from_url,
    paragraphs_text,
    parse_int,
    parse_score,
    parse_status,
    resolve_short_date,
    slug_from_url,
    strip_sub_suffix,
    tag_id,
    url_kind,
)
from .types import (
    AnimeCard,
    AnimeList,
    AnimeRef,
    GenreList,
    GenrePage,
    GenreRef,
    HomePage,
    ListPage,
    ScheduleDay,
    SchedulePage,
    SearchPage,
)

WEEKDAYS = frozenset({"senin", "selasa", "rabu", "kamis", "jumat", "jum'at", "sabtu", "minggu"})
_SEASON_RE = re.compile(r"^(?:winter|spring|summer|fall|autumn)\s+\d{4}$", re.I)


def _anime_link(node: LexborNode, selector: str) -> tuple[str | None, LexborNode | None]:
    """The first link under `node` (matching `selector`) that points at an anime page."""
    for link in node.css(selector):
        href = attr(link, "href")
        slug = slug_from_url(href)
        if slug and url_kind(href) in ("anime", None):
            return slug, link
    return None, None


def _poster(node: LexborNode | None) -> str | None:
    img = None if node is None else node if node.tag == "img" else node.css_first("img")
    return media_src(img)


def scan(node: LexborNode, classes: frozenset[str]) -> dict[str, LexborNode]:
    """First descendant carrying each of `classes`, plus the first `a[href]` ("<a>") and
    `img` ("<img>"), in one walk: a card has a dozen fields and a selector per field costs
    more than the walk (selectors are compiled on every call)."""
    found: dict[str, LexborNode] = {}
    for child in node.traverse(include_text=False):
        tag = child.tag
        if tag == "a" and "<a>" not in found and child.attrs.get("href"):
            found["<a>"] = child
        elif tag == "img" and "<img>" not in found:
            found["<img>"] = child
        names = child.attrs.get("class")
        if names:
            for name in names.split():
                if name in classes and name not in found:
                    found[name] = child
    return found


def _link_slug(link: LexborNode | None) -> str | None:
    href = attr(link, "href")
    slug = slug_from_url(href)
    return slug if slug and url_kind(href) in ("anime", None) else None


def genre_refs(links: list[LexborNode]) -> list[GenreRef]:
    refs = []
    for link in links:
        slug = slug_from_url(attr(link, "href"))
        name = node_text(link)
        if slug and name:
            refs.append(GenreRef(slug=slug, name=name))
    return refs


# --------------------------------------------------------------------------- .venz cards


_VENZ_CLASSES = frozenset({"thumb", "jdlflm", "epz", "epztipe", "newnime"})


def _venz_card(item: LexborNode, reference: datetime.date | None) -> AnimeCard | None:
    parts = scan(item, _VENZ_CLASSES)
    thumb = parts.get("thumb")
    link = thumb.css_first("a[href]") if thumb is not None else None
    slug = _link_slug(link)
    if slug is None:
        slug, link = _anime_link(item, "a[href]")
    if slug is None or link is None:
        return None
    title = node_text(parts.get("jdlflm")) or strip_sub_suffix(
        re.sub(r"\s*\(Episode[^)]*\)", "", clean(attr(link, "title")))
    )
    if not title:
        title = strip_sub_suffix(clean(attr(parts.get("<img>"), "alt")))
    episode_label = node_text(parts.get("epz")) or None
    tipe = node_text(parts.get("epztipe"))
    # "Jum'at" is typeset with a curly apostrophe by WordPress (&#8217;).
    weekday = tipe.lower().replace("\u2019", "'")
    day = tipe if weekday in WEEKDAYS or weekday == "random" else None
    season = tipe if _SEASON_RE.match(tipe) else None
    date_text = node_text(parts.get("newnime")) or None
    return AnimeCard(
        slug=slug,
        title=title or slug,
        poster_url=_poster(parts.get("<img>")),
        episode_label=episode_label,
        episode_number=first_number(episode_label),
        day=day,
        score=parse_score(tipe),
        date=resolve_short_date(date_text, reference),
        date_text=date_text,
        season=season,
    )


def _venz_cards(venz: LexborNode, reference: datetime.date | None) -> list[AnimeCard]:
    cards = []
    items = venz.css("li") or venz.css(".detpost")
    for item in items:
        card = _venz_card(item, reference)
        if card is not None:
            cards.append(card)
    return cards


_PAGE_NUMBER_RE = re.compile(r"\d{1,3}(?:[.,]\d{3})+|\d{1,7}")


def _page_number(text: str) -> int | None:
    """ "7" → 7, "1.234" / "1,234" (WordPress's thousands separators) → 1234."""
    match = _PAGE_NUMBER_RE.fullmatch(text)
    return int(match.group(0).replace(".", "").replace(",", "")) if match else None


def _pagination(root: LexborNode, url: str | None) -> tuple[int, int]:
    """(current page, last page) from the WordPress `.page-numbers` block, else the URL.

    The last page is the highest page any of its links or numbers names, the next link's
    included (a block showing only "« Sebelumnya" and "Berikutnya »" still says there is a
    page after this one)."""
    current = None
    numbers: list[int] = []
    for node in root.css(".pagination .page-numbers, .pagenavix .page-numbers"):
        classes = (node.attributes.get("class") or "").split()
        linked = page_from_url(attr(node, "href"))
        if linked is not None:
            numbers.append(linked)
        if "next" in classes or "prev" in classes:
            continue
        number = _page_number(node_text(node))
        if number is None:
            continue
        numbers.append(number)
        if "current" in classes:
            current = number
    if current is None:
        current = page_from_url(url) or 1
    return current, max([current, *numbers])


def parse_home(html: str, url: str = "") -> HomePage:
    page = load_page(html, "home", url)
    root = page.root
    reference = page_date(page)
    ongoing: list[AnimeCard] | None = None
    completed: list[AnimeCard] | None = None
    unlabelled: list[list[AnimeCard]] = []
    venzes = root.css(".venz") if root is not None else []
    for venz in venzes:
        block = venz.parent
        label = ""
        if block is not None:
            section_link = block.css_first('a[href*="-anime"]')
            label = " ".join(
                (attr(section_link, "href") or "", node_text(block.css_first("h1")))
            ).lower()
        cards = _venz_cards(venz, reference)
        if ongoing is None and ("ongoing" in label or "on-going" in label):
            ongoing = cards
        elif completed is None and "complete" in label:
            completed = cards
        else:
            unlabelled.append(cards)
    if not venzes:
        raise ParseError("home", url, "card lists (.venz)")
    # Only when a block carries no label at all fall back to the site's order
    # (on-going first, then complete).
    if ongoing is None and unlabelled:
        ongoing = unlabelled.pop(0)
    if completed is None and unlabelled:
        completed = unlabelled.pop(0)
    return HomePage(ongoing=ongoing or [], completed=completed or [])


def parse_list_page(html: str, url: str = "") -> ListPage:
    """`/ongoing-anime/` and `/complete-anime/` (and their `/page/N/`)."""
    page = load_page(html, "list", url)
    root = page.root
    venzes = root.css(".venz") if root is not None else []
    if not venzes:
        raise ParseError("list", url, "card list (.venz)")
    reference = page_date(page)
    cards = [card for venz in venzes for card in _venz_cards(venz, reference)]
    page, last_page = _pagination(root, url)
    return ListPage(cards=cards, page=page, last_page=last_page)


# --------------------------------------------------------------------------- genre page


_GENRE_CLASSES = frozenset(
    {
        "col-anime-title",
        "col-anime-studio",
        "col-anime-eps",
        "col-anime-rating",
        "col-anime-genre",
        "col-anime-cover",
        "col-synopsis",
        "col-anime-date",
    }
)


def _genre_card(item: LexborNode) -> AnimeCard | None:
    parts = scan(item, _GENRE_CLASSES)
    title_box = parts.get("col-anime-title")
    link = title_box.css_first("a[href]") if title_box is not None else None
    slug = _link_slug(link)
    if slug is None:
        slug, link = _anime_link(item, "a[href]")
    if slug is None or link is None:
        return None
    eps = node_text(parts.get("col-anime-eps")) or None
    synopsis_box = parts.get("col-synopsis")
    synopsis = None
    if synopsis_box is not None:
        synopsis = paragraphs_text(synopsis_box)
    genre_box = parts.get("col-anime-genre")
    return AnimeCard(
        slug=slug,
        title=node_text(link) or slug,
        poster_url=_poster(parts.get("col-anime-cover") or parts.get("<img>")),
        episode_label=eps,
        episode_number=parse_int(eps),
        score=parse_score(node_text(parts.get("col-anime-rating"))),
        season=node_text(parts.get("col-anime-date")) or None,
        studio=node_text(parts.get("col-anime-studio")) or None,
        genres=genre_refs(genre_box.css("a")) if genre_box is not None else [],
        synopsis=synopsis,
    )


def parse_genre_page(html: str, url: str = "") -> GenrePage:
    page = load_page(html, "genre", url)
    root = page.root
    items = root.css(".col-anime") if root is not None else []
    if not items:
        raise ParseError("genre", url, "anime cards (.col-anime)")
    cards = [card for card in (_genre_card(item) for item in items) if card is not None]
    heading = ""
    for h1 in root.css(".rvad h1, .page h1"):
        heading = node_text(h1)
        if heading:
            break
    name = re.sub(r"^Daftar Genre\s*", "", heading, flags=re.I).strip() or None
    page, last_page = _pagination(root, url)
    return GenrePage(
        genre_slug=slug_from_url(url) if url_kind(url) == "genres" else None,
        genre_name=name,
        cards=cards,
        page=page,
        last_page=last_page,
    )


# --------------------------------------------------------------------------- search


_NO_RESULTS_WORDS = ("pencarian", "search", "tidak ditemukan", "not found", "nothing found")


def _says_search(root: LexborNode | None) -> bool:
    """Whether a page without result list is still a search page: the site's content column,
    or a page whose own words say it is a search (with nothing found)."""
    if root is None:
        return False
    if root.css_first(".venser, .venutama") is not None:
        return True
    text = node_text(root)[:3000].lower()
    return any(word in text for word in _NO_RESULTS_WORDS)


def parse_search(html: str, url: str = "") -> SearchPage:
    page = load_page(html, "search", url)
    root = page.root
    lists = root.css("ul.chivsrc") if root is not None else []
    if not lists and not _says_search(root):
        raise ParseError("search", url, "result list (ul.chivsrc)")
    results = []
    for item in (li for ul in lists for li in ul.css("li")):
        # The heading link carries the title; a poster may be wrapped in a link of its own
        # (before or after the heading), so the heading is looked at first.
        slug, link = _anime_link(item, "h2 a[href]")
        if slug is None:
            slug, link = _anime_link(item, "a[href]")
        if slug is None or link is None or url_kind(attr(link, "href")) != "anime":
            continue  # the list may hold non-anime links such as /genres/action/
        title = strip_sub_suffix(re.sub(r"\s*\(Episode[^)]*\)", "", node_text(link)))
        if not title:
            title = strip_sub_suffix(
                clean(attr(link, "title") or attr(item.css_first("img"), "alt"))
            )
        status = score = None
        genres: list[GenreRef] = []
        for row in item.css(".set"):
            label_text = node_text(row.css_first("b, strong"))
            label = label_of(label_text)
            # The text after the label, without the colon (which may be missing).
            value = clean(row.text())
            if label_text and value.startswith(label_text):
                value = value[len(label_text) :]
            value = value.strip().lstrip(":\uff1a").strip()
            if label.startswith("genre"):
                genres = genre_refs(row.css("a"))
            elif label == "status":
                status = parse_status(value)
            elif label in ("rating", "skor", "score"):
                score = parse_score(value)
        results.append(
            AnimeCard(
                slug=slug,
                title=title or slug,
                poster_url=_poster(item),
                score=score,
                status=status,
                genres=genres,
            )
        )
    page, last_page = _pagination(root, url) if root is not None else (1, 1)
    return SearchPage(results=results, page=page, last_page=last_page)


# --------------------------------------------------------------------------- A–Z, genres, schedule


_MARKER_TAGS = frozenset({TAG_SPAN, tag_id("color")})
_MARKER_WORDS_RE = re.compile(r"(?:\s*\b(?:Movie|On-?Going|Completed?)\b)+\s*$", re.I)
_EPISODE_RANGE_RE = re.compile(r"\s*\(Episode[^)]*\)")


def _list_title(link: LexborNode) -> str:
    """An A–Z entry's title: the link's text without the coloured "Movie"/"On-Going" markers
    (spans inside a malformed `<color>` tag), else its `title` attribute."""
    title = own_text(link)
    if title:
        return title  # the usual entry: the title is the link's own text
    parts: list[str] = []
    stack = [link.iter(include_text=True)]
    while stack:
        node = next(stack[-1], None)
        if node is None:
            stack.pop()
        elif node.tag_id == TAG_TEXT:
            parts.append(node.text_content or "")
        elif node.tag_id not in _MARKER_TAGS and node.tag_id != TAG_COMMENT:
            stack.append(node.iter(include_text=True))
    title = clean("".join(parts))
    if title:
        return title
    return strip_sub_suffix(_EPISODE_RANGE_RE.sub("", clean(attr(link, "title")))) or (
        _MARKER_WORDS_RE.sub("", node_text(link))
    )


def parse_anime_list(html: str, url: str = "") -> AnimeList:
    page = load_page(html, "anime-list", url)
    root = page.root
    links = root.css("#abtext a[href], .jdlbar a[href], a.hodebgst") if root is not None else []
    anime: list[AnimeRef] = []
    seen: set[str] = set()
    for link in links:
        href = attr(link, "href")
        if url_kind(href) != "anime":
            continue
        slug = slug_from_url(href)
        if not slug or slug in seen:
            continue
        title = _list_title(link)
        seen.add(slug)
        anime.append(AnimeRef(slug=slug, title=title or slug))
    if not anime:
        raise ParseError("anime-list", url, "anime links (#abtext .jdlbar a)")
    return AnimeList(anime=anime)


def parse_genre_list(html: str, url: str = "") -> GenreList:
    page = load_page(html, "genre-list", url)
    root = page.root
    links = root.css("ul.genres a[href]") if root is not None else []
    genres: list[GenreRef] = []
    seen: set[str] = set()
    for link in links:
        href = attr(link, "href")
        slug = slug_from_url(href)
        name = node_text(link)
        if url_kind(href) == "genres" and slug and name and slug not in seen:
            seen.add(slug)
            genres.append(GenreRef(slug=slug, name=name))
    if not genres:
        raise ParseError("genre-list", url, "genre links (ul.genres a)")
    return GenreList(genres=genres)


def parse_schedule(html: str, url: str = "") -> SchedulePage:
    page = load_page(html, "schedule", url)
    root = page.root
    blocks = root.css(".kglist321") if root is not None else []
    days = []
    for block in blocks:
        day = node_text(block.css_first("h2, h3"))
        if not day:
            continue
        anime = []
        for link in block.css("li a[href]"):
            href = attr(link, "href")
            slug = slug_from_url(href)
            if slug and url_kind(href) in ("anime", None):
                anime.append(AnimeRef(slug=slug, title=node_text(link) or slug))
        days.append(ScheduleDay(day=day, anime=anime))
    if not days:
        raise ParseError("schedule", url, "day lists (.kglist321)")
    return SchedulePage(days=days)


__all__ = [
    "episode_number",
    "genre_refs",
    "parse_anime_list",
    "parse_genre_list",
    "parse_genre_page",
    "parse_home",
    "parse_list_page",
    "parse_schedule",
    "parse_search",
]
