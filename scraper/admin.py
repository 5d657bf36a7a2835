"""The scraper's health in the Django admin: "Kesehatan scraper" (the alert causes' list,
shown as one page with everything an operator checks), layout alarms with the pages they
kept, and the origin's domain moves. A kept page is the origin's raw HTML: it is shown
escaped, or as text/plain, never rendered."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from catalog.models import AlertState, LayoutAlarm, OriginMove
from scraper.health_status import health_summary


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records of what happened: nobody adds or edits them."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AlertState)
class ScraperHealthAdmin(ReadOnlyAdmin):
    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> TemplateResponse:
        if not self.has_view_permission(request):
            return TemplateResponse(request, "admin/base_site.html", status=403)
        context = {
            **self.admin_site.each_context(request),
            **health_summary(),
            "title": _("Kesehatan scraper"),
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/scraper_health.html", context)


@admin.register(LayoutAlarm)
class LayoutAlarmAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "page_kind", "path", "reason", "run", "raw_link"]
    list_filter = ["page_kind"]
    list_select_related = ["run"]
    fields = readonly_fields = (
        "created_at",
        "page_kind",
        "path",
        "reason",
        "run",
        "raw_link",
        "page_text",
    )

    def get_queryset(self, request: HttpRequest) -> Any:
        # Lists never show the page (it can be a megabyte); the change page loads it.
        return super().get_queryset(request).defer("html")

    @admin.display(description=_("halaman tersimpan"))
    def raw_link(self, obj: LayoutAlarm) -> str:
        url = reverse("admin:catalog_layoutalarm_raw", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, _("HTML mentah (teks)"))

    @admin.display(description=_("HTML mentah"))
    def page_text(self, obj: LayoutAlarm) -> str:
        # format_html escapes the page: the origin's markup is shown, never rendered.
        return format_html('<pre class="alarm-page">{}</pre>', obj.html)

    def get_urls(self) -> list[URLPattern]:
        raw = path(
            "<int:pk>/raw/",
            self.admin_site.admin_view(self.raw_view),
            name="catalog_layoutalarm_raw",
        )
        return [raw, *super().get_urls()]

    def raw_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if not self.has_view_permission(request):
            return HttpResponse(status=403)
        alarm = get_object_or_404(LayoutAlarm, pk=pk)
        response = HttpResponse(alarm.html, content_type="text/plain; charset=utf-8")
        response["X-Content-Type-Options"] = "nosniff"
        response["Content-Disposition"] = f'inline; filename="alarm-{alarm.pk}.html.txt"'
        return response


@admin.register(OriginMove)
class OriginMoveAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "old_base", "new_base", "via", "adopted"]
    list_filter = ["adopted", "via"]
    fields = readonly_fields = (
        "created_at",
        "old_base",
        "new_base",
        "via",
        "adopted",
        "detail",
        "configured_base",
    )
