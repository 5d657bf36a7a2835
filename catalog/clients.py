"""Who sent a request, as far as abuse limits care, and a fixed-window rate limit on it.

The client is the site's one rule (otakusite.middleware.client_network): behind the shipped
nginx (BEHIND_PROXY) nginx's X-Real-IP, resolved from X-Forwarded-For of trusted proxies
only, else the connection's address; an IPv6 client is its /64 (one household or phone
gets a whole /64 and changes addresses in it at will).
"""

from __future__ import annotations

import hashlib

from django.core.cache import BaseCache, caches

from otakusite.middleware import client_network

__all__ = ["client_network", "rate_limited"]


def rate_limited(
    scope: str, client: str, *, limit: int, window: int, store: BaseCache | None = None
) -> bool:
    """Count one more request of `client` in `scope`; True once it passes `limit` within
    `window` seconds. The counter lives in the shared cache (every web process and host
    counts together); by default the "coordination" cache, which is never evicted."""
    store = store if store is not None else caches["coordination"]
    key = f"rate:{scope}:{hashlib.sha256(client.encode()).hexdigest()[:16]}"
    store.add(key, 0, window)
    try:
        count = store.incr(key)
    except ValueError:  # expired between add and incr
        store.set(key, 1, window)
        count = 1
    return count > limit
