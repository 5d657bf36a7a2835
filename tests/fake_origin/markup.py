# ruff: noqa: E501  (one-line HTML templates read better unbroken)
"""HTML renderers that reproduce otakudesu's ("Animestream" WordPress theme) markup.

Written from STRUCTURE.md and a study of the real pages: same element nesting, classes,
ids, ``<b>`` labels, quirks (a second ``.rseries`` nested in the first on the home page,
an unclosed ``ul.m720p``, a stray ``</span>`` in the episode info block, genre pages'
broken ``<h1>``), one-line minified HTML, upper-case ``<BODY>`` and the WP Rocket
``cached@`` comment after ``</html>``. All text is invented. Every link is absolute on the
base URL of the listener that serves the page (the real pages link absolutely to the
domain of the day) and no page references an outside host, so a browser that loads one
never leaves 127.0.0.1.

Renderers return ``None`` for things that do not exist (the server answers 404).
"""

from __future__ import annotations

import hashlib
import html
import re
import zlib
from collections.abc import Iterable

from .catalog import (
    SCHEDULE_DAYS,
    Anime,
    Catalog,
    Download,
    Episode,
    date_card_id,
    date_long_id,
    date_release_en,
    fmt_number,
)

SITE = "Otaku Desu"
LIST_PAGE_SIZE = 25  # /ongoing-anime/ and /complete-anime/ (counted on the real pages)
GENRE_PAGE_SIZE = 15  # /genres/<slug>/
HOME_ONGOING = 15
HOME_COMPLETE = 10


def e(text: object) -> str:
    return html.escape(str(text), quote=True)


def cached_at(cat: Catalog, key: str) -> int:
    """Stable WP Rocket stamp: a fixed "now" minus a per-page age, moved on by changes."""
    age = zlib.crc32(key.encode()) % 86_400
    return int(cat.now.timestamp()) + cat.clock_steps * 420 - age


def page(cat: Catalog, base: str, key: str, title: str, content: str, tail: str = "") -> str:
    """Wrap ``content`` (the inside of ``#venkonten``) in the site chrome."""
    b = e(base)
    head = (
        '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" '
        '"https://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">'
        '<html xmlns="https://www.w3.org/1999/xhtml" lang="id-ID"><head>'
        '<meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />'
        '<meta name="viewport" content="width=device-width, initial-scale=1.0" />'
        f'<link rel="stylesheet" type="text/css" href="{b}/wp-content/themes/Animestream/style.css" />'
        f'<script type="text/javascript" src="{b}/wp-includes/js/jquery/jquery.min.js"></script>'
        f"<title>{e(title)}</title>"
        f'<link rel="canonical" href="{b}{e(key)}" />'
        '<meta property="og:site_name" content="Otaku Desu" /></head>'
    )
    menu = (
        "<BODY><div class='wowmaskot'><div class='menux'><div class='center'>"
        '<ul id="menu-top-menu" class="menu">'
        '<li id="menu-item-31" class="menu-item menu-item-type-custom menu-item-31">'
        f'<a href="{b}/blog/panduan-unduh/" data-wpel-link="internal">Panduan Unduh</a></li>'
        '<li id="menu-item-32" class="menu-item menu-item-type-custom menu-item-32">'
        f'<a href="{b}/dmca/" data-wpel-link="internal">DMCA</a></li></ul>'
        "<div class='sip'><div class='surprise'>"
        f'<a href="{b}/blog/lapor/" data-wpel-link="internal">Lapor Tautan</a></div></div>'
        "</div></div>"
        f"<div id=\"header\"><div class='center'><div class='logo'><a href=\"{b}/\" "
        'target="_self" data-wpel-link="internal"><img class="aligncenter" '
        f'src="{b}/wp-content/uploads/2019/08/logo-desu.png"></a></div></div></div>'
        "<div class='clear'></div>"
        "<div id=\"menu\"><div class='center'>"
        '<div id="cssmenu" class="menu-home-container"><ul id="menu-home" class="menu">'
        f'<li class="menu-item"><a href="{b}" data-wpel-link="internal"><span>Home</span></a></li>'
        f'<li class="menu-item"><a href="/anime-list/" data-wpel-link="internal"><span>Anime List</span></a></li>'
        f'<li class="menu-item"><a href="/jadwal-rilis/" data-wpel-link="internal"><span>Jadwal Rilis</span></a></li>'
        f'<li class="menu-item"><a href="/ongoing-anime/" data-wpel-link="internal"><span>On-Going Anime</span></a></li>'
        f'<li class="menu-item"><a href="/genre-list/" data-wpel-link="internal"><span>Genre List</span></a></li>'
        "</ul></div> <div class='search'>"
        f'<form id="form" method="get" action="{b}"><fieldset>'
        '<input id="s" type="text" placeholder="Cari anime ..." name="s"/>'
        '<input type="hidden" name="post_type" value="anime" /></fieldset></form></div>'
        "</div></div>"
    )
    foot = (
        '<footer id="footer"><div id="footzer"><div class="center">'
        '<div class="stbwid footer-sidebar1"><h3>Tentang</h3><div class="textwidget">'
        "<p>Situs tiruan untuk pengujian: semua judul di sini karangan belaka.</p></div></div>"
        '<div class="stbwid footer-sidebar2"></div><div class="stbwid footer-sidebar3"></div>'
        '</div></div></footer><div id="credit">Fake Origin &#8211; Otaku Desu tiruan.</div>'
        '<div id="lightsoff"></div>'
    )
    stamp = cached_at(cat, key)
    return (
        f'{head}{menu}<div id="venkonten">{content}</div>{foot}{tail}\n</BODY></html>\n'
        "<!-- Served from the fake origin's WP Rocket style page cache - Debug: "
        f"cached@{stamp} -->"
    )


SIDEBAR = (
    '<div id="sidebar"><div class="section"><div class="area"><h3>Ikuti kami</h3>'
    '<div class="textwidget"><p>Tidak ada iklan di sini.</p></div></div></div></div>'
)


def anime_url(base: str, slug: str) -> str:
    return f"{base}/anime/{slug}/"


def poster(base: str, anime: Anime) -> str:
    return e(base + anime.poster_path)


def genre_links(base: str, anime: Anime) -> str:
    return ", ".join(
        f'<a href="{e(base)}/genres/{g.slug}/" rel="tag" data-wpel-link="internal">{e(g.name)}</a>'
        for g in anime.genres
    )


# --- shared card (home, ongoing, complete) -------------------------------------------
def card(base: str, anime: Anime) -> str:
    latest = anime.latest_episode
    assert latest is not None  # only anime with episodes are listed
    if anime.is_ongoing:
        epz = f'<span class="dashicons dashicons-desktop"></span> {e(latest.label)}'
        tipe = anime.release_day
        title_attr = ""
    else:
        epz = f'<span class="dashicons dashicons-desktop"></span>{anime.total_text} Episode'
        tipe = anime.score_text or anime.season
        last = sum(1 for x in anime.episodes if x.number is not None)
        title_attr = f"{e(anime.title)} (Episode 1 &#8211; {last}) Subtitle Indonesia"
    return (
        "<li><div class='detpost'>"
        f"<div class='epz'>{epz}</div>"
        f"<div class='epztipe'><i class='fa fa-star'></i> {e(tipe)}</div>"
        f'<div class="newnime">{date_card_id(latest.published)}</div>'
        f'<div class="thumb"><a href="{e(anime_url(base, anime.slug))}" '
        f'title="{title_attr}" data-wpel-link="internal">'
        "<span class='overlay flaticon-play-button'></span><div class=\"thumbz\">"
        f'<img width="106" height="150" src="{poster(base, anime)}" '
        'class="attachment-thumb size-thumb wp-post-image" '
        f'alt="{e(anime.title)} Sub Indo" loading="lazy" />'
        f'<h2 class="jdlflm">{e(anime.title)}</h2></div></a></div></div></li>'
    )


def pagination(base_path: str, current: int, total: int, *, genre: bool) -> str:
    """WordPress ``paginate_links`` (end_size 1, mid_size 2) in the theme's wrappers."""
    if total <= 1:
        return ""

    def href(n: int) -> str:
        if n == 1 and not genre:
            return base_path
        return f"{base_path}page/{n}/"

    parts = ["<span>Pages</span>"]
    if current > 1:
        parts.append(
            f'<a class="prev page-numbers" href="{e(href(current - 1))}" '
            'data-wpel-link="internal">&laquo; Sebelumnya</a>'
        )
    dots = False
    for n in range(1, total + 1):
        if n == current:
            parts.append(f'<span aria-current="page" class="page-numbers current">{n}</span>')
            dots = False
        elif n <= 1 or n > total - 1 or current - 2 <= n <= current + 2:
            parts.append(
                f'<a class="page-numbers" href="{e(href(n))}" data-wpel-link="internal">{n}</a>'
            )
            dots = False
        elif not dots:
            parts.append('<span class="page-numbers dots">&hellip;</span>')
            dots = True
    if current < total:
        parts.append(
            f'<a class="next page-numbers" href="{e(href(current + 1))}" '
            'data-wpel-link="internal">Berikutnya &raquo;</a>'
        )
    inner = "".join(parts)
    if genre:
        return f'<div class="pagination"> <div class="pagipagi"><div class="pagenavix">{inner} </div></div></div>'
    return f'<div class="pagination"><div class="pagenavix">{inner}</div></div>'


def _pages(count: int, size: int) -> int:
    return max(1, -(-count // size))


# --- pages ---------------------------------------------------------------------------
def render_home(cat: Catalog, base: str) -> str:
    b = e(base)
    ongoing = "".join(card(base, a) for a in cat.ongoing()[:HOME_ONGOING])
    complete = "".join(card(base, a) for a in cat.completed()[:HOME_COMPLETE])
    content = (
        "<div class='vezone'><div class=\"venser\"><div class='venutama'>"
        '<div class="rseries"><div class="rapi">'
        '<div class="infoupdate">Ini origin tiruan untuk pengujian; semua isi karangan.</div>'
        f'<a href="{b}/ongoing-anime/" target="_blank" data-wpel-link="internal">'
        "<div id='rvod' class='rvad'><h1>On-going Anime</h1>"
        "<div class='iconf'>Lihat semua yang sedang tayang</div></div></a>"
        f'<div class="venz"><ul>{ongoing}</ul></div></div>'
        "<div class=\"clear\"></div><div style='margin-top:10px;'></div>"
        '<div class="rseries"><div class="rapi">'
        f'<a href="{b}/complete-anime/" target="_blank" data-wpel-link="internal">'
        "<div id='rvod' class='rvad'><h1>Complete Anime</h1>"
        "<div class='iconf'>Lihat semua yang sudah tamat</div></div></a>"
        f'<div class="venz"><ul>{complete}</ul></div><div class="clear"></div>'
        f"</div></div></div></div></div>{SIDEBAR}</div></div>"
    )
    return page(cat, base, "/", f"{SITE} | Nonton Anime Tiruan Subtitle Indonesia", content)


def render_list(cat: Catalog, base: str, which: str, page_no: int) -> str | None:
    items = cat.ongoing() if which == "ongoing" else cat.completed()
    total = _pages(len(items), LIST_PAGE_SIZE)
    if not 1 <= page_no <= total:
        return None
    chunk = items[(page_no - 1) * LIST_PAGE_SIZE : page_no * LIST_PAGE_SIZE]
    path = f"/{which if which == 'ongoing' else 'complete'}-anime/"
    heading = "List &amp; Jadwal Anime Ongoing" if which == "ongoing" else "List Anime Complete"
    content = (
        "<div class='vezone'><div class=\"venser\"><div class='venutama'>"
        '<div class="rseries"><div class="rapi">'
        f"<div id='rvod' class='rvad'><h1>{heading}</h1><div class='iconf'>Terbaru</div></div>"
        f'<div class="venz"><ul>{"".join(card(base, a) for a in chunk)}</ul></div>'
        '<div class="clear"></div></div></div>'
        f"{pagination(base + path, page_no, total, genre=False)} </div>"
        f'<div class="clear"></div></div>{SIDEBAR}</div></div>'
    )
    suffix = f" | Laman {page_no} dari {total}" if page_no > 1 else ""
    label = "Ongoing Anime" if which == "ongoing" else "Complete Anime"
    key = path if page_no == 1 else f"{path}page/{page_no}/"
    return page(cat, base, key, f"{label}{suffix} | {SITE}", content)


def _list_marker(anime: Anime) -> str:
    movie = "Movie" if anime.type == "Movie" else ""
    going = "On-Going" if anime.is_ongoing else ""
    # The real list carries this malformed "<color" marker after every title.
    return (
        f' <color <span style="color: #5a5aff;">{movie}</span>'
        f'<span style="color: #53eb53;">{going}</span>'
    )


def _letter(title: str) -> str:
    first = title[:1].upper()
    # PHP's byte-wise substr breaks multi-byte first letters into U+FFFD on the real page.
    return first if first.isascii() else "\ufffd"


def render_anime_list(cat: Catalog, base: str) -> str:
    groups: list[tuple[str, list[Anime]]] = []
    for anime in cat.alphabetical():
        letter = _letter(anime.title)
        if not groups or groups[-1][0] != letter:
            groups.append((letter, []))
        groups[-1][1].append(anime)
    index = " ".join(
        f'<a href="#{"%23" if c == "#" else c}">{c}</a>' for c in "#ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    )
    body = []
    for letter, items in groups:
        rows = []
        for a in items:
            if a.is_ongoing:
                title_attr = f"{a.title} Sub Indo"
            else:
                last = sum(1 for x in a.episodes if x.number is not None)
                title_attr = f"{a.title} (Episode 1 \u2013 {last}) Subtitle Indonesia"
            rows.append(
                "<div class='penzbar'> <div class=\"jdlbar\"><ul>"
                "<li style='display: list-item;color:#333;list-style-type: disc;'> "
                f'<a class="hodebgst" rel="bookmark" href="{e(anime_url(base, a.slug))}" '
                f'title="{e(title_attr)}" data-wpel-link="internal">{e(a.title)}'
                f"{_list_marker(a)}</a></li></ul></div> </div>"
            )
        body.append(
            f"<div class='bariskelom'><div class='barispenz'><a name='{e(letter)}'>{e(letter)}</a>"
            f"</div><div class='penzbar'></div>{''.join(rows)}<div class='clear'></div></div>"
        )
    content = (
        '<div class=\'vezone\'><div class="venser" style="width:99%;">'
        "<div class='rvad'><h1>Anime List</h1></div>"
        f'<div class="daftarkartun"> <div class="abjtext"> {index}<div class="clear"></div></div>'
        f' <div id="abtext"> {"".join(body)} <div class="navigation"> '
        '<div class="alignleft"></div> <div class="alignright"></div> </div> </div> </div> '
        "</div></div>"
    )
    return page(cat, base, "/anime-list/", f"Daftar Anime | {SITE}", content)


def render_genre_list(cat: Catalog, base: str) -> str:
    links = "".join(
        f'<a href="/genres/{g.slug}/" title="View all posts in {e(g.name)}" '
        f'data-wpel-link="internal">{e(g.name)}</a>'
        for g in cat.genres
        if g.listed
    )
    content = (
        "<div class='vezone'><div class=\"venser\"><div class='rvad'><h1>Genre List</h1></div>"
        f'<ul class="genres"><li>{links}</li></ul></div>{SIDEBAR}</div>'
    )
    return page(cat, base, "/genre-list/", f"Genre List | {SITE}", content)


def render_genre(cat: Catalog, base: str, slug: str, page_no: int) -> str | None:
    genre = cat.genre(slug)
    if genre is None:
        return None
    items = cat.in_genre(slug)
    total = _pages(len(items), GENRE_PAGE_SIZE)
    if not 1 <= page_no <= total:
        return None
    chunk = items[(page_no - 1) * GENRE_PAGE_SIZE : page_no * GENRE_PAGE_SIZE]
    cards = []
    for a in chunk:
        url = e(anime_url(base, a.slug))
        synopsis = "".join(f"<p>{e(p)}</p>" for p in a.synopsis)
        cards.append(
            '<div class="col-md-4 col-anime-con genre_1 genre_5 genre_8 "><div class="col-anime">'
            f'<div class="col-anime-title"><a href="{url}" title="{url}" '
            f'data-wpel-link="internal">{e(a.title)}</a></div>'
            f'<div class="col-anime-studio">{e(", ".join(a.studios))}</div>'
            f'<div class="col-anime-eps">{a.total_text} Eps</div>'
            f'<div class="col-anime-rating">{a.score_text}</div>'
            f'<div class="col-anime-genre"> {genre_links(base, a)}</div>'
            f'<div class="col-anime-cover"><img src="{poster(base, a)}" '
            'alt="Judul Lain Subtitle Indonesia" /></div>'
            f'<div class="col-synopsis"><p>{synopsis}</p></div>'
            f'<div class="col-anime-date">{a.season}</div>'
            f'<div class="col-anime-trailer"><a href="{url}" data-wpel-link="internal"> Download</a>'
            "</div></div></div> "
        )
    content = (
        '<div class=\'vezone\'><div class="venser"><div class="page">'
        f"<div class='rvad'><h1><i class=\"fa fa-search\"></i> Daftar Genre {e(genre.name)}<h1> </div>"
        f'{"".join(cards)} <div class="clear"></div> '
        f"{pagination(f'{base}/genres/{slug}/', page_no, total, genre=True)}"
        "</div></div></div>"
    )
    suffix = f" | Laman {page_no} dari {total}" if page_no > 1 else ""
    key = f"/genres/{slug}/" if page_no == 1 else f"/genres/{slug}/page/{page_no}/"
    return page(cat, base, key, f"{genre.name} Archives{suffix} | {SITE}", content)


def render_schedule(cat: Catalog, base: str) -> str:
    days = cat.schedule()
    blocks = []
    for day in SCHEDULE_DAYS:
        lis = "".join(
            f'<li><a href="{e(anime_url(base, a.slug))}" title="{e(anime_url(base, a.slug))}" '
            f'data-wpel-link="internal">{e(a.title)}</a></li>'
            for a in days[day]
        )
        blocks.append(f'<div class="kglist321"><h2>{day}</h2><ul>{lis}</ul></div> ')
    content = (
        '<div class=\'vezone\'><div class="venutama"><div class="page">'
        "<div class='jdlpot'><h1>Jadwal Rilis Anime On-Going</h1></div>"
        '<div class="kgjdwl321"><h1>Jadwal Rilis</h1>'
        "<center>Catatan: jadwal tiruan, bisa berubah kapan saja</center>"
        f"{''.join(blocks)}</div></div></div></div>"
    )
    return page(cat, base, "/jadwal-rilis/", f"Jadwal Rilis Anime On-Going | {SITE}", content)


def render_search(cat: Catalog, base: str, query: str) -> str:
    items = []
    for a in cat.search(query):
        items.append(
            "<li style='list-style:none;'>"
            f'<img width="150" height="210" src="{poster(base, a)}" '
            f'class="attachment-post-thumbnail size-post-thumbnail wp-post-image" alt="{e(a.title)}" />'
            f'<h2><a href="{e(anime_url(base, a.slug))}" data-wpel-link="internal">'
            f"{e(a.title)} Subtitle Indonesia</a></h2>"
            f'<div class="set"><b>Genres</b> : {genre_links(base, a)}</div>'
            f'<div class="set"><b>Status</b> : {a.status}</div>'
            f'<div class="set"><b>Rating</b> : {a.score_text}</div></li>'
        )
    # Real results can include non-anime posts (a genre archive): crawlers must filter.
    q = query.strip().casefold()
    for g in cat.genres:
        if q and q == g.name.casefold():
            items.append(
                "<li style='list-style:none;'>"
                f'<h2><a href="{e(base)}/genres/{g.slug}/" data-wpel-link="internal">'
                f"{e(g.name)}</a></h2></li>"
            )
    content = (
        '<div class=\'vezone\'><div class="venser"><div class="venutama"><div class="page">'
        f"<div class='rvad'><h1>Hasil pencarian: {e(query)}</h1></div>"
        f'<ul class="chivsrc">{"".join(items)}</ul></div></div></div>{SIDEBAR}</div>'
    )
    return page(cat, base, f"/?s={query}", f"Search Results for “{query}” | {SITE}", content)


def _episode_li(url: str, text: str, when: str) -> str:
    return (
        f'<li><span><a href="{e(url)}" target="_blank" rel="nofollow" '
        f'data-wpel-link="internal">{e(text)}</a></span>'
        f"<span class='zeebr' style='float:right'>{when}</span></li>"
    )


def _smoke(text: str, sub: str = "") -> str:
    extra = f' <span style="color: #000000;">{sub}</span>' if sub else ""
    return f'<div class="smokelister"><span class="monktit">{e(text)}{extra}</span></div>'


def render_anime(cat: Catalog, base: str, slug: str) -> str | None:
    a = cat.anime.get(slug)
    if a is None:
        return None
    rows = (
        ("Judul", e(a.title)),
        ("Japanese", e(a.japanese)),
        ("Skor", a.score_text),
        ("Produser", e(", ".join(a.producers))),
        ("Tipe", a.type),
        ("Status", a.status),
        ("Total Episode", a.total_text),
        ("Durasi", e(a.duration)),
        ("Tanggal Rilis", date_release_en(a.release_date)),
        ("Studio", e(", ".join(a.studios))),
        ("Genre", genre_links(base, a)),
    )
    info = "".join(f"<p><span><b>{label}</b>: {value}</span></p>" for label, value in rows)
    synopsis = "".join(f"<p>{e(p)}</p>" for p in a.synopsis)
    batch = (
        _episode_li(f"{base}/batch/{a.batch.slug}/", a.batch.title, date_long_id(a.batch.published))
        if a.batch
        else ""
    )
    lengkap = (
        _episode_li(
            f"{base}/lengkap/{a.lengkap.slug}/", a.lengkap.title, date_long_id(a.lengkap.published)
        )
        if a.lengkap
        else ""
    )
    episodes = "".join(
        _episode_li(f"{base}/episode/{ep.slug}/", ep.title, date_long_id(ep.published))
        for ep in a.episodes
    )
    recommend = "".join(
        '<div class="isi-konten"><div class="gambar-konten"><div class="isi-anime">'
        f'<a href="{e(anime_url(base, r.slug))}" data-wpel-link="internal">'
        f'<img src="{poster(base, r)}"/></a><span class="judul-anime">'
        f'<a href="{e(anime_url(base, r.slug))}" data-wpel-link="internal">{e(r.title)}</a>'
        "</span></div></div></div>"
        for r in cat.completed()[:5]
        if r.slug != a.slug
    )
    t = e(a.title)
    content = (
        "<div class='vezone'></div><div class=\"venser\">"
        f"<div class='jdlrx'><h1>{t} Subtitle Indonesia <span style='float:right;font-size:12px'>"
        "<i class='fa fa-eye'></i></span></h1></div>"
        f'<div class="subheading" itemprop="mainEntityOfPage"><h2 itemprop="name">Nonton {t} Sub Indo</h2></div>'
        "<div class='fotoanime' style='overflow:inherit !important;'>"
        f'<img width="400" height="566" src="{poster(base, a)}" '
        'class="attachment-post-thumbnail size-post-thumbnail wp-post-image" '
        f'alt="{t} Sub Indo" loading="lazy" />'
        f'<div class="infozin"><div class="infozingle">{info}</div></div>'
        f"<div class='sinopc'>{synopsis}</div></div><div class='clear'></div>"
        f'<div id="serieslist"></div><div class="episodelist">{_smoke(a.title + " Batch")}<ul>{batch}</ul></div>'
        '<div id="serieslist"></div><div class="episodelist">'
        f"{_smoke(a.title + ' Episode List', '(Link Download Episode + Streaming)')}"
        f"<ul>{episodes}</ul></div>"
        '<div id="serieslist"></div><div class="episodelist">'
        f"{_smoke(a.title + ' Lengkap', '(Link Download Episode + Batch)')}<ul>{lengkap}</ul></div>"
        f'<div class="keyword"><div class="keying">Nonton {t} Sub Indo, unduh {t}</div></div>'
        '<div class="alert alert-info"><b>Bantuan :</b>'
        "<li>Kalau satu mirror mati, coba mirror lain.</li></div>"
        f'<div class="subheading" itemprop="mainEntityOfPage"><h2 itemprop="name">Bagikan {t} ya.</h2></div>'
        '<div class="sharing"><ul></ul></div><div class="clear"></div>'
        '<div id="recommend-anime-series"><div class="judul-recommend-anime-series">'
        '<h3 class="judul-konten">Rekomendasi Anime Lainnya</h3></div>'
        f'<div class="isi-recommend-anime-series">{recommend}</div></div>'
        '<div id="otakudesu-comments"> <div class="comments-block"></div></div>'
        f'</div><div id="sidebar"></div></div>'
    )
    return page(cat, base, f"/anime/{slug}/", f"{a.title} Subtitle Indonesia | {SITE}", content)


def _clock(ep: Episode) -> str:
    hour = ep.published.hour % 12 or 12
    return f"{hour}:{ep.published.minute:02d} {'am' if ep.published.hour < 12 else 'pm'}"


def _download_rows(rows: Iterable[Download], upper: bool = False) -> str:
    grouped: dict[tuple[str, str], list[Download]] = {}
    for d in rows:
        grouped.setdefault((d.format, d.quality), []).append(d)
    out = []
    for (fmt, quality), links in grouped.items():
        label = f"{quality} {fmt}" if upper else f"{fmt} {quality}"
        anchors = " ".join(
            f'<a href="{e(d.url)}" data-wpel-link="external" target="_blank" '
            f'rel="nofollow external noopener noreferrer">{e(d.provider)}</a>'
            for d in links
        )
        out.append(f"<li><strong>{label}</strong> {anchors} <i>{e(links[0].size)}</i></li>")
    return "".join(out)


def mirror_script(base: str, embed_action: str, nonce_action: str) -> str:
    """The inline mirror switcher: embed action first, nonce action second (as on the site)."""
    url = f"{base}/wp-admin/admin-ajax.php"
    return (
        '<script>window.__x__nonce=null,$(\'.mirrorstream a[href^="#"]\').on("click",'
        "function(ev){ev.preventDefault();"
        "var tok=JSON.parse(atob(ev.currentTarget.dataset.content));"
        'var show=function(r){document.getElementById("pembed").innerHTML=atob(r.data)};'
        f'var ask=function(n){{$.ajax("{url}",{{method:"POST",processData:!0,cache:!0,'
        f'data:$.extend({{}},tok,{{nonce:n,action:"{embed_action}"}})}}).done(show)}};'
        "if(window.__x__nonce){ask(window.__x__nonce)}else{"
        f'$.ajax("{url}",{{method:"POST",processData:!0,cache:!0,data:{{action:"{nonce_action}"}}}})'
        ".done(function(r){window.__x__nonce=r.data;ask(r.data)})}});</script>"
    )


def render_episode(
    cat: Catalog, base: str, slug: str, embed_action: str, nonce_action: str
) -> str | None:
    ep = cat.episodes.get(slug)
    if ep is None:
        return None
    a = cat.anime_of(ep)
    b = e(base)
    pos = a.episodes.index(ep)
    newer = a.episodes[pos - 1] if pos > 0 else None
    older = a.episodes[pos + 1] if pos + 1 < len(a.episodes) else None
    nav = ""
    if older:
        nav += (
            f'<a href="{b}/episode/{older.slug}/" title="Episode Sebelumnya" '
            'data-wpel-link="internal">Previous Eps.</a>'
        )
    nav += (
        f'<a href="{e(anime_url(base, a.slug))}" rel="follow" data-wpel-link="internal">'
        "See All Episodes</a>"
    )
    if newer:
        nav += (
            f'<a href="{b}/episode/{newer.slug}/" title="Episode Selanjutnya" '
            'data-wpel-link="internal">Next Eps.</a>'
        )
    options = "".join(
        f'<option value="{b}/episode/{x.slug}/" rel="nofollow">{e(x.label)}</option>'
        for x in a.episodes
    )
    mirror_lists = []
    for q in ("360p", "480p", "720p"):
        lis = []
        for m in (m for m in ep.mirrors if m.quality == q):
            default = ' data-default="true"' if m.is_default else ""
            name = m.provider + (" " if q == "720p" else "")  # real 720p names end in a space
            lis.append(f'<li><a href="#" data-content="{ep.token(m)}"{default}>{e(name)}</a></li>')
        style = ' style="width:30%"' if q == "360p" else ""
        close = "" if q == "720p" else "</ul>"  # the real ul.m720p is never closed
        sep = "" if q == "360p" else " "
        mirror_lists.append(
            f'<ul class="m{q}"{style}><span class="dashicons dashicons-desktop"></span> '
            f"Mirror {q}{sep.join(lis)}{close}"
        )
    mp4 = _download_rows(d for d in ep.downloads if d.format.lower() == "mp4")
    mkv = _download_rows(d for d in ep.downloads if d.format.lower() == "mkv")
    keying = "".join(
        f'<li><a href="{b}/episode/{x.slug}/" rel="nofollow" data-wpel-link="internal">'
        f"{e(x.label)}</a></li>"
        for x in a.episodes
    )
    t = e(ep.title)
    content = (
        '<div class=\'vezone\'></div><div class="venser"><div class="venutama">'
        f'<h1 class="posttl">{t}</h1>'
        f"<div class='kategoz'><i class='fa fa-user'></i> <span>Posted by {e(ep.posted_by)}</span> "
        f"<i class='fa fa-clock-o'></i> <span>Release on {_clock(ep)}</span> "
        "<i class='fa fa-eye'></i></div>"
        "<div class='prevnext'><div class='fleft'>"
        '<select name="episode" id="selectcog" '
        "onchange=\"window.open(this.options[this.selectedIndex].value,'_self')\">"
        f'<option value="0">Pilih Episode Lainnya</option>{options}</select></div>'
        f"<div class='flir'>{nav}</div></div><div class='clear'></div>"
        '<div id="lightsVideo"><div id="overplay" style="position: absolute; z-index: 1000; '
        'width: 100%; height: 100%;"><div class="chain" style="width: 70%;margin: auto;" '
        'align="center"><div class id="close-button2" '
        "onclick=\"document.getElementById('overplay').style.display = 'none';\" "
        'style="cursor: pointer;">Tutup</div></div></div>'
        '<div id="embed_holder"><div class="player-embed" id="pembed">'
        f'<div class="responsive-embed-stream"><iframe src="{e(ep.default_embed)}" '
        'WIDTH="420" HEIGHT="370" allowfullscreen="true" webkitallowfullscreen="true" '
        'mozallowfullscreen="true"></iframe></div></div>'
        "<div id='switch'><span class='lightSwitcher' id='checkbox'>"
        '<a href="javascript:void(0);" type="checkbox" data-wpel-link="internal">Cinema Off</a>'
        "</span></div></div></div><br>"
        '<div class="mirrorstream" style="width:100%;margin-bottom:10px">'
        f"{''.join(mirror_lists)} </div></div>"
        f'<div class="iklanpost"><a href="{b}/blog/pasang-iklan/" data-wpel-link="internal">'
        "Ruang iklan kosong</a></div>"
        '<div class="tambahan"><ul><span class="fa fa-file-video-o"></span> '
        "Mirror mati? Pakai mirror lain.</ul></div><div class='clear'></div>"
        f'<div class="subheading" itemprop="mainEntityOfPage"><h2 itemprop="name">Unduh {t}</h2></div>'
        f'<div class="download"> <h4>{t} &#8211; [{e(ep.credit)}]</h4><ul>{mp4}</ul><ul>{mkv}</ul></div>'
        "</div>"
        f'<div class="keyword"><div class="keying">Nonton {t}</div></div>'
        '<div class="likekami" style="text-align: center;"><em><b>Mampir lagi ya.</b></em></div>'
        '<div class="clear"></div><div class="alert alert-info"><b>Bantuan :</b>'
        f'<li><a href="{e(anime_url(base, a.slug))}" rel="follow" data-wpel-link="internal">'
        f"Episode lain dari <b>{e(a.title)}</b></a></li></div>"
        f"<h2 class='infozw'>Info {e(a.title)} Subtitle Indonesia</h2>"
        f'<div class="cukder"><img width="225" height="318" src="{poster(base, a)}" '
        'class="attachment-post-thumbnail size-post-thumbnail wp-post-image" '
        f'alt="{e(a.title)} Sub Indo" loading="lazy" />'
        '<div class="infozin"><div class="infozingle">'
        f"<p><span><b>Credit</b>: {e(ep.credit)}</span></p>"
        "<p><span><b>Encoder</b>: Otakudesu</span></p>"
        # Genres has no <span> but a stray </span>, exactly the real block's shape.
        f"<p><b>Genres</b>: {genre_links(base, a)}</span></p>"
        f"<p><span><b>Duration</b>: {e(a.duration)}</span></p>"
        f"<p><span><b>Tipe</b>: {a.type}</span></p></div></div>"
        f'<div class="judul-recommend-anime-series"><div class="keyingpost">{keying}</div></div></div>'
        "<div style='margin-top:10px;'></div><div class=\"clear\"></div>"
        '<div id="otakudesu-comments"> <div class="comments-block"></div></div>'
        '</div><div id="sidebar"></div></div>'
    )
    return page(
        cat,
        base,
        f"/episode/{slug}/",
        f"{ep.title} | {SITE}",
        content,
        tail=mirror_script(base, embed_action, nonce_action),
    )


def _infos(base: str, a: Anime, credit: str) -> str:
    first = a.episodes[-1].published.date() if a.episodes else a.release_date
    last = a.episodes[0].published.date() if a.episodes else a.release_date
    rows = (
        ("Judul", e(a.title)),
        ("Japanese", e(a.japanese)),
        ("Type", a.type),
        ("Episodes", a.total_text),
        ("Rating", a.score_text),
        ("Genres", genre_links(base, a)),
        ("Duration", e(a.duration)),
        ("Studios", e(", ".join(a.studios))),
        ("Producers", e(", ".join(a.producers))),
        ("Aired", f"{date_release_en(first)} to {date_release_en(last)}"),
        ("Credit", e(credit)),
    )
    return "".join(f"<b>{label}</b>: {value}<br>" for label, value in rows)


def render_batch(cat: Catalog, base: str, slug: str) -> str | None:
    a = cat.batch(slug)
    if a is None or a.batch is None:
        return None
    t = e(a.batch.title)
    credit = a.episodes[0].credit if a.episodes else "Otakudesu"
    content = (
        "<div class='vezone'></div><div class=\"venser\">"
        f"<div class='jdlrx'><h1>{t}</h1></div>"
        f'<div class="animeinfo"><div class="imganime"><img src="{poster(base, a)}" '
        f'class="wp-post-image" alt="{e(a.title)}" /></div>'
        f'<div class="data"><div class="infos">{_infos(base, a, credit)}</div></div></div>'
        f'<div class="totalepisode"><a href="{e(anime_url(base, a.slug))}" '
        f'data-wpel-link="internal">Lihat semua episode {e(a.title)}</a></div>'
        '<div class="download2"><div class="batchlink">'
        f"<h4>{t}</h4><ul>{_download_rows(a.batch.downloads, upper=True)}</ul></div></div>"
        '</div><div id="sidebar"></div>'
    )
    return page(cat, base, f"/batch/{slug}/", f"{a.batch.title} | {SITE}", content)


def render_lengkap(cat: Catalog, base: str, slug: str) -> str | None:
    a = cat.lengkap(slug)
    if a is None or a.lengkap is None:
        return None
    pairs = [
        f"<h4>{e(ep.title)}</h4><ul>{_download_rows(ep.downloads)}</ul>"
        for ep in reversed(a.episodes)
    ]
    if a.batch:
        pairs.append(
            f"<h4>{e(a.batch.title)}</h4><ul>{_download_rows(a.batch.downloads, upper=True)}</ul>"
        )
    t = e(a.lengkap.title)
    content = (
        '<div class=\'vezone\'></div><div class="venser"><div class="venutama">'
        f'<h1 class="posttl">{t}</h1>'
        f'<div class="download">{"".join(pairs)}</div>'
        f'<div class="alert alert-info"><li><a href="{e(anime_url(base, a.slug))}" '
        f'rel="follow" data-wpel-link="internal">{e(a.title)}</a></li></div>'
        '</div></div><div id="sidebar"></div>'
    )
    return page(cat, base, f"/lengkap/{slug}/", f"{a.lengkap.title} | {SITE}", content)


def render_not_found(cat: Catalog, base: str, path: str) -> str:
    content = (
        "<div class='vezone'><div class=\"venser\"><div class='rvad'><h1>404</h1></div>"
        "<p>Halaman tidak ditemukan.</p></div></div>"
    )
    return page(cat, base, path, f"Page not found | {SITE}", content)


def render_embed(provider: str, token: str) -> str:
    """A tiny stand-in for an embed host's player page."""
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8">'
        f'<title>{e(provider)} player</title></head><body style="margin:0;background:#000">'
        f'<video id="player" controls width="100%" data-token="{e(token)}"></video>'
        "</body></html>"
    )


# Pages load "jQuery" from the origin itself (the real site uses a CDN): this is NOT
# jQuery, only the few calls the pages' inline scripts make, so a headless browser can
# switch mirrors without reaching the internet.
JQUERY_SHIM = (
    "(function(){function Q(sel){var els=[].slice.call(document.querySelectorAll(sel));"
    "return{on:function(name,fn){els.forEach(function(el){el.addEventListener(name,"
    "function(ev){fn({preventDefault:function(){ev.preventDefault();},currentTarget:el});});"
    "});return this;}};}"
    "Q.extend=function(){return Object.assign.apply(Object,arguments);};"
    "Q.ajax=function(url,opt){var ok=[],bad=[],body=new URLSearchParams(),data=opt.data||{};"
    "Object.keys(data).forEach(function(k){body.append(k,data[k]);});"
    'fetch(url,{method:opt.method||"GET",body:body,credentials:"same-origin",headers:'
    '{"Content-Type":"application/x-www-form-urlencoded; charset=UTF-8",'
    '"X-Requested-With":"XMLHttpRequest"}})'
    ".then(function(r){if(!r.ok){throw r;}return r.json();})"
    ".then(function(j){ok.forEach(function(f){f(j);});})"
    ".catch(function(e){bad.forEach(function(f){f(e);});});"
    "var p={done:function(f){ok.push(f);return p;},fail:function(f){bad.push(f);return p;}};"
    "return p;};window.$=window.jQuery=Q;})();"
)


# --- a changed layout (for parser-failure tests) -------------------------------------
_RENAMES = {
    "venz": "venz-grid",
    "detpost": "det-post",
    "infozingle": "info-zingle",
    "episodelist": "daftar-episode",
    "mirrorstream": "mirror-stream",
    "posttl": "post-title",
    "download": "unduhan",
    "download2": "unduhan2",
    "batchlink": "batch-link",
    "hodebgst": "judul-anime-link",
    "kglist321": "jadwal-hari",
    "chivsrc": "hasil-cari",
    "genres": "genre-daftar",
    "col-anime": "kolom-anime",
    "pagenavix": "navi-halaman",
    "jdlflm": "judul-film",
    "player-embed": "pemutar",
    "responsive-embed-stream": "pemutar-responsif",
    "pembed": "pemutar-utama",
    "embed_holder": "wadah-pemutar",
    "lightsVideo": "lampu-video",
    "abtext": "daftar-teks",
    "jdlbar": "baris-judul",
}
_CLASS_ATTR = re.compile(r"""\b(?:class|id)=(["'])(.*?)\1""")


def change_layout(markup: str) -> str:
    """Rename landmark classes and ids and drop the ``<b>`` info labels, as a redesign would."""

    def rename(m: re.Match[str]) -> str:
        names = " ".join(_RENAMES.get(c, c) for c in m.group(2).split())
        attr = m.group(0).split("=", 1)[0]
        return f"{attr}={m.group(1)}{names}{m.group(1)}"

    markup = _CLASS_ATTR.sub(rename, markup)
    return re.sub(r"<b>([^<]*)</b>:", r"<em>\1</em>", markup)


def fmt(number: float) -> str:  # re-exported for tests
    return fmt_number(number)


def render_poster(path: str) -> str:
    """A made-up poster for any upload path: a gradient in colours derived from the path."""
    digest = hashlib.sha1(path.encode(), usedforsecurity=False).digest()
    hue_a, hue_b = digest[0] * 360 // 256, digest[1] * 360 // 256
    name = html.escape(path.rsplit("/", 1)[-1].rsplit(".", 1)[0].replace("-", " ")[:24])
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="225" height="320" viewBox="0 0 225 320">'
        '<defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1">'
        f'<stop offset="0" stop-color="hsl({hue_a},70%,45%)"/>'
        f'<stop offset="1" stop-color="hsl({hue_b},70%,25%)"/></linearGradient></defs>'
        '<rect width="225" height="320" fill="url(#g)"/>'
        f'<circle cx="{40 + digest[2] % 140}" cy="{60 + digest[3] % 120}" r="{30 + digest[4] % 40}"'
        ' fill="rgba(255,255,255,.18)"/>'
        '<text x="112" y="290" font-family="sans-serif" font-size="16" fill="#fff"'
        f' text-anchor="middle">{name}</text></svg>'
    )
