"""Made-up otakudesu-style pages (invented titles, slugs and links) for the parser tests.

The markup follows the structure described in STRUCTURE.md; all content is fictional.
"""

from __future__ import annotations

import base64
import json
import re

ORIGIN = "https://otakudesu.example"


def token(post_id: int, index: int, quality: str) -> str:
    raw = json.dumps({"id": post_id, "i": index, "q": quality}, separators=(",", ":"))
    return base64.b64encode(raw.encode()).decode()


def wrap(venkonten: str, *, tail: str = "", stamp: int | None = 1767398400) -> str:
    """A full page around a `#venkonten` body (stamp 1767398400 = 2026-01-03 00:00 UTC)."""
    comment = f"<!-- optimized by WP Rocket - Debug: cached@{stamp} -->" if stamp else ""
    return (
        "<!DOCTYPE html><html><head><title>Otaku Desu</title></head><BODY>"
        '<div id="menu"><a href="/anime/menu-link-sub-indo/">Menu</a></div>'
        f'<div id="venkonten">{venkonten}</div>{tail}</BODY></html>{comment}'
    )


def prettify(html: str) -> str:
    """Re-indent markup: a newline and spaces between every pair of tags."""
    return re.sub(r">\s*<", ">\n    <", html)


def info_row(label: str, value: str, *, span: bool = True) -> str:
    inner = f"<b>{label}</b>: {value}"
    return f"<p><span>{inner}</span></p>" if span else f"<p>{inner}</p>"


def detail_body(
    *,
    origin: str = ORIGIN,
    rows: list[tuple[str, str]] | None = None,
    synopsis: str = "<p>Seorang penjahit muda membuka toko di kota awan.</p><p>&nbsp;</p>",
    episodes: list[tuple[str, str, str]] | None = None,
    batch: tuple[str, str] | None = None,
    lengkap: tuple[str, str] | None = None,
    title: str = "Kumo no Shitateya",
) -> str:
    genres = ", ".join(
        f'<a href="{origin}/genres/{slug}/" rel="tag">{name}</a>'
        for slug, name in (("slice-of-life", "Slice of Life"), ("fantasy", "Fantasy"))
    )
    if rows is None:
        rows = [
            ("Judul", title),
            ("Japanese", "雲の仕立て屋"),
            ("Skor", "7.91"),
            ("Produser", "Aniplex, Sora Records , Pony Canyon"),
            ("Tipe", "TV"),
            ("Status", "Completed"),
            ("Total Episode", "12"),
            ("Durasi", "24 min. per ep."),
            ("Tanggal Rilis", "Okt 05, 2025"),
            ("Studio", "Studio Kumo"),
            ("Genre", genres),
        ]
    info = "".join(info_row(label, value) for label, value in rows)
    if episodes is None:
        episodes = [
            (f"kns-episode-{n}-sub-indo", f"{title} Episode {n} Subtitle Indonesia", date)
            for n, date in ((12, "21 Desember,2025"), (11, "14 Desember,2025"))
        ]

    def block(heading: str, items: list[tuple[str, str, str]], kind: str) -> str:
        lis = "".join(
            f'<li><span><a href="{origin}/{kind}/{slug}/" rel="nofollow">{text}</a></span>'
            f'<span class="zeebr">{date}</span></li>'
            for slug, text, date in items
        )
        return (
            '<div id="serieslist"></div><div class="episodelist"><div class="smokelister">'
            f'<span class="monktit">{heading}</span></div><ul>{lis}</ul></div>'
        )

    batch_items = [(batch[0], batch[1], "28 Desember,2025")] if batch else []
    lengkap_items = [(lengkap[0], lengkap[1], "28 Desember,2025")] if lengkap else []
    return (
        '<div class="venser">'
        f'<div class="jdlrx"><h1>{title} Subtitle Indonesia</h1></div>'
        '<div class="fotoanime">'
        f'<img src="{origin}/wp-content/uploads/2025/10/kumo.jpg" class="wp-post-image">'
        f'<div class="infozin"><div class="infozingle">{info}</div></div>'
        f'<div class="sinopc">{synopsis}</div></div><div class="clear"></div>'
        + block(f"{title} Batch", batch_items, "batch")
        + block(
            f"{title} Episode List <span>(Link Download Episode + Streaming)</span>",
            episodes,
            "episode",
        )
        + block(
            f"{title} Lengkap <span>(Link Download Episode + Batch)</span>",
            lengkap_items,
            "lengkap",
        )
        + '<div id="recommend-anime-series"><div class="isi-anime">'
        f'<a href="{origin}/anime/other-show-sub-indo/">Other</a></div></div></div>'
    )


def episode_body(
    *,
    origin: str = ORIGIN,
    title: str = "Kumo no Shitateya Episode 12.5 Subtitle Indonesia",
    post_id: int = 50505,
    prev: str | None = "kns-episode-12-sub-indo",
    nxt: str | None = None,
    player: bool = True,
    mirrors: bool = True,
    downloads: bool = True,
) -> str:
    nav = f'<a href="{origin}/anime/kumo-shitateya-sub-indo/" rel="follow">See All Episodes</a>'
    if prev:
        nav = (
            f'<a href="{origin}/episode/{prev}/" title="Episode Sebelumnya">Previous Eps.</a>' + nav
        )
    if nxt:
        nav += f'<a href="{origin}/episode/{nxt}/" title="Episode Selanjutnya">Next Eps.</a>'
    iframe = (
        '<div id="embed_holder"><div class="player-embed" id="pembed">'
        '<div class="responsive-embed-stream">'
        '<iframe src="https://player.example/embed/?id=abc&amp;x=1" width="420"></iframe>'
        "</div></div></div>"
        if player
        else ""
    )
    mirror_html = ""
    if mirrors:
        groups = []
        for quality, hosts in (("360p", ["alpha", "beta"]), ("720p", ["gamma"])):
            items = "".join(
                f'<li><a href="#" data-content="{token(post_id, i, quality)}"'
                + (' data-default="true"' if quality == "360p" and i == 0 else "")
                + f">{host} </a></li> "
                for i, host in enumerate(hosts)
            )
            groups.append(
                f'<ul class="m{quality}"><span class="dashicons"></span> Mirror {quality}'
                f"{items}</ul>"
            )
        mirror_html = '<div class="mirrorstream">' + "".join(groups) + "</div>"
    download_html = ""
    if downloads:
        download_html = (
            '<div class="download"><h4>Kumo no Shitateya Episode 12.5 – [Fansub]</h4>'
            "<ul><li><strong>Mp4 480p</strong> "
            '<a href="https://files.example/a1">HostA</a> <a href="https://files.example/b1">HostB'
            "</a> <i>45.0 MB</i></li></ul>"
            "<ul><li><strong>MKV 720p</strong> "
            '<a href="https://files.example/a2">HostA</a> <i>1.2 GB</i></li>'
            "<li><strong>x265 [720p]</strong> "
            '<a href="https://files.example/a3">HostA</a></li></ul></div>'
        )
    return (
        '<div class="venser"><div class="venutama">'
        f'<h1 class="posttl">{title}</h1>'
        '<div class="kategoz"><span>Posted by someone</span><span>Release on 9:30 pm</span></div>'
        f'<div class="prevnext"><div class="flir">{nav}</div></div>'
        f'<div id="lightsVideo">{iframe}</div>{mirror_html}</div>'
        f"{download_html}</div>"
    )


SCRIPT = (
    '<script>window.__x__nonce=null,$(".mirrorstream a").on("click",function(a){'
    '$.ajax("/wp-admin/admin-ajax.php",{data:{...e,nonce:window.__x__nonce,'
    'action:"{embed}"}}):$.ajax("/wp-admin/admin-ajax.php",{data:{action:"{nonce}"}})'
    '.done(({data:a})=>{$.ajax("/wp-admin/admin-ajax.php",{data:{...e,nonce:a,'
    'action:"{embed}"}})})});</script>'
)


def mirror_script(nonce: str, embed: str) -> str:
    return SCRIPT.replace("{embed}", embed).replace("{nonce}", nonce)


def venz_card(
    slug: str, title: str, epz: str, tipe: str, date: str, *, origin: str = ORIGIN
) -> str:
    return (
        f'<li><div class="detpost"><div class="epz"><span class="dashicons"></span> {epz}</div>'
        f'<div class="epztipe"><i class="fa fa-star"></i> {tipe}</div>'
        f'<div class="newnime">{date}</div><div class="thumb">'
        f'<a href="{origin}/anime/{slug}/" title="{title} (Episode 1 – 12) Subtitle Indonesia">'
        f'<div class="thumbz"><img src="{origin}/wp-content/uploads/{slug}.jpg" '
        f'class="wp-post-image"><h2 class="jdlflm">{title}</h2></div></a></div></div></li>'
    )


def pagination(current: int, last: int, base: str) -> str:
    parts = ["<span>Pages</span>"]
    if current > 1:
        parts.append(f'<a class="prev page-numbers" href="{base}page/{current - 1}/">«</a>')
    for n in range(1, last + 1):
        if n == current:
            parts.append(f'<span aria-current="page" class="page-numbers current">{n}</span>')
        elif n in (1, last) or abs(n - current) == 1:
            parts.append(f'<a class="page-numbers" href="{base}page/{n}/">{n}</a>')
    if current < last:
        parts.append(f'<a class="next page-numbers" href="{base}page/{current + 1}/">Next »</a>')
    return '<div class="pagination"><div class="pagenavix">' + "".join(parts) + "</div></div>"
