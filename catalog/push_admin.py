"""Push subscriptions in the admin: how many there are and how many anime each follows.
Endpoints and keys are personal data (a browser's address at its push service): never
shown, and nobody adds or edits a subscription by hand; deleting one stops its messages."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from catalog.models import PushSubscription


@admin.register(PushSubscription)
class PushSubscriptionAdmin(admin.ModelAdmin):
    list_display = ("__str__", "anime_count")
    fields = ("anime_count",)
    readonly_fields = ("anime_count",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[PushSubscription]:
        return super().get_queryset(request).annotate(followed=Count("anime"))

    @admin.display(description=_("anime diikuti"), ordering="followed")
    def anime_count(self, obj: Any) -> int:
        return int(obj.followed)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
