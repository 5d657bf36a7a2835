"""Alerts to an operator: a JSON POST to ``ALERT_WEBHOOK_URL`` (Discord and Slack read
``content`` and ``text``) and/or a Telegram bot's sendMessage (``TELEGRAM_BOT_TOKEN``,
``TELEGRAM_CHAT_ID``), through the one HTTP client module (``client.post_json``).

Each cause (``layout:episode``, ``unreachable``, ``challenge``, ``move:<base>``,
``backup``) has an AlertState row shared by every process: a failing cause alerts at most
once an hour (a conditional UPDATE decides which process sends), and when it clears after
an alert went out a "recovered" message follows. Delivery problems are logged and kept on
the row; they never break the crawl that raised the alert.
"""

from __future__ import annotations

import datetime
import logging
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from catalog.models import AlertState
from scraper.client import ClientError, post_json

__all__ = [
    "REPEAT_AFTER",
    "channels",
    "connect_backup_alerts",
    "event",
    "problem",
    "recovered",
    "send",
]

logger = logging.getLogger("scraper.alerts")

REPEAT_AFTER = datetime.timedelta(hours=1)
_PREFIX = "otakusite"


def channels() -> list[str]:
    """The configured channels, by name."""
    names = []
    if settings.ALERT_WEBHOOK_URL:
        names.append("webhook")
    if settings.TELEGRAM_BOT_TOKEN and settings.TELEGRAM_CHAT_ID:
        names.append("telegram")
    return names


def send(text: str) -> list[str]:
    """Deliver ``text`` to every configured channel; returns the errors (empty: all went)."""
    message = f"[{_PREFIX}] {text}"
    errors = []
    if settings.ALERT_WEBHOOK_URL:
        # Discord reads "content" (at most 2,000 characters), Slack and most others "text".
        hook = {"content": message[:2000], "text": message}
        try:
            post_json(settings.ALERT_WEBHOOK_URL, hook, label="alert webhook")
        except ClientError as exc:
            errors.append(str(exc))
    if settings.TELEGRAM_BOT_TOKEN and settings.TELEGRAM_CHAT_ID:
        url = f"{settings.TELEGRAM_API_URL}/bot{settings.TELEGRAM_BOT_TOKEN}/sendMessage"
        payload = {
            "chat_id": settings.TELEGRAM_CHAT_ID,
            "text": message[:4000],
            "disable_web_page_preview": True,
        }
        try:
            post_json(url, payload, label="Telegram sendMessage")
        except ClientError as exc:
            errors.append(str(exc))
    for error in errors:
        logger.warning("alert not delivered: %s", error)
    return errors


def _state(cause: str) -> AlertState:
    state, _created = AlertState.objects.get_or_create(cause=cause[:100])
    return state


def _deliver(state: AlertState, text: str, now: datetime.datetime) -> bool:
    """Send ``text`` for ``state`` unless another alert of its cause went out within the
    hour (or another process claims this one first). True when it was delivered."""
    if not channels():
        return False
    previous = state.alerted_at
    claimed = (
        AlertState.objects.filter(pk=state.pk)
        .filter(Q(alerted_at__isnull=True) | Q(alerted_at__lte=now - REPEAT_AFTER))
        .update(alerted_at=now)
    )
    if not claimed:
        return False
    errors = send(text)
    delivered = len(errors) < len(channels())
    AlertState.objects.filter(pk=state.pk).update(
        announced=delivered,
        alerted_at=now if delivered else previous,
        delivery_error="; ".join(errors)[:500],
    )
    return delivered


def problem(
    cause: str,
    message: str,
    *,
    after: datetime.timedelta | None = None,
    began: datetime.datetime | None = None,
) -> bool:
    """``cause`` is failing (``message`` says how), since ``began`` (default now) unless an
    earlier report since it last cleared says longer. Alert once it has been failing for
    ``after``. True when an alert went out."""
    now = timezone.now()
    state = _state(cause)
    first = min(began, now) if began else now
    AlertState.objects.filter(pk=state.pk, since__isnull=True).update(since=first, announced=False)
    AlertState.objects.filter(pk=state.pk).update(message=message[:1000])
    state.refresh_from_db()
    if state.since is not None and after and now - state.since < after:
        return False
    return _deliver(state, message, now)


def event(cause: str, message: str) -> bool:
    """Something that happened once (a domain move): alerted, at most once an hour for
    the same ``cause``; there is nothing to recover from."""
    now = timezone.now()
    state = _state(cause)
    AlertState.objects.filter(pk=state.pk).update(message=message[:1000], since=None)
    delivered = _deliver(state, message, now)
    AlertState.objects.filter(pk=state.pk).update(announced=False, cleared_at=now)
    return delivered


def recovered(cause: str) -> bool:
    """``cause`` works again: forget the problem; when an alert about it went out, say it
    recovered. True when that message was delivered."""
    now = timezone.now()
    rows = AlertState.objects.filter(cause=cause[:100], since__isnull=False)
    owed = list(rows.filter(announced=True).values_list("message", flat=True)[:1])
    if not rows.update(since=None, announced=False, cleared_at=now) or not owed:
        return False
    text = _("Pulih: %(message)s") % {"message": owed[0]}
    errors = send(text) if channels() else ["no channel"]
    return not errors or len(errors) < len(channels())


def on_backup_finished(sender: object, status: Any, **_kwargs: Any) -> None:
    """otakusite.backups' ``backup_finished`` signal: a failed backup alerts, the next
    good one recovers. Never raises into the backup that sent it."""
    try:
        if status.ok:
            recovered("backup")
        else:
            problem("backup", _("Backup database gagal: %(error)s") % {"error": status.error})
    except Exception:
        logger.exception("backup alert failed")


def connect_backup_alerts() -> None:
    from otakusite.backups import backup_finished

    backup_finished.connect(on_backup_finished, dispatch_uid="scraper.alerts.backup")
