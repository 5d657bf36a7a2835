"""The posters in the Anime admin: each anime's poster state (column with the stored copy's
thumbnail, and a filter) and the action "Ambil ulang poster", which makes the selected
posters due again and queues the worker's poster task for them."""

from __future__ import annotations

import logging
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from catalog import posters
from catalog.models import Anime
from catalog.poster_state import FETCH_TASK, STATE_Q, PosterState, state_of
from catalog.services import refetch_posters

logger = logging.getLogger("catalog.posters")


class PosterStateFilter(admin.SimpleListFilter):
    title = _("poster")
    parameter_name = "poster"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return list(PosterState.choices)

    def queryset(self, request: HttpRequest, queryset: QuerySet[Anime]) -> QuerySet[Anime]:
        value = self.value()
        if value in PosterState.values:
            return queryset.filter(STATE_Q[PosterState(value)])
        return queryset


class PosterAdminMixin(admin.ModelAdmin):
    """Mixed into AnimeAdmin: list_display "poster_status", list_filter PosterStateFilter,
    action "refetch_posters". Everything shown comes from the row itself (no query)."""

    class Media:
        css = {"all": ["css/admin-posters.css"]}  # no inline styles: CSP

    @admin.display(description=_("poster"))
    def poster_status(self, obj: Anime) -> str:
        state = state_of(
            poster_url=obj.poster_url,
            poster_key=obj.poster_key,
            poster_source=obj.poster_source,
            tries=obj.poster_tries,
        )
        label = format_html(
            '<span class="poster-state poster-state-{}">{}</span>', state.value, state.label
        )
        src = posters.poster_src(obj)
        if not src:
            return label
        return format_html(
            '<img class="poster-thumb" src="{}" alt="" width="45" height="64" loading="lazy"> {}',
            src,
            label,
        )

    @admin.action(description=_("Ambil ulang poster"), permissions=["change"])
    def refetch_posters(self, request: HttpRequest, queryset: QuerySet[Anime]) -> None:
        ids = refetch_posters(anime_ids=queryset.values_list("pk", flat=True))
        skipped = queryset.count() - len(ids)
        if ids:
            self._queue(request, ids)
        if skipped:
            self.message_user(
                request,
                ngettext(
                    "%(n)d anime dilewati: sumber tidak memberi URL poster.",
                    "%(n)d anime dilewati: sumber tidak memberi URL poster.",
                    skipped,
                )
                % {"n": skipped},
                messages.WARNING,
            )

    def _queue(self, request: HttpRequest, ids: list[int]) -> None:
        try:
            from django_q.tasks import async_task

            async_task(FETCH_TASK, anime_ids=ids, task_name="posters")
        except Exception:
            # Still due: the poster task queued after the next crawl fetches them.
            logger.exception("posters: could not queue the refetch of %d anime", len(ids))
            self.message_user(
                request,
                _(
                    "Antrean tugas tidak bisa dihubungi: poster terpilih akan diambil "
                    "setelah pembaruan berikutnya."
                ),
                messages.WARNING,
            )
            return
        self.message_user(
            request,
            ngettext(
                "Poster %(n)d anime diantrekan untuk diambil ulang.",
                "Poster %(n)d anime diantrekan untuk diambil ulang.",
                len(ids),
            )
            % {"n": len(ids)},
            messages.SUCCESS,
        )
