"""Error reporting to Sentry, only when ``SENTRY_DSN`` is set (called from settings.py).

Without a DSN nothing is initialised and nothing leaves the machine; Django's own
fallback, an e-mail to ``ADMINS`` for each unhandled error, works either way.
"""

from __future__ import annotations


def init_sentry(
    *,
    dsn: str,
    environment: str,
    release: str,
    sample_rate: float,
    traces_sample_rate: float,
) -> bool:
    """``sentry_sdk.init`` with the Django integration; returns whether it was called."""
    if not dsn:
        return False
    import sentry_sdk
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=dsn,
        integrations=[DjangoIntegration()],
        environment=environment or None,
        release=release or None,
        # Viewers' IP addresses, cookies and the admin's user never leave the site.
        send_default_pii=False,
        sample_rate=sample_rate,
        # Performance tracing costs on every request: off unless asked for.
        traces_sample_rate=traces_sample_rate,
    )
    return True
