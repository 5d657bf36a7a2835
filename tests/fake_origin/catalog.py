"""Deterministic made-up otakudesu catalogue: the fake origin's *truth*.

Everything here is invented (titles, studios, providers, synopses). The dataclasses hold
exactly what a crawler should end up storing, as it is *shown* on the pages (display
strings such as ``"24 Min."`` stay strings; dates are parsed values).

Generation is seeded per anime (``random.Random(f"{seed}:{index}")``) so the same
``seed`` and ``size`` always give the same catalogue, and it is cheap: no HTML is built
here (``markup.py`` renders lazily per request).
"""

from __future__ import annotations

import base64
import hashlib
import random
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

# otakudesu shows Western Indonesia Time; a fixed offset avoids needing tzdata.
WIB = timezone(timedelta(hours=7), "WIB")
DEFAULT_NOW = datetime(2026, 8, 15, 21, 30, tzinfo=WIB)

WEEKDAYS = ("Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu")
SCHEDULE_DAYS = (*WEEKDAYS, "Random")
QUALITIES = ("360p", "480p", "720p")

# --- invented vocabulary -------------------------------------------------------------
_HEADS = (
    ("Hoshikuzu", "星屑"),
    ("Kaminari", "雷"),
    ("Yozora", "夜空"),
    ("Mizutama", "水玉"),
    ("Tsukimi", "月見"),
    ("Hanabi", "花火"),
    ("Kitsunebi", "狐火"),
    ("Sakanaya", "魚屋"),
    ("Kumorizora", "曇り空"),
    ("Toraneko", "虎猫"),
    ("Yukimichi", "雪道"),
    ("Akatombo", "赤とんぼ"),
    ("Natsukusa", "夏草"),
    ("Hotarubi", "蛍火"),
    ("Kazaguruma", "風車"),
    ("Umibotaru", "海蛍"),
    ("Tanpopo", "蒲公英"),
    ("Shiokaze", "潮風"),
)
_TAILS = (
    ("Bentou-ya", "弁当屋"),
    ("Gakuen", "学園"),
    ("Tantei", "探偵"),
    ("Ryokouki", "旅行記"),
    ("Kishi", "騎士"),
    ("Majo", "魔女"),
    ("Kissaten", "喫茶店"),
    ("Hikousen", "飛行船"),
    ("Toshokan", "図書館"),
    ("Yuubin-ya", "郵便屋"),
    ("Kajiya", "鍛冶屋"),
    ("Onmyouji", "陰陽師"),
    ("Shokudou", "食堂"),
    ("Keibiin", "警備員"),
)
_EXTRAS = ("", "", "", "", " Season 2", " Season 3", " Part 2", "!?", ".", " Zoku")
# Titles with the awkward characters a parser must survive (indices cycle through them).
_ODD_TITLES = (
    ("Neko Kissaten 🐱☕ Monogatari", "猫喫茶店物語"),
    ("Tanuki & Kitsune <script>alert('x')</script> Daisakusen", "狸と狐の大作戦"),
    ("【星屑】 Yoru no Kajiya", "【星屑】夜の鍛冶屋"),
    ("#Hashtag Idol 2.0", "#ハッシュタグアイドル2.0"),
    ("100-nen Bentou-ya", "百年弁当屋"),
    ("Éclair no Majo", "エクレアの魔女"),
    ('Senpai "Rocket" & Kouhai', "先輩ロケットと後輩"),
)
_STUDIOS = (
    "Studio Kumoji",
    "Hanabi Works",
    "Pixel Lantern",
    "Aozora Douga",
    "Tsubame Pictures",
    "Studio Kawauso",
    "Moonbrush",
    "Kirin Frame",
)
_PRODUCERS = (
    "Hoshino Media",
    "Sakura Tone Records",
    "Kumo Shoten",
    "Yamabiko Music",
    "Tokai Lantern",
    "Nijiiro Bunko",
    "Blue Sardine",
    "Kaede Partners",
)
# (slug, name, listed on /genre-list/): the real list omits some genres that anime use.
_GENRES = (
    ("action", "Action", True),
    ("comedy", "Comedy", True),
    ("drama", "Drama", True),
    ("fantasy", "Fantasy", True),
    ("romance", "Romance", True),
    ("school", "School", True),
    ("sci-fi", "Sci-Fi", True),
    ("slice-of-life", "Slice of Life", True),
    ("mystery", "Mystery", True),
    ("sports", "Sports", True),
    ("cooking", "Cooking", True),
    ("shounen", "Shounen", True),
    ("seinen", "Seinen", True),
    ("mecha", "Mecha", True),
    ("time-travel", "Time Travel", False),
    ("kaiju", "Kaiju", False),
)
_MIRROR_PROVIDERS = ("kumoplay", "odstream", "filebento", "megaku", "desuhd", "vidkura")
_DL_PROVIDERS = ("KumoFiles", "Pdrive", "AceBox", "GoBento", "MegaKu", "VFiles")
_CREDITS = ("Kumonime", "Fansub Senja", "Otakudesu")
_POSTERS = ("aoichi", "kurokami", "senja")
_SYN_BITS = (
    "Seorang {who} menemukan {thing} di {place}.",
    "Sejak hari itu, {who} harus menjaga rahasia tentang {thing}.",
    "Petualangan kecil di {place} berubah menjadi urusan besar.",
    "Bisakah mereka pulang sebelum festival di {place} dimulai?",
)
_WHO = ("pelajar pemalas", "koki muda", "pustakawan pendiam", "kucing bicara", "ksatria pensiun")
_THING = ("peta tua", "sendok ajaib", "surat tanpa alamat", "robot bekas", "telur naga")
_PLACE = ("kota pelabuhan", "menara jam", "pasar malam", "desa di awan", "stasiun terakhir")

_MONTHS_ID = (
    "Januari",
    "Februari",
    "Maret",
    "April",
    "Mei",
    "Juni",
    "Juli",
    "Agustus",
    "September",
    "Oktober",
    "November",
    "Desember",
)
_MONTHS_ID_ABBR = (
    "Jan",
    "Feb",
    "Mar",
    "Apr",
    "Mei",
    "Jun",
    "Jul",
    "Agu",
    "Sep",
    "Okt",
    "Nov",
    "Des",
)
_MONTHS_EN_ABBR = (
    "Jan",
    "Feb",
    "Mar",
    "Apr",
    "May",
    "Jun",
    "Jul",
    "Aug",
    "Sep",
    "Oct",
    "Nov",
    "Dec",
)


# --- truth dataclasses ---------------------------------------------------------------
@dataclass
class Genre:
    slug: str
    name: str
    listed: bool = True  # shown on /genre-list/ (the real list is incomplete)


@dataclass
class Download:
    format: str  # as shown: "Mp4" or "MKV"
    quality: str  # "360p" … "1080p"
    provider: str  # link text, e.g. "KumoFiles"
    url: str
    size: str  # as shown, e.g. "39.5 MB"


@dataclass
class Mirror:
    quality: str  # "360p" | "480p" | "720p"
    i: int  # index within its quality list (the data-content token's "i")
    provider: str  # link text, e.g. "odstream"
    embed_url: str  # what admin-ajax resolves the token to
    is_default: bool = False  # the one shown in the player iframe (data-default="true")


@dataclass
class Episode:
    slug: str
    anime_slug: str
    number: int | float | None  # 12.5 for a half episode, None for a special
    title: str  # as shown on the episode page and in the detail list
    published: datetime  # aware, WIB
    post_id: int
    credit: str
    posted_by: str
    mirrors: list[Mirror] = field(default_factory=list)
    downloads: list[Download] = field(default_factory=list)

    @property
    def default_mirror(self) -> Mirror:
        return next(m for m in self.mirrors if m.is_default)

    @property
    def default_embed(self) -> str:
        """The player iframe's src on the episode page."""
        return self.default_mirror.embed_url

    @property
    def label(self) -> str:
        """Short label used in the episode select and `.keyingpost` ("Episode 12.5")."""
        return "Special" if self.number is None else f"Episode {fmt_number(self.number)}"

    def token(self, mirror: Mirror) -> str:
        return mirror_token(self.post_id, mirror.i, mirror.quality)


@dataclass
class Batch:
    slug: str
    title: str
    published: datetime
    downloads: list[Download] = field(default_factory=list)


@dataclass
class Lengkap:
    slug: str
    title: str
    published: datetime


@dataclass
class Anime:
    slug: str
    title: str
    japanese: str
    score: float | None
    type: str
    status: str  # "Ongoing" | "Completed"
    total_episodes: int | None  # None is shown as "Unknown"
    duration: str  # as shown, e.g. "24 Min."
    release_date: date
    studios: list[str]
    producers: list[str]
    genres: list[Genre]
    synopsis: list[str]  # paragraphs; empty list = no synopsis
    poster_path: str  # on the origin, e.g. "/wp-content/uploads/2026/01/x.jpg"
    poster_url: str  # poster_path on the origin's first base URL
    release_day: str  # schedule day: Senin … Minggu or "Random"
    post_id: int
    short: str  # prefix of the episode/batch slugs
    episodes: list[Episode] = field(default_factory=list)  # newest first
    batch: Batch | None = None
    lengkap: Lengkap | None = None

    @property
    def is_ongoing(self) -> bool:
        return self.status == "Ongoing"

    @property
    def latest_episode(self) -> Episode | None:
        return self.episodes[0] if self.episodes else None

    @property
    def updated(self) -> datetime | None:
        """When the newest episode came out (what list pages sort and date by)."""
        return self.episodes[0].published if self.episodes else None

    @property
    def season(self) -> str:
        names = ("Winter", "Spring", "Summer", "Fall")
        return f"{names[(self.release_date.month - 1) // 3]} {self.release_date.year}"

    @property
    def total_text(self) -> str:
        return "Unknown" if self.total_episodes is None else str(self.total_episodes)

    @property
    def score_text(self) -> str:
        return "" if self.score is None else f"{self.score:.2f}"


@dataclass
class Catalog:
    seed: int
    now: datetime
    origin_base: str
    embed_base: str
    genres: list[Genre]
    anime: dict[str, Anime]  # slug -> anime, in generation order
    episodes: dict[str, Episode] = field(default_factory=dict)  # slug -> episode
    by_post_id: dict[int, Episode] = field(default_factory=dict)
    next_post_id: int = 0
    clock_steps: int = 0  # how many catalogue changes happened (advances "now")

    # --- queries shared by the renderer and tests -----------------------------------
    def ongoing(self) -> list[Anime]:
        """Ongoing anime with at least one episode, newest episode first (list order)."""
        items = [a for a in self.anime.values() if a.is_ongoing and a.episodes]
        return sorted(items, key=lambda a: (a.updated, a.post_id), reverse=True)

    def completed(self) -> list[Anime]:
        items = [a for a in self.anime.values() if not a.is_ongoing and a.episodes]
        return sorted(items, key=lambda a: (a.updated, a.post_id), reverse=True)

    def alphabetical(self) -> list[Anime]:
        return sorted(self.anime.values(), key=lambda a: (a.title.casefold(), a.slug))

    def in_genre(self, slug: str) -> list[Anime]:
        """Genre archive order: newest release first, like a WordPress taxonomy archive."""
        items = [a for a in self.anime.values() if any(g.slug == slug for g in a.genres)]
        return sorted(items, key=lambda a: (a.release_date, a.post_id), reverse=True)

    def schedule(self) -> dict[str, list[Anime]]:
        days: dict[str, list[Anime]] = {d: [] for d in SCHEDULE_DAYS}
        for a in self.anime.values():
            if a.is_ongoing:
                days[a.release_day].append(a)
        for items in days.values():
            items.sort(key=lambda a: a.title.casefold())
        return days

    def search(self, query: str) -> list[Anime]:
        q = query.strip().casefold()
        if not q:
            return []
        hits = [a for a in self.anime.values() if q in a.title.casefold()]
        return sorted(hits, key=lambda a: (a.title.casefold(), a.slug))

    def genre(self, slug: str) -> Genre | None:
        return next((g for g in self.genres if g.slug == slug), None)

    def anime_of(self, episode: Episode) -> Anime:
        return self.anime[episode.anime_slug]

    def batch(self, slug: str) -> Anime | None:
        return next((a for a in self.anime.values() if a.batch and a.batch.slug == slug), None)

    def lengkap(self, slug: str) -> Anime | None:
        return next((a for a in self.anime.values() if a.lengkap and a.lengkap.slug == slug), None)

    # --- changes between crawls ------------------------------------------------------
    def _tick(self) -> datetime:
        """A moment after everything published so far: changes always sort newest."""
        self.clock_steps += 1
        return self.now + timedelta(minutes=7 * self.clock_steps)

    def add_episode(self, anime_slug: str) -> str:
        anime = self.anime[anime_slug]
        numbers = [e.number for e in anime.episodes if e.number is not None]
        number = int(max(numbers)) + 1 if numbers else 1
        rng = random.Random(f"{self.seed}:{anime_slug}:add:{self.clock_steps}")
        ep = _make_episode(self, rng, anime, number, self._tick())
        anime.episodes.insert(0, ep)
        return ep.slug

    def retitle(self, anime_slug: str, new_title: str) -> None:
        anime = self.anime[anime_slug]
        anime.title = new_title
        for ep in anime.episodes:
            ep.title = episode_title(new_title, ep.number)
        if anime.batch:
            anime.batch.title = batch_title(new_title)
        if anime.lengkap:
            anime.lengkap.title = lengkap_title(new_title, anime)

    def complete(self, anime_slug: str) -> None:
        anime = self.anime[anime_slug]
        anime.status = "Completed"
        anime.total_episodes = sum(1 for e in anime.episodes if e.number is not None)
        if anime.episodes and anime.batch is None:
            rng = random.Random(f"{self.seed}:{anime_slug}:complete")
            _add_batch(self, rng, anime, self._tick())


# --- formatting helpers (shared with markup.py) --------------------------------------
def fmt_number(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else f"{number:g}"


def episode_title(anime_title: str, number: float | None) -> str:
    if number is None:
        return f"{anime_title} Special Subtitle Indonesia"
    return f"{anime_title} Episode {fmt_number(number)} Subtitle Indonesia"


def batch_title(anime_title: str) -> str:
    return f"{anime_title} [BATCH] Subtitle Indonesia"


def lengkap_title(anime_title: str, anime: Anime) -> str:
    last = sum(1 for e in anime.episodes if e.number is not None)
    return f"{anime_title} Sub Indo : Episode 1 \u2013 {last} (End)"


def date_long_id(d: datetime | date) -> str:
    """Detail-page episode dates: "14 Agustus,2026" (no padding, no space)."""
    return f"{d.day} {_MONTHS_ID[d.month - 1]},{d.year}"


def date_card_id(d: datetime | date) -> str:
    """List-card dates: "07 Agu"."""
    return f"{d.day:02d} {_MONTHS_ID_ABBR[d.month - 1]}"


def date_release_en(d: date) -> str:
    """Info block "Tanggal Rilis": "Jan 08, 2026"."""
    return f"{_MONTHS_EN_ABBR[d.month - 1]} {d.day:02d}, {d.year}"


def mirror_token(post_id: int, i: int, quality: str) -> str:
    raw = f'{{"id":{post_id},"i":{i},"q":"{quality}"}}'
    return base64.b64encode(raw.encode()).decode()


def slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


# --- generation ----------------------------------------------------------------------
def _digest(*parts: object) -> str:
    return hashlib.sha1(":".join(map(str, parts)).encode()).hexdigest()


def _make_title(index: int, rng: random.Random) -> tuple[str, str]:
    # Every 9th anime gets one of the awkward titles so even a 50-anime catalogue has them.
    if index % 9 == 4:
        title, jp = _ODD_TITLES[(index // 9) % len(_ODD_TITLES)]
        extra = "" if index < 9 * len(_ODD_TITLES) else f" Season {index // 60 + 2}"
        return title + extra, jp
    head, jhead = rng.choice(_HEADS)
    tail, jtail = rng.choice(_TAILS)
    extra = rng.choice(_EXTRAS)
    jextra = {" Season 2": " 第2期", " Season 3": " 第3期", " Part 2": " 第2クール"}.get(extra, "")
    return f"{head} no {tail}{extra}", f"{jhead}の{jtail}{jextra}"


def _size_text(rng: random.Random, quality: str, minutes: int, fmt: str) -> str:
    per_min = {"360p": 1.6, "480p": 2.7, "720p": 4.6, "1080p": 9.1}[quality]
    mb = per_min * minutes * rng.uniform(0.85, 1.15) * (1.1 if fmt == "MKV" else 1.0)
    return f"{mb / 1024:.2f} GB" if mb >= 1024 else f"{mb:.1f} MB"


def _downloads(
    rng: random.Random, key: str, rows: list[tuple[str, str]], minutes: int
) -> list[Download]:
    out: list[Download] = []
    for fmt, quality in rows:
        size = _size_text(rng, quality, minutes, fmt)
        providers = _DL_PROVIDERS[: rng.randint(4, len(_DL_PROVIDERS))]
        for provider in providers:
            token = base64.urlsafe_b64encode(
                _digest(key, fmt, quality, provider).encode()[:24]
            ).decode()
            out.append(
                Download(fmt, quality, provider, f"https://dl.fakedesu.invalid/?id={token}", size)
            )
    return out


def _make_episode(
    cat: Catalog, rng: random.Random, anime: Anime, number: float | None, published: datetime
) -> Episode:
    num = "special" if number is None else "episode-" + fmt_number(number).replace(".", "-")
    slug = f"{anime.short}-{num}-sub-indo"
    post_id = cat.next_post_id
    cat.next_post_id += rng.randint(3, 40)  # WordPress ids interleave with other posts
    ep = Episode(
        slug=slug,
        anime_slug=anime.slug,
        number=number,
        title=episode_title(anime.title, number),
        published=published,
        post_id=post_id,
        credit=rng.choice(_CREDITS),
        posted_by=rng.choice(_POSTERS),
    )
    for quality, (low, high) in zip(QUALITIES, ((2, 3), (3, 4), (2, 4)), strict=True):
        providers = rng.sample(_MIRROR_PROVIDERS, rng.randint(low, high))
        for i, provider in enumerate(providers):
            token = _digest(cat.seed, post_id, quality, i)[:20]
            ep.mirrors.append(
                Mirror(
                    quality=quality,
                    i=i,
                    provider=provider,
                    embed_url=f"{cat.embed_base}/embed/{provider}/{token}",
                    is_default=(quality == "480p" and i == 0),
                )
            )
    minutes = int(re.sub(r"\D", "", anime.duration) or 24)
    rows = [("Mp4", "360p"), ("Mp4", "480p"), ("Mp4", "720p")]
    if rng.random() < 0.3:
        rows.append(("Mp4", "1080p"))
    rows += [("MKV", "480p"), ("MKV", "720p"), ("MKV", "1080p")]
    ep.downloads = _downloads(rng, slug, rows, minutes)
    cat.episodes[slug] = ep
    cat.by_post_id[post_id] = ep
    return ep


def _add_batch(cat: Catalog, rng: random.Random, anime: Anime, published: datetime) -> None:
    numbered = [e for e in anime.episodes if e.number is not None]
    if len(numbered) < 2:  # a single movie/special has nothing to batch
        return
    minutes = int(re.sub(r"\D", "", anime.duration) or 24) * len(numbered)
    rows = [("MP4", "480p"), ("MP4", "720p"), ("MKV", "1080p")]
    anime.batch = Batch(
        slug=f"{anime.short}-batch-sub-indo",
        title=batch_title(anime.title),
        published=published,
        downloads=_downloads(rng, anime.short + "-batch", rows, minutes),
    )
    anime.lengkap = Lengkap(
        slug=f"{anime.short}-lengkap-sub-indo",
        title=lengkap_title(anime.title, anime),
        published=published,
    )


def _unique(base: str, taken: set[str]) -> str:
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}-{n}", n + 1
    taken.add(candidate)
    return candidate


def generate_catalog(
    seed: int = 1,
    size: int = 300,
    *,
    now: datetime = DEFAULT_NOW,
    origin_base: str = "http://127.0.0.1",
    embed_base: str = "http://localhost",
) -> Catalog:
    """Build the made-up catalogue. Same arguments, same catalogue (dataclass-equal)."""
    if now.tzinfo is None:
        now = now.replace(tzinfo=WIB)
    now = now.astimezone(WIB)
    genres = [Genre(slug, name, listed) for slug, name, listed in _GENRES]
    cat = Catalog(
        seed=seed,
        now=now,
        origin_base=origin_base.rstrip("/"),
        embed_base=embed_base.rstrip("/"),
        genres=genres,
        anime={},
        next_post_id=150_000 + (seed % 1000) * 10,
    )
    slugs: set[str] = set()
    shorts: set[str] = set()
    for index in range(size):
        rng = random.Random(f"{seed}:{index}")
        title, japanese = _make_title(index, rng)
        words = slugify(title).split("-") or ["anime"]
        slug = _unique("-".join(words[:5]) + "-sub-indo" if words[0] else "anime", slugs)
        short = _unique("".join(w[0] for w in words if w)[:5] or f"a{index}", shorts)
        # Roughly a third ongoing; a few ongoing ones have no episode yet.
        ongoing = rng.random() < 0.35
        kind = rng.choices(("TV", "Movie", "OVA", "ONA"), weights=(80, 7, 6, 7))[0]
        if index % 18 == 2:  # guarantees a finished 24-episode show with an episode 12.5
            ongoing, kind, total = False, "TV", 24
        elif kind == "Movie":
            ongoing, total = False, 1
        else:
            total = rng.choice((12, 12, 12, 13, 24, 11, 6) if kind == "TV" else (2, 4, 6))
        minutes = rng.randint(85, 125) if kind == "Movie" else rng.choice((23, 24, 24, 12))
        if ongoing:
            aired = rng.choice((0, 1, 2, 3, 5, 6, 8, 10)) if index % 13 != 7 else 0
            aired = min(aired, total - 1)
            last_date = now - timedelta(days=rng.randint(0, 6), hours=rng.randint(0, 20))
        else:
            aired = total
            last_date = now - timedelta(days=rng.randint(5, 700), hours=rng.randint(0, 20))
        first_date = last_date - timedelta(days=7 * max(aired - 1, 0))
        release = first_date.date() if aired else (now + timedelta(days=rng.randint(1, 40))).date()
        poster_file = f"{slug.removesuffix('-sub-indo')}-{_digest(seed, index)[:6]}.jpg"
        poster_path = f"/wp-content/uploads/{release.year}/{release.month:02d}/{poster_file}"
        n_par = rng.choice((0, 1, 2, 3)) if index % 7 != 3 else 0
        synopsis = [
            rng.choice(_SYN_BITS).format(
                who=rng.choice(_WHO), thing=rng.choice(_THING), place=rng.choice(_PLACE)
            )
            for _ in range(n_par)
        ]
        anime = Anime(
            slug=slug,
            title=title,
            japanese=japanese,
            score=round(rng.uniform(5.5, 9.2), 2) if rng.random() < 0.85 else None,
            type=kind,
            status="Ongoing" if ongoing else "Completed",
            total_episodes=None if ongoing and rng.random() < 0.3 else total,
            duration=f"{minutes} Min.",
            release_date=release,
            studios=rng.sample(_STUDIOS, rng.choice((1, 1, 1, 2))),
            producers=rng.sample(_PRODUCERS, rng.randint(1, 3)),
            genres=sorted(
                # One of two big genres each, so even small catalogues have paginated genres.
                [rng.choice(genres[:2]), *rng.sample(genres[2:], rng.randint(0, 3))],
                key=lambda g: g.slug,
            ),
            synopsis=synopsis,
            poster_path=poster_path,
            poster_url=cat.origin_base + poster_path,
            release_day=(WEEKDAYS[last_date.weekday()] if rng.random() < 0.9 else "Random"),
            post_id=100_000 + index * 7 + seed % 7,
            short=short,
        )
        cat.anime[slug] = anime
        numbers: list[float | None] = list(range(1, aired + 1))
        if aired >= 3 and index % 9 == 2:  # a recap/half episode: 12.5 when it exists
            half = 12 if aired > 12 else aired // 2
            numbers.insert(numbers.index(half) + 1, half + 0.5)
        if not ongoing and aired >= 2 and index % 11 == 5:
            numbers.append(None)  # a special after the finale
        step = timedelta(days=7)
        oldest = last_date - step * (len(numbers) - 1)
        for k, number in enumerate(numbers):
            published = oldest + step * k
            if number is not None and not float(number).is_integer():
                published -= timedelta(days=3)
            anime.episodes.insert(0, _make_episode(cat, rng, anime, number, published))
        if not ongoing:
            _add_batch(cat, rng, anime, last_date + timedelta(hours=3))
    return cat
