"""The catalogue mirrored from otakudesu, and the record of every scrape run."""

from __future__ import annotations

import unicodedata
from datetime import timedelta
from typing import Any

from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from catalog.fields import SlugKeyField


def fold_text(*parts: str | None) -> str:
    """Lower-case, accent-free text for search that behaves alike on SQLite and MySQL."""
    text = " ".join(p for p in parts if p)
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


class Genre(models.Model):
    slug = SlugKeyField(_("slug"), unique=True)
    name = models.CharField(_("nama"), max_length=100)

    class Meta:
        ordering = ["name"]
        verbose_name = _("genre")
        verbose_name_plural = _("genre")

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("catalog:genre", args=[self.slug])


class AnimeQuerySet(models.QuerySet["Anime"]):
    def ongoing(self) -> AnimeQuerySet:
        return self.filter(status=Anime.Status.ONGOING)

    def completed(self) -> AnimeQuerySet:
        return self.filter(status=Anime.Status.COMPLETED)

    def search(self, query: str) -> AnimeQuerySet:
        folded = fold_text(query).strip()
        if not folded:
            return self.none()
        qs = self
        for word in folded.split()[:8]:
            qs = qs.filter(search_text__contains=word)
        return qs


class Anime(models.Model):
    class Status(models.TextChoices):
        ONGOING = "ongoing", _("Sedang tayang")
        COMPLETED = "completed", _("Tamat")

    slug = SlugKeyField(_("slug"), unique=True)
    title = models.CharField(_("judul"), max_length=500)
    title_japanese = models.CharField(_("judul Jepang"), max_length=500, blank=True)
    score = models.DecimalField(_("skor"), max_digits=4, decimal_places=2, null=True, blank=True)
    type = models.CharField(_("tipe"), max_length=32, blank=True, db_index=True)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.ONGOING
    )
    total_episodes = models.PositiveIntegerField(_("total episode"), null=True, blank=True)
    duration = models.CharField(_("durasi"), max_length=100, blank=True)
    release_date = models.DateField(_("tanggal rilis"), null=True, blank=True)
    release_date_text = models.CharField(
        _("tanggal rilis (teks)"),
        max_length=100,
        blank=True,
        help_text=_("Teks asli ketika tanggal tidak bisa dibaca."),
    )
    release_day = models.CharField(_("hari tayang"), max_length=16, blank=True)
    studios = models.JSONField(_("studio"), default=list, blank=True)
    producers = models.JSONField(_("produser"), default=list, blank=True)
    synopsis = models.TextField(_("sinopsis"), blank=True)
    poster_url = models.URLField(_("poster"), max_length=1000, blank=True)
    # Our own copy of the poster (catalog/posters.py): the content hash naming its files
    # under MEDIA_ROOT ("" = none yet: pages show the placeholder), the origin URL it was
    # last fetched (or tried) from, and failed tries in a row (bounded by scraper/posters.py).
    poster_key = models.CharField(max_length=32, blank=True, editable=False)
    poster_source = models.CharField(max_length=1000, blank=True, editable=False)
    poster_tries = models.PositiveSmallIntegerField(default=0, editable=False)
    genres = models.ManyToManyField(Genre, related_name="anime", blank=True)
    lengkap_slug = SlugKeyField(_("slug halaman lengkap"), blank=True)
    # Lower-cased, accent-free title + Japanese title: search works alike on every backend.
    search_text = models.TextField(editable=False, blank=True)
    # Bumped by ingest on every change; page caches key on it.
    version = models.PositiveIntegerField(default=1, editable=False)
    created_at = models.DateTimeField(_("dibuat"), auto_now_add=True)
    updated_at = models.DateTimeField(_("diubah"), auto_now=True)
    last_scraped_at = models.DateTimeField(_("terakhir di-scrape"), null=True, blank=True)

    objects = AnimeQuerySet.as_manager()

    class Meta:
        ordering = ["title"]
        verbose_name = _("anime")
        verbose_name_plural = _("anime")
        indexes = [
            models.Index(fields=["status", "-updated_at"], name="anime_status_updated"),
            models.Index(fields=["title"], name="anime_title"),
        ]

    def __str__(self) -> str:
        return self.title

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.search_text = fold_text(self.title, self.title_japanese, self.slug)
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("catalog:anime", args=[self.slug])


class Batch(models.Model):
    anime = models.ForeignKey(Anime, on_delete=models.CASCADE, related_name="batches")
    slug = SlugKeyField(_("slug"), unique=True)
    title = models.CharField(_("judul"), max_length=500)
    created_at = models.DateTimeField(_("dibuat"), auto_now_add=True)
    updated_at = models.DateTimeField(_("diubah"), auto_now=True)
    last_scraped_at = models.DateTimeField(_("terakhir di-scrape"), null=True, blank=True)

    class Meta:
        ordering = ["anime", "title"]
        verbose_name = _("batch")
        verbose_name_plural = _("batch")

    def __str__(self) -> str:
        return self.title


class EpisodeQuerySet(models.QuerySet["Episode"]):
    def newest(self) -> EpisodeQuerySet:
        return self.order_by(models.F("published_on").desc(nulls_last=True), "-created_at", "-id")


# After this many failed tries in a row an episode's own page is no longer asked for by
# the updates (scraper.page_retries); the admin lists such episodes for an operator.
PAGE_RETRY_LIMIT = 20


class Episode(models.Model):
    anime = models.ForeignKey(Anime, on_delete=models.CASCADE, related_name="episodes")
    slug = SlugKeyField(_("slug"), unique=True)
    title = models.CharField(_("judul"), max_length=500)
    # Decimal: episodes like 12.5 exist; NULL for specials without a number.
    number = models.DecimalField(_("nomor"), max_digits=7, decimal_places=2, null=True, blank=True)
    published_on = models.DateField(_("tanggal rilis"), null=True, blank=True)
    post_id = models.PositiveBigIntegerField(
        _("post id origin"), null=True, blank=True, help_text=_("Dipakai protokol mirror.")
    )
    default_embed_url = models.URLField(_("embed bawaan"), max_length=1000, blank=True)
    created_at = models.DateTimeField(_("dibuat"), auto_now_add=True)
    updated_at = models.DateTimeField(_("diubah"), auto_now=True)
    last_scraped_at = models.DateTimeField(_("terakhir di-scrape"), null=True, blank=True)
    # An episode listed on its anime's page whose own page could not be read yet (no post
    # id, no links): every later update tries it again, with a growing pause, until it has it.
    page_attempts = models.PositiveSmallIntegerField(_("percobaan halaman"), default=0)
    page_retry_at = models.DateTimeField(_("coba lagi setelah"), null=True, blank=True)
    page_error = models.CharField(_("galat halaman"), max_length=500, blank=True)
    # Bumped when the order of its mirrors changes without any anime changing (a mirror
    # newly reported broken, the health check's verdict): its page is keyed on it, so the
    # anime page and the lists keep their cached copies (catalog/mirror_reports.py).
    mirrors_version = models.PositiveIntegerField(default=0, editable=False)

    objects = EpisodeQuerySet.as_manager()

    class Meta:
        ordering = ["number", "id"]
        verbose_name = _("episode")
        verbose_name_plural = _("episode")
        indexes = [
            models.Index(fields=["anime", "number"], name="episode_anime_number"),
            models.Index(fields=["-published_on", "-created_at"], name="episode_newest"),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("catalog:episode", args=[self.slug])

    @property
    def number_display(self) -> str:
        if self.number is None:
            return ""
        return f"{self.number.normalize():f}"


class StreamLink(models.Model):
    episode = models.ForeignKey(Episode, on_delete=models.CASCADE, related_name="stream_links")
    quality = models.CharField(_("kualitas"), max_length=16)
    provider = models.CharField(_("penyedia"), max_length=64)
    position = models.PositiveSmallIntegerField(_("urutan"), default=0)
    # The origin's mirror token (base64 JSON {"id", "i", "q"} in data-content).
    token_id = models.PositiveBigIntegerField(_("token id"))
    token_i = models.PositiveSmallIntegerField(_("token i"))
    token_q = models.CharField(_("token q"), max_length=16)
    is_default = models.BooleanField(_("bawaan"), default=False)
    embed_url = models.URLField(_("URL embed"), max_length=1000, blank=True)
    resolved_at = models.DateTimeField(_("di-resolve"), null=True, blank=True)
    last_error = models.CharField(_("galat terakhir"), max_length=500, blank=True)
    checked_at = models.DateTimeField(_("dicek"), null=True, blank=True)
    ok = models.BooleanField(_("berfungsi"), null=True, blank=True)

    class Meta:
        ordering = ["episode", "quality", "position"]
        verbose_name = _("mirror stream")
        verbose_name_plural = _("mirror stream")
        constraints = [
            models.UniqueConstraint(
                fields=["episode", "quality", "provider"], name="streamlink_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.quality} {self.provider}"

    @property
    def token(self) -> dict[str, Any]:
        return {"id": self.token_id, "i": self.token_i, "q": self.token_q}


class MirrorReport(models.Model):
    """A viewer's "Lapor rusak" on a stream mirror (catalog/mirror_reports.py).

    One row per client, mirror and day (the unique constraint): a client counts once a day
    per mirror however often it clicks, and the count survives cache evictions. `client`
    is a keyed hash of the client's network and the day, so it neither names an address
    nor links one client's reports across days."""

    link = models.ForeignKey(StreamLink, on_delete=models.CASCADE, related_name="reports")
    client = models.CharField(_("klien"), max_length=32)
    day = models.DateField(_("hari"))
    created_at = models.DateTimeField(_("waktu"), default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("laporan mirror rusak")
        verbose_name_plural = _("laporan mirror rusak")
        constraints = [
            models.UniqueConstraint(
                fields=["link", "client", "day"], name="mirrorreport_once_a_day"
            )
        ]

    def __str__(self) -> str:
        return f"{self.link_id} {self.day}"


class DownloadLink(models.Model):
    """A download link of an episode or of a batch (exactly one of the two)."""

    episode = models.ForeignKey(
        Episode, on_delete=models.CASCADE, related_name="download_links", null=True, blank=True
    )
    batch = models.ForeignKey(
        Batch, on_delete=models.CASCADE, related_name="download_links", null=True, blank=True
    )
    format = models.CharField(_("format"), max_length=16)
    quality = models.CharField(_("kualitas"), max_length=16)
    provider = models.CharField(_("penyedia"), max_length=64)
    url = models.URLField(_("URL"), max_length=1000)
    size_text = models.CharField(_("ukuran"), max_length=32, blank=True)
    size_bytes = models.PositiveBigIntegerField(_("ukuran (byte)"), null=True, blank=True)
    position = models.PositiveSmallIntegerField(_("urutan"), default=0)

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("link unduhan")
        verbose_name_plural = _("link unduhan")
        constraints = [
            # NULLs are distinct in unique indexes on every backend, so each constraint only
            # bites for its own owner; MySQL has no partial indexes to say it explicitly.
            models.UniqueConstraint(
                fields=["episode", "format", "quality", "provider"],
                name="downloadlink_episode_unique",
            ),
            models.UniqueConstraint(
                fields=["batch", "format", "quality", "provider"],
                name="downloadlink_batch_unique",
            ),
            models.CheckConstraint(
                condition=(Q(episode__isnull=False) & Q(batch__isnull=True))
                | (Q(episode__isnull=True) & Q(batch__isnull=False)),
                name="downloadlink_one_owner",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.format} {self.quality} {self.provider}"


class ScrapeRun(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running", _("Berjalan")
        OK = "ok", _("Berhasil")
        FAILED = "failed", _("Gagal")
        INTERRUPTED = "interrupted", _("Dihentikan")
        SKIPPED = "skipped", _("Dilewati")
        # Finished, but some pages could not be read: their data is still missing.
        PARTIAL = "partial", _("Sebagian gagal")

    kind = models.CharField(_("jenis"), max_length=32, db_index=True)
    arguments = models.JSONField(_("argumen"), default=dict, blank=True)
    base_url = models.CharField(_("URL origin"), max_length=300, blank=True)
    dry_run = models.BooleanField(_("uji coba"), default=False)
    started_at = models.DateTimeField(_("mulai"), default=timezone.now, db_index=True)
    finished_at = models.DateTimeField(_("selesai"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.RUNNING
    )
    pages_fetched = models.PositiveIntegerField(_("halaman diambil"), default=0)
    requests_made = models.PositiveIntegerField(_("request HTTP"), default=0)
    created = models.PositiveIntegerField(_("baris baru"), default=0)
    updated = models.PositiveIntegerField(_("baris diubah"), default=0)
    unchanged = models.PositiveIntegerField(_("baris tetap"), default=0)
    error_count = models.PositiveIntegerField(_("jumlah galat"), default=0)
    errors = models.TextField(_("galat"), blank=True)
    # Who runs it ("host:pid") and when it last showed it is alive: a run whose owner died
    # (SIGKILL, OOM, reboot) is recognised and closed as interrupted.
    owner = models.CharField(_("pemilik"), max_length=200, blank=True)
    heartbeat_at = models.DateTimeField(_("detak terakhir"), null=True, blank=True)
    # Pages fetched fine that parsed to nothing where something was expected (LayoutAlarm).
    layout_alarms = models.PositiveIntegerField(_("alarm tata letak"), default=0)

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name = _("run scrape")
        verbose_name_plural = _("run scrape")
        indexes = [models.Index(fields=["status", "-finished_at"], name="scraperun_status")]

    def __str__(self) -> str:
        return f"{self.kind} {self.started_at:%Y-%m-%d %H:%M} ({self.status})"

    @property
    def duration(self) -> timedelta | None:
        if self.finished_at is None:
            return None
        return self.finished_at - self.started_at


class EmbedHost(models.Model):
    """A host that serves stream embeds, as found by the scraper.

    The site's Content-Security-Policy allows frames from these hosts only, and the
    scraper's health check fetches nothing else besides the origin.
    """

    host = models.CharField(_("host"), max_length=255, unique=True)
    first_seen = models.DateTimeField(_("pertama terlihat"), auto_now_add=True)
    # Found by the scraper is not enough to be framed: an admin approves a new host (or it
    # is listed in EMBED_HOSTS_ALLOWED), so the origin cannot widen our CSP on its own.
    approved = models.BooleanField(_("disetujui"), default=False, db_index=True)
    last_seen = models.DateTimeField(_("terakhir terlihat"), null=True, blank=True)

    class Meta:
        ordering = ["host"]
        verbose_name = _("host embed")
        verbose_name_plural = _("host embed")

    def __str__(self) -> str:
        return self.host


class LayoutAlarm(models.Model):
    """A page the origin served that parsed to nothing where something was expected (a
    home without cards, an episode without mirrors or downloads, an anime without
    episodes): likely a changed layout. Its raw HTML is kept for an operator, for the
    latest few alarms of each page kind only (scraper.alarms prunes the rest)."""

    run = models.ForeignKey(
        ScrapeRun, on_delete=models.SET_NULL, null=True, blank=True, related_name="alarms"
    )
    page_kind = models.CharField(_("jenis halaman"), max_length=32, db_index=True)
    path = models.CharField(_("path"), max_length=500)
    reason = models.CharField(_("alasan"), max_length=500)
    html = models.TextField(_("HTML mentah"), blank=True)
    created_at = models.DateTimeField(_("waktu"), default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("alarm tata letak")
        verbose_name_plural = _("alarm tata letak")

    def __str__(self) -> str:
        return f"{self.page_kind} {self.path}"


class AlertState(models.Model):
    """One cause of alerts (``layout:episode``, ``unreachable``...): shared by every process
    so that a cause alerts at most once an hour and its recovery is announced once."""

    cause = models.CharField(_("penyebab"), max_length=100, unique=True)
    message = models.CharField(_("pesan"), max_length=1000, blank=True)
    # When the current problem was first seen; None while the cause is clear.
    since = models.DateTimeField(_("sejak"), null=True, blank=True)
    alerted_at = models.DateTimeField(_("peringatan terakhir"), null=True, blank=True)
    # An alert went out for the current problem, so its recovery is announced too.
    announced = models.BooleanField(_("sudah diumumkan"), default=False)
    cleared_at = models.DateTimeField(_("pulih"), null=True, blank=True)
    delivery_error = models.CharField(_("galat pengiriman"), max_length=500, blank=True)

    class Meta:
        ordering = ["cause"]
        # Its admin list is the "Kesehatan scraper" page (scraper/admin.py).
        verbose_name = _("kesehatan scraper")
        verbose_name_plural = _("kesehatan scraper")

    def __str__(self) -> str:
        return self.cause


class OriginMove(models.Model):
    """A domain move of the origin: adopted (the candidate served the same catalogue) or
    rejected. The current base is the newest adopted move made while OTAKUDESU_BASE_URL
    had the value recorded with it: an operator who changes the variable overrides them."""

    class Via(models.TextChoices):
        REDIRECT = "redirect", _("Redirect permanen")
        CANONICAL = "canonical", _("Tautan canonical/og:url")
        ANNOUNCEMENT = "announcement", _("Pengumuman di situs")

    old_base = models.CharField(_("origin lama"), max_length=300)
    new_base = models.CharField(_("origin baru"), max_length=300)
    via = models.CharField(_("terdeteksi dari"), max_length=16, choices=Via.choices)
    adopted = models.BooleanField(_("dipakai"), default=False)
    detail = models.TextField(_("keterangan"), blank=True)
    configured_base = models.CharField(_("OTAKUDESU_BASE_URL saat itu"), max_length=300)
    created_at = models.DateTimeField(_("waktu"), default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("perpindahan domain")
        verbose_name_plural = _("perpindahan domain")

    def __str__(self) -> str:
        return f"{self.old_base} -> {self.new_base}"


class PushSubscription(models.Model):
    """A browser's Web Push subscription for new episodes of the anime it follows.

    Nothing else about the viewer is kept: the push service's endpoint (a personal
    address: the admin shows counts, never endpoints), the keys that encrypt the message
    for that browser, and the followed anime (catalog/push.py)."""

    endpoint = models.URLField(_("endpoint"), max_length=1000)
    # The endpoint is too long for a unique index on MariaDB (utf8mb4): its SHA-256 is.
    endpoint_hash = models.CharField(max_length=64, unique=True, editable=False)
    p256dh = models.CharField(max_length=200)
    auth = models.CharField(max_length=100)
    anime = models.ManyToManyField(Anime, related_name="push_subscriptions")

    class Meta:
        verbose_name = _("langganan notifikasi")
        verbose_name_plural = _("langganan notifikasi")

    def __str__(self) -> str:
        return f"#{self.pk}"
