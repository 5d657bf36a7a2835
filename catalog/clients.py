"""Who sent a request, as far as abuse limits care, and a fixed-window rate limit on it.

Behind the shipped nginx (BEHIND_PROXY) the client is nginx's X-Real-IP: nginx resolves it
from X-Forwarded-For of trusted proxies only (deploy/nginx/nginx.conf, set_real_ip_from),
so a viewer cannot pick it. Without the proxy it is the connection's address. An IPv6
client is its /64: one household or phone gets a whole /64 and changes addresses in it
at will, so counting single addresses would let it count as many clients as it likes.
"""

from __future__ import annotations

import hashlib
import ipaddress

from django.conf import settings
from django.core.cache import BaseCache, caches
from django.http import HttpRequest


def client_network(request: HttpRequest) -> str:
    address = request.META.get("REMOTE_ADDR", "")
    if getattr(settings, "SECURE_PROXY_SSL_HEADER", None):  # BEHIND_PROXY: nginx's real IP
        address = request.headers.get("X-Real-IP", address)
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return address.strip()[:64]  # a unix socket, a test client: still one client
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:  # ::ffff:a.b.c.d from a dual-stack socket
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


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
