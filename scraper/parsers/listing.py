"""Card and list pages: home, ongoing/completed lists, genre pages, search, A–Z list,
genre list and release schedule."""

from __future__ import annotations

import datetime
import re

from selectolax.lexbor import LexborNode

from .common import (
    ParseError,
    anime_slug,
    attr,
    load_document,
    media_src,
    node_text,
    own_text,
    page_date,
    page_from_url,
    paragraphs_text,
    slug_from_url,
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
from .values import (
    clean,
    first_number,
    label_of,
    parse_int,
    parse_score,
    parse_status,
    resolve_short_date,
    strip_sub_suffix,
)

WEEKDAYS = frozenset({"senin", "selasa", "rabu", "kamis", "jumat", "jum'at", "sabtu", "minggu"})
_SEASON_RE = re.compile(r"^(?:winter|spring|summer|fall|autumn)\s+\d{4}$", re.I)
_EPISODE_RANGE_RE = re.compile(r"\s*\(Episode[^)]*\)")


def _anime_link(node: LexborNode, selector: str) -> tuple[str | None, LexborNode | None]:
    """The first link under `node` (matching `selector`) that points at an anime page."""
    for link in node.css(selector):
        slug = anime_slug(link)
        if slug:
            return slug, link
    return None, None


def _card_link(item: LexborNode, box: str) -> tuple[str | None, LexborNode | None]:
    """A card's anime link: the one in its `box` (poster, title), else the first anime link."""
    box_node = item.css_first(box)
    link = box_node.css_first("a[href]") if box_node is not None else None
    slug = anime_slug(link)
    if slug is None:
        return _anime_link(item, "a[href]")
    return slug, link


def _poster(node: LexborNode | None) -> str | None:
    if node is not None and node.tag != "img":
        node = node.css_first("img")
    return media_src(node)


def genre_refs(links: list[LexborNode]) -> list[GenreRef]:
    refs = []
    for link in links:
        slug = slug_from_url(attr(link, "href"))
        name = node_text(link)
        if slug and name:
            refs.append(GenreRef(slug=slug, name=name))
    return refs


def _pagination(root: LexborNode, url: str | None) -> tuple[int, int]:
    """(current page, last page) from the WordPress `.page-numbers` block, else the URL.

    The last page is the highest page any of its links or numbers names, the next link's
    included (a block showing only "« Sebelumnya" and "Berikutnya »" still says there is a
    page after this one)."""
    current = None
    numbers: list[int] = []
    for node in root.css(".pagination .page-numbers, .pagenavix .page-numbers"):
        classes = (attr(node, "class") or "").split()
        linked = page_from_url(attr(node, "href"))
        if linked is not None:
            numbers.append(linked)
        number = _page_number(node_text(node))
        if number is None or "next" in classes or "prev" in classes:
            continue
        numbers.append(number)
        if "current" in classes:
            current = number
    if current is None:
        current = page_from_url(url) or 1
    return current, max([current, *numbers])


_PAGE_NUMBER_RE = re.compile(r"\d{1,3}(?:[.,]\d{3})+|\d{1,7}")


def _page_number(text: str) -> int | None:
    """ "7" → 7, "1.234" / "1,234" (WordPress's thousands separators) → 1234."""
    match = _PAGE_NUMBER_RE.fullmatch(text)
    return int(match.group(0).replace(".", "").replace(",", "")) if match else None


# --------------------------------------------------------------------------- .venz cards


def _venz_card(item: LexborNode, reference: datetime.date | None) -> AnimeCard | None:
    slug, link = _card_link(item, ".thumb")
    if slug is None or link is None:
        return None
    image = item.css_first("img")
    title = node_text(item.css_first(".jdlflm")) or strip_sub_suffix(
        _EPISODE_RANGE_RE.sub("", clean(attr(link, "title")))
    )
    if not title:
        title = strip_sub_suffix(clean(attr(image, "alt")))
    episode_label = node_text(item.css_first(".epz")) or None
    tipe = node_text(item.css_first(".epztipe"))
    # "Jum'at" is typeset with a curly apostrophe by WordPress (&#8217;).
    weekday = tipe.lower().replace("\u2019", "'")
    date_text = node_text(item.css_first(".newnime")) or None
    return AnimeCard(
        slug=slug,
        title=title or slug,
        poster_url=_poster(image),
        episode_label=episode_label,
        episode_number=first_number(episode_label),
        day=tipe if weekday in WEEKDAYS or weekday == "random" else None,
        score=parse_score(tipe),
        date=resolve_short_date(date_text, reference),
        date_text=date_text,
        season=tipe if _SEASON_RE.match(tipe) else None,
    )


def _venz_cards(venz: LexborNode, reference: datetime.date | None) -> list[AnimeCard]:
    items = venz.css("li") or venz.css(".detpost")
    cards = (_venz_card(item, reference) for item in items)
    return [card for card in cards if card is not None]


def _home_section(venz: LexborNode) -> str:
    """What a home card block's heading and "see all" link say it lists, lower-case."""
    block = venz.parent
    if block is None:
        return ""
    section_link = block.css_first('a[href*="-anime"]')
    return f"{attr(section_link, 'href') or ''} {node_text(block.css_first('h1'))}".lower()


def parse_home(html: str, url: str = "") -> HomePage:
    doc = load_document(html, "home", url)
    venzes = doc.root.css(".venz")
    if not venzes:
        raise ParseError("home", url, "card lists (.venz)")
    reference = page_date(doc)
    ongoing: list[AnimeCard] | None = None
    completed: list[AnimeCard] | None = None
    unlabelled: list[list[AnimeCard]] = []
    for venz in venzes:
        label = _home_section(venz)
        cards = _venz_cards(venz, reference)
        if ongoing is None and ("ongoing" in label or "on-going" in label):
            ongoing = cards
        elif completed is None and "complete" in label:
            completed = cards
        else:
            unlabelled.append(cards)
    # Only when a block carries no label at all fall back to the site's order
    # (on-going first, then complete).
    if ongoing is None and unlabelled:
        ongoing = unlabelled.pop(0)
    if completed is None and unlabelled:
        completed = unlabelled.pop(0)
    return HomePage(ongoing=ongoing or [], completed=completed or [])


def parse_list_page(html: str, url: str = "") -> ListPage:
    """`/ongoing-anime/` and `/complete-anime/` (and their `/page/N/`)."""
    doc = load_document(html, "list", url)
    venzes = doc.root.css(".venz")
    if not venzes:
        raise ParseError("list", url, "card list (.venz)")
    reference = page_date(doc)
    cards = [card for venz in venzes for card in _venz_cards(venz, reference)]
    page, last_page = _pagination(doc.root, url)
    return ListPage(cards=cards, page=page, last_page=last_page)


# --------------------------------------------------------------------------- genre page


def _genre_card(item: LexborNode) -> AnimeCard | None:
    slug, link = _card_link(item, ".col-anime-title")
    if slug is None or link is None:
        return None
    eps = node_text(item.css_first(".col-anime-eps")) or None
    synopsis_box = item.css_first(".col-synopsis")
    genre_box = item.css_first(".col-anime-genre")
    return AnimeCard(
        slug=slug,
        title=node_text(link) or slug,
        poster_url=_poster(item.css_first(".col-anime-cover") or item.css_first("img")),
        episode_label=eps,
        episode_number=parse_int(eps),
        score=parse_score(node_text(item.css_first(".col-anime-rating"))),
        season=node_text(item.css_first(".col-anime-date")) or None,
        studio=node_text(item.css_first(".col-anime-studio")) or None,
        genres=genre_refs(genre_box.css("a")) if genre_box is not None else [],
        synopsis=paragraphs_text(synopsis_box) if synopsis_box is not None else None,
    )


def parse_genre_page(html: str, url: str = "") -> GenrePage:
    doc = load_document(html, "genre", url)
    root = doc.root
    items = root.css(".col-anime")
    if not items:
        raise ParseError("genre", url, "anime cards (.col-anime)")
    cards = [card for card in (_genre_card(item) for item in items) if card is not None]
    heading = next((text for text in map(node_text, root.css(".rvad h1, .page h1")) if text), "")
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


def _says_search(root: LexborNode) -> bool:
    """Whether a page without result list is still a search page: the site's content column,
    or a page whose own words say it is a search (with nothing found)."""
    if root.css_first(".venser, .venutama") is not None:
        return True
    text = node_text(root)[:3000].lower()
    return any(word in text for word in _NO_RESULTS_WORDS)


def _search_rows(item: LexborNode) -> tuple[str | None, float | None, list[GenreRef]]:
    """(status, score, genres) of a result's `.set` rows ("Status: Ongoing"; the colon may be
    missing)."""
    status = score = None
    genres: list[GenreRef] = []
    for row in item.css(".set"):
        label_text = node_text(row.css_first("b, strong"))
        label = label_of(label_text)
        value = node_text(row)
        if label_text and value.startswith(label_text):
            value = value[len(label_text) :]
        value = value.strip().lstrip(":\uff1a").strip()
        if label.startswith("genre"):
            genres = genre_refs(row.css("a"))
        elif label == "status":
            status = parse_status(value)
        elif label in ("rating", "skor", "score"):
            score = parse_score(value)
    return status, score, genres


def _search_card(item: LexborNode) -> AnimeCard | None:
    # The heading link carries the title; a poster may be wrapped in a link of its own
    # (before or after the heading), so the heading is looked at first.
    slug, link = _anime_link(item, "h2 a[href]")
    if slug is None:
        slug, link = _anime_link(item, "a[href]")
    if slug is None or link is None or url_kind(attr(link, "href")) != "anime":
        return None  # the list may hold non-anime links such as /genres/action/
    title = strip_sub_suffix(_EPISODE_RANGE_RE.sub("", node_text(link)))
    if not title:
        title = strip_sub_suffix(clean(attr(link, "title") or attr(item.css_first("img"), "alt")))
    status, score, genres = _search_rows(item)
    return AnimeCard(
        slug=slug,
        title=title or slug,
        poster_url=_poster(item),
        score=score,
        status=status,
        genres=genres,
    )


def parse_search(html: str, url: str = "") -> SearchPage:
    doc = load_document(html, "search", url)
    root = doc.root
    lists = root.css("ul.chivsrc")
    if not lists and not _says_search(root):
        raise ParseError("search", url, "result list (ul.chivsrc)")
    cards = (_search_card(item) for ul in lists for item in ul.css("li"))
    results = [card for card in cards if card is not None]
    page, last_page = _pagination(root, url)
    return SearchPage(results=results, page=page, last_page=last_page)


# --------------------------------------------------------------------------- A–Z, genres, schedule


_MARKER_TAGS = frozenset(("span", "color", "-comment"))
_MARKER_WORDS_RE = re.compile(r"(?:\s*\b(?:Movie|On-?Going|Completed?)\b)+\s*$", re.I)


def _text_without_markers(link: LexborNode) -> str:
    """A link's text without what sits in `span`s (inside a malformed `<color>` tag)."""
    parts: list[str] = []
    stack = [link.iter(include_text=True)]  # mangled pages may nest deeply: no recursion
    while stack:
        node = next(stack[-1], None)
        if node is None:
            stack.pop()
        elif node.tag == "-text":
            parts.append(node.text_content or "")
        elif node.tag not in _MARKER_TAGS:
            stack.append(node.iter(include_text=True))
    return clean("".join(parts))


def _list_title(link: LexborNode) -> str:
    """An A–Z entry's title: the link's text without the coloured "Movie"/"On-Going" markers,
    else its `title` attribute."""
    title = own_text(link) or _text_without_markers(link)
    if title:
        return title
    return strip_sub_suffix(_EPISODE_RANGE_RE.sub("", clean(attr(link, "title")))) or (
        _MARKER_WORDS_RE.sub("", node_text(link))
    )


def parse_anime_list(html: str, url: str = "") -> AnimeList:
    doc = load_document(html, "anime-list", url)
    root = doc.root
    links = root.css("#abtext a[href], .jdlbar a[href], a.hodebgst")
    anime: list[AnimeRef] = []
    seen: set[str] = set()
    for link in links:
        href = attr(link, "href")
        slug = slug_from_url(href)
        if url_kind(href) == "anime" and slug and slug not in seen:
            seen.add(slug)
            anime.append(AnimeRef(slug=slug, title=_list_title(link) or slug))
    if not anime:
        raise ParseError("anime-list", url, "anime links (#abtext .jdlbar a)")
    return AnimeList(anime=anime)


def parse_genre_list(html: str, url: str = "") -> GenreList:
    doc = load_document(html, "genre-list", url)
    links = doc.root.css("ul.genres a[href]")
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
    doc = load_document(html, "schedule", url)
    blocks = doc.root.css(".kglist321")
    days = []
    for block in blocks:
        day = node_text(block.css_first("h2, h3"))
        if not day:
            continue
        anime = []
        for link in block.css("li a[href]"):
            slug = anime_slug(link)
            if slug:
                anime.append(AnimeRef(slug=slug, title=node_text(link) or slug))
        days.append(ScheduleDay(day=day, anime=anime))
    if not days:
        raise ParseError("schedule", url, "day lists (.kglist321)")
    return SchedulePage(days=days)
