"""Django admin over everything the scraper stores.

Changelists select or annotate what their columns show, so a catalogue of thousands of
anime costs a fixed handful of queries per page (tests/test_admin.py asserts it).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import Case, Count, QuerySet, Value, When
from django.db.models.expressions import Combinable
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from catalog import report_admin
from catalog.embed_policy import allowed_hosts_q, forget_embed_hosts
from catalog.embed_policy import host_in_policy as embed_host_in_policy
from catalog.models import (
    PAGE_RETRY_LIMIT,
    Anime,
    Batch,
    DownloadLink,
    EmbedHost,
    Episode,
    Genre,
    ScrapeRun,
    StreamLink,
)
from catalog.poster_admin import PosterAdminMixin, PosterStateFilter
from catalog.services import bump_versions


class BumpsAnimeVersion(admin.ModelAdmin):
    """An editor's fix shows on the site at once: pages are cached on Anime.version."""

    def anime_ids(self, obj: Any) -> list[int]:
        raise NotImplementedError

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        bump_versions(anime_ids=self.anime_ids(form.instance))

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        ids = self.anime_ids(obj)
        super().delete_model(request, obj)
        bump_versions(anime_ids=ids)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        ids = [pk for obj in queryset for pk in self.anime_ids(obj)]
        super().delete_queryset(request, queryset)
        bump_versions(anime_ids=ids)


@admin.register(Genre)
class GenreAdmin(BumpsAnimeVersion):
    list_display = ["name", "slug", "anime_count"]
    search_fields = ["name", "slug"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Genre]:
        return super().get_queryset(request).annotate(n_anime=Count("anime"))

    @admin.display(description=_("anime"), ordering="n_anime")
    def anime_count(self, obj: Genre) -> int:
        return obj.n_anime  # type: ignore[attr-defined]  # annotated by get_queryset

    def anime_ids(self, obj: Genre) -> list[int]:
        return list(obj.anime.values_list("pk", flat=True))


class BatchInline(admin.TabularInline):
    model = Batch
    extra = 0
    fields = ["slug", "title", "last_scraped_at"]
    show_change_link = True


@admin.register(Anime)
class AnimeAdmin(PosterAdminMixin, BumpsAnimeVersion):
    list_display = [
        "title",
        "slug",
        "type",
        "status",
        "score",
        "total_episodes",
        "episode_count",
        "poster_status",
        "last_scraped_at",
    ]
    list_filter = ["status", "type", PosterStateFilter, "genres"]
    actions = ["refetch_posters"]
    search_fields = ["title", "title_japanese", "slug"]
    readonly_fields = ["created_at", "updated_at", "version", "episode_links", "poster_status"]
    filter_horizontal = ["genres"]
    inlines = [BatchInline]
    list_per_page = 50
    fieldsets = [
        (None, {"fields": ["slug", "title", "title_japanese", "status", "type", "genres"]}),
        (
            _("Info"),
            {
                "fields": [
                    "score",
                    "total_episodes",
                    "duration",
                    "release_date",
                    "release_date_text",
                    "release_day",
                    "studios",
                    "producers",
                    "poster_url",
                    "poster_status",
                    "synopsis",
                    "lengkap_slug",
                ]
            },
        ),
        (_("Episode"), {"fields": ["episode_links"]}),
        (_("Riwayat"), {"fields": ["created_at", "updated_at", "last_scraped_at", "version"]}),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Anime]:
        return super().get_queryset(request).annotate(n_episodes=Count("episodes"))

    @admin.display(description=_("episode"), ordering="n_episodes")
    def episode_count(self, obj: Anime) -> int:
        return obj.n_episodes  # type: ignore[attr-defined]  # annotated by get_queryset

    def anime_ids(self, obj: Anime) -> list[int]:
        return [obj.pk]

    @admin.display(description=_("daftar episode"))
    def episode_links(self, obj: Anime) -> str:
        # A plain link list, not an inline: an anime may have hundreds of episodes and an
        # inline would render a form (and its queries) for each of them.
        episodes = obj.episodes.order_by("number", "id").only("id", "title", "number")
        items = format_html_join(
            "",
            '<li><a href="{}">{}</a></li>',
            ((reverse("admin:catalog_episode_change", args=[e.pk]), e.title) for e in episodes),
        )
        return format_html("<ol>{}</ol>", items) if items else "-"


class StreamLinkInline(admin.TabularInline):
    model = StreamLink
    extra = 0
    fields = [
        "quality",
        "provider",
        "position",
        "token_id",
        "token_i",
        "token_q",
        "is_default",
        "embed_url",
        "resolved_at",
        "ok",
        "checked_at",
        "last_error",
        "reports",
    ]
    readonly_fields = ["reports"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[StreamLink]:
        return report_admin.link_reports(super().get_queryset(request))

    @admin.display(description=_("laporan rusak"))
    def reports(self, obj: StreamLink) -> int:
        return report_admin.report_count(obj)


class DownloadLinkInline(admin.TabularInline):
    model = DownloadLink
    extra = 0
    fields = ["format", "quality", "provider", "url", "size_text", "size_bytes", "position"]


class PageMissingFilter(admin.SimpleListFilter):
    """Episodes stored from their anime's page whose own page (mirrors, downloads) could
    not be read: retried by the updates with a growing pause, up to a limit; past it they
    wait for an operator (fix the cause, then crawl the anime or use the action below)."""

    title = _("halaman episode")
    parameter_name = "page_missing"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [
            ("yes", _("data halaman belum ada")),
            ("retrying", _("belum ada, dicoba lagi otomatis")),
            ("stopped", _("belum ada, berhenti dicoba (perlu operator)")),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Episode]) -> QuerySet[Episode]:
        missing = queryset.filter(post_id__isnull=True)
        if self.value() == "yes":
            return missing
        if self.value() == "retrying":
            return missing.filter(page_attempts__lt=PAGE_RETRY_LIMIT)
        if self.value() == "stopped":
            return missing.filter(page_attempts__gte=PAGE_RETRY_LIMIT)
        return queryset


@admin.register(Episode)
class EpisodeAdmin(BumpsAnimeVersion):
    list_display = [
        "title",
        "anime",
        "number",
        "published_on",
        "post_id",
        "page_attempts",
        "mirror_reports",
        "last_scraped_at",
    ]
    list_select_related = ["anime"]
    list_filter = [
        PageMissingFilter,
        report_admin.EpisodeReportedFilter,
        "anime__status",
        "published_on",
    ]
    actions = ["retry_page_now", report_admin.clear_episode_reports]
    search_fields = ["title", "slug", "anime__title"]
    raw_id_fields = ["anime"]
    readonly_fields = ["created_at", "updated_at"]
    inlines = [StreamLinkInline, DownloadLinkInline]
    date_hierarchy = "published_on"
    list_per_page = 50
    show_full_result_count = False

    def anime_ids(self, obj: Episode) -> list[int]:
        return [obj.anime_id]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Episode]:
        return report_admin.episode_reports(super().get_queryset(request))

    @admin.display(description=_("laporan rusak"), ordering=report_admin.EPISODE_REPORTS)
    def mirror_reports(self, obj: Episode) -> int:
        return int(getattr(obj, report_admin.EPISODE_REPORTS, 0) or 0)

    @admin.action(description=_("Ambil ulang halaman episode pada pembaruan berikutnya"))
    def retry_page_now(self, request: HttpRequest, queryset: QuerySet[Episode]) -> None:
        # Bookkeeping only (the page shows nothing of it): the next update fetches them.
        n = queryset.filter(post_id__isnull=True).update(
            page_attempts=0, page_retry_at=timezone.now(), page_error=""
        )
        self.message_user(
            request,
            ngettext(
                "%(n)d episode diambil ulang pada pembaruan berikutnya.",
                "%(n)d episode diambil ulang pada pembaruan berikutnya.",
                n,
            )
            % {"n": n},
        )


@admin.register(Batch)
class BatchAdmin(BumpsAnimeVersion):
    list_display = ["title", "slug", "anime", "last_scraped_at"]
    list_select_related = ["anime"]
    search_fields = ["title", "slug", "anime__title"]
    raw_id_fields = ["anime"]
    inlines = [DownloadLinkInline]

    def anime_ids(self, obj: Batch) -> list[int]:
        return [obj.anime_id]


@admin.register(StreamLink)
class StreamLinkAdmin(BumpsAnimeVersion):
    list_display = [
        "episode",
        "quality",
        "provider",
        "is_default",
        "resolved",
        "ok",
        "checked_at",
        "reports",
    ]
    list_select_related = ["episode"]
    list_filter = [report_admin.ReportedFilter, "quality", "is_default", "ok", "provider"]
    actions = [report_admin.clear_link_reports]
    search_fields = ["episode__title", "episode__slug", "provider"]
    raw_id_fields = ["episode"]
    show_full_result_count = False

    @admin.display(description=_("di-resolve"), boolean=True)
    def resolved(self, obj: StreamLink) -> bool:
        return bool(obj.embed_url)

    def get_queryset(self, request: HttpRequest) -> QuerySet[StreamLink]:
        return report_admin.link_reports(super().get_queryset(request))

    @admin.display(description=_("laporan rusak"), ordering="open_reports")
    def reports(self, obj: StreamLink) -> int:
        return report_admin.report_count(obj)

    def anime_ids(self, obj: StreamLink) -> list[int]:
        return [obj.episode.anime_id]


@admin.register(DownloadLink)
class DownloadLinkAdmin(BumpsAnimeVersion):
    list_display = ["owner", "format", "quality", "provider", "size_text"]
    list_select_related = ["episode", "batch"]
    list_filter = ["format", "quality", "provider"]
    search_fields = ["episode__title", "batch__title", "provider"]
    raw_id_fields = ["episode", "batch"]
    show_full_result_count = False

    @admin.display(description=_("milik"))
    def owner(self, obj: DownloadLink) -> str:
        return str(obj.episode or obj.batch)

    def anime_ids(self, obj: DownloadLink) -> list[int]:
        owner = obj.episode or obj.batch
        return [owner.anime_id] if owner else []


@admin.register(ScrapeRun)
class ScrapeRunAdmin(admin.ModelAdmin):
    list_display = [
        "started_at",
        "kind",
        "status_label",
        "dry_run",
        "pages_fetched",
        "requests_made",
        "created",
        "updated",
        "unchanged",
        "error_count",
        # Pages that arrived but parsed to nothing expected (the "Kesehatan scraper" page).
        "layout_alarms",
        "finished_at",
        # Who runs it and its last sign of life: a running run whose heartbeat is older
        # than SCRAPER_RUN_STALE_SECONDS is dead and gets closed as interrupted.
        "owner",
        "heartbeat_at",
    ]
    # A date filter, not date_hierarchy: the latter needs MySQL's time zone tables.
    list_filter = ["status", "kind", "dry_run", "started_at"]
    search_fields = ["kind", "errors", "base_url", "owner"]
    ordering = ["-started_at", "-id"]

    class Media:
        css = {"all": ["css/admin-runs.css"]}  # the status colours (no inline styles: CSP)

    @admin.display(description=_("status"), ordering="status")
    def status_label(self, obj: ScrapeRun) -> str:
        # A coloured label: a partial run (some pages failed) must not look like an ok one.
        return format_html(
            '<span class="run-status run-status-{}">{}</span>', obj.status, obj.get_status_display()
        )

    # A run is a record of what happened: nobody edits history.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: ScrapeRun | None = None) -> bool:
        return False


class EmbedHostStatusFilter(admin.SimpleListFilter):
    title = _("status")
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("pending", _("menunggu persetujuan")), ("allowed", _("diizinkan"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[EmbedHost]) -> QuerySet[EmbedHost]:
        if self.value() == "pending":
            return queryset.exclude(allowed_hosts_q())
        if self.value() == "allowed":
            return queryset.filter(allowed_hosts_q())
        return queryset


@admin.register(EmbedHost)
class EmbedHostAdmin(admin.ModelAdmin):
    """Which hosts the episode pages may frame (CSP frame-src) and the health check may
    fetch: those listed in EMBED_HOSTS_ALLOWED and those approved here. A host the scraper
    found otherwise waits here, listed first, until an admin approves or rejects it."""

    list_display = ["host", "status", "first_seen", "last_seen"]
    list_filter = [EmbedHostStatusFilter]
    search_fields = ["host"]
    readonly_fields = ["host", "first_seen", "last_seen"]
    fields = ["host", "approved", "first_seen", "last_seen"]
    actions = ["approve_hosts", "reject_hosts"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Hosts come from the scraper; the list of always-allowed ones is a setting.
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[EmbedHost]:
        # Not super(): ModelAdmin.get_queryset orders by get_ordering() before this
        # annotation, which that ordering uses, exists.
        allowed = Case(When(allowed_hosts_q(), then=Value(1)), default=Value(0))
        return EmbedHost.objects.annotate(is_allowed=allowed).order_by(*self.get_ordering(request))

    def get_ordering(self, request: HttpRequest) -> list[str | Combinable]:
        return ["is_allowed", "-first_seen", "host"]  # pending first, newest first

    @admin.display(description=_("status"), ordering="is_allowed")
    def status(self, obj: EmbedHost) -> str:
        if embed_host_in_policy(obj.host):
            return str(_("diizinkan (EMBED_HOSTS_ALLOWED)"))
        if obj.approved:
            return str(_("disetujui admin"))
        return str(_("menunggu persetujuan"))

    def save_model(self, request: HttpRequest, obj: EmbedHost, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        forget_embed_hosts()

    def delete_model(self, request: HttpRequest, obj: EmbedHost) -> None:
        super().delete_model(request, obj)
        forget_embed_hosts()

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[EmbedHost]) -> None:
        super().delete_queryset(request, queryset)
        forget_embed_hosts()

    @admin.action(description=_("Setujui host terpilih (boleh di-frame)"), permissions=["change"])
    def approve_hosts(self, request: HttpRequest, queryset: QuerySet[EmbedHost]) -> None:
        count = queryset.filter(approved=False).update(approved=True)
        forget_embed_hosts()
        self.message_user(
            request,
            ngettext(
                "%(count)d host embed disetujui: halaman episode kini boleh memuatnya.",
                "%(count)d host embed disetujui: halaman episode kini boleh memuatnya.",
                count,
            )
            % {"count": count},
            messages.SUCCESS,
        )

    @admin.action(description=_("Tolak host terpilih (hapus)"), permissions=["delete"])
    def reject_hosts(self, request: HttpRequest, queryset: QuerySet[EmbedHost]) -> None:
        # No "rejected" state is stored: the row goes. The site frames nothing from it; if
        # the origin keeps naming it, the scraper records it again as pending (and logs it).
        in_policy = [h.host for h in queryset if embed_host_in_policy(h.host)]
        count, _deleted = queryset.delete()
        forget_embed_hosts()
        self.message_user(
            request,
            ngettext(
                "%(count)d host embed ditolak dan dihapus.",
                "%(count)d host embed ditolak dan dihapus.",
                count,
            )
            % {"count": count},
            messages.SUCCESS,
        )
        if in_policy:
            self.message_user(
                request,
                _("Tetap diizinkan oleh EMBED_HOSTS_ALLOWED (ubah setting itu): %(hosts)s")
                % {"hosts": ", ".join(sorted(in_policy))},
                messages.WARNING,
            )


# Web Push subscriptions: counts only (catalog/push_admin.py).
from catalog import push_admin  # noqa: E402, F401
