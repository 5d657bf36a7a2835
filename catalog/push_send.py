"""Sends one Web Push message through pywebpush (VAPID signature, RFC 8291 aes128gcm).

pywebpush sends with `requests`, a second HTTP stack next to scraper/client.py's httpx. That
is acceptable here: these requests go to the browsers' push services, not to the origin,
so the scraper's request budget, pacing and challenge handling do not apply, and the issue
names pywebpush for the VAPID and encryption work. The session below still never follows
a redirect: an endpoint was checked when it was stored, a redirect's target was not.
"""

from __future__ import annotations

import enum
import json
import logging
from typing import Any

import requests
from django.conf import settings
from pywebpush import WebPushException, webpush  # type: ignore[import-untyped]

logger = logging.getLogger("catalog.push")

TIMEOUT_SECONDS = 10.0


class Outcome(enum.Enum):
    SENT = "sent"
    GONE = "gone"  # 404/410: the browser dropped the subscription
    FAILED = "failed"


class _NoRedirectSession(requests.Session):
    def post(self, url: Any, data: Any = None, json: Any = None, **kwargs: Any) -> Any:
        kwargs["allow_redirects"] = False
        return super().post(url, data=data, json=json, **kwargs)


def send(*, endpoint: str, p256dh: str, auth: str, payload: dict[str, str], ttl: int) -> Outcome:
    try:
        with _NoRedirectSession() as session:
            webpush(
                subscription_info={"endpoint": endpoint, "keys": {"p256dh": p256dh, "auth": auth}},
                data=json.dumps(payload, ensure_ascii=False),
                vapid_private_key=settings.VAPID_PRIVATE_KEY,
                # A fresh dict each time: pywebpush writes aud and exp into it.
                vapid_claims={"sub": settings.VAPID_SUBJECT},
                content_encoding="aes128gcm",
                timeout=TIMEOUT_SECONDS,
                ttl=ttl,
                requests_session=session,
            )
    except WebPushException as exc:
        status = exc.response.status_code if exc.response is not None else None
        if status in {404, 410}:
            return Outcome.GONE
        logger.warning("push to %s failed: HTTP %s", _service(endpoint), status)
        return Outcome.FAILED
    except (requests.RequestException, ValueError) as exc:
        logger.warning("push to %s failed: %s", _service(endpoint), type(exc).__name__)
        return Outcome.FAILED
    return Outcome.SENT


def _service(endpoint: str) -> str:
    """The push service's host only: the full endpoint is personal data, kept out of logs."""
    return endpoint.split("/")[2] if endpoint.count("/") >= 2 else "?"
