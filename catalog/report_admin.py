"""What viewers reported broken ("Lapor rusak", catalog/mirror_reports.py), in the admin:
a "laporan" column and a "dilaporkan" filter on mirrors and on episodes, and an action
that clears the reports (after an editor fixed or checked the mirror by hand)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from catalog import mirror_reports
from catalog.models import Episode, StreamLink

# The annotation episode querysets carry: open reports over all the episode's mirrors.
EPISODE_REPORTS = "mirror_reports_open"


class ReportedFilter(admin.SimpleListFilter):
    title = _("dilaporkan")
    parameter_name = "dilaporkan"
    field = "open_reports"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("yes", _("ada laporan rusak")), ("no", _("tidak ada laporan"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "yes":
            return queryset.filter(**{f"{self.field}__gt": 0})
        if self.value() == "no":
            return queryset.filter(**{self.field: 0})
        return queryset


class EpisodeReportedFilter(ReportedFilter):
    field = EPISODE_REPORTS


def link_reports(qs: QuerySet[StreamLink]) -> QuerySet[StreamLink]:
    return mirror_reports.with_report_counts(qs)


def episode_reports(qs: QuerySet[Episode]) -> QuerySet[Episode]:
    recent = mirror_reports.open_reports_q(prefix="stream_links__")
    return qs.annotate(**{EPISODE_REPORTS: Count("stream_links__reports", filter=recent)})


def report_count(obj: Any) -> int:
    return int(getattr(obj, "open_reports", 0) or 0)


def clear_for_links(model_admin: admin.ModelAdmin, request: HttpRequest, link_ids: Any) -> None:
    deleted = mirror_reports.clear_reports(link_ids=link_ids)
    model_admin.message_user(
        request,
        ngettext(
            "%(n)d laporan rusak dihapus.",
            "%(n)d laporan rusak dihapus.",
            deleted,
        )
        % {"n": deleted},
    )


@admin.action(description=_("Hapus laporan rusak mirror yang dipilih"))
def clear_link_reports(
    model_admin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[StreamLink]
) -> None:
    clear_for_links(model_admin, request, queryset.values_list("pk", flat=True))


@admin.action(description=_("Hapus laporan rusak semua mirror episode yang dipilih"))
def clear_episode_reports(
    model_admin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Episode]
) -> None:
    links = StreamLink.objects.filter(episode__in=queryset.values("pk"))
    clear_for_links(model_admin, request, links.values_list("pk", flat=True))
