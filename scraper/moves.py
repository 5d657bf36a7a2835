"""Which URLs name the origin after a domain move: pure string rules (no httpx, no
Django), used by the client when a permanent redirect leaves the origin's host."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}
_OTAKUDESU_HOST = re.compile(r"(?:^|\.)otakudesu\.[a-z0-9-]{2,}$")


def is_otakudesu_host(host: str) -> bool:
    return bool(_OTAKUDESU_HOST.search(host.rstrip(".").lower()))


def moved_base(old_base: str, source: str, target: str) -> str | None:
    """The base a permanent redirect from ``source`` to ``target`` moves the origin to, or
    None when it is not a move of the whole site: the target keeps the page's path (the
    usual whole-site move), or lands on an otakudesu host."""
    old_prefix = urlsplit(old_base).path.rstrip("/")
    relative = urlsplit(source).path[len(old_prefix) :].rstrip("/")
    parts = urlsplit(target)
    host = parts.hostname or ""
    target_path = parts.path.rstrip("/")
    if relative and target_path.endswith(relative):
        prefix = target_path[: len(target_path) - len(relative)]
    elif not relative and (not target_path or is_otakudesu_host(host)):
        prefix = target_path  # the home page: root to root is the whole site too
    elif is_otakudesu_host(host):
        prefix = ""
    else:
        return None
    host = host.rstrip(".")
    shown = f"[{host}]" if ":" in host else host
    port = parts.port
    if port is not None and port != _DEFAULT_PORTS.get(parts.scheme):
        shown = f"{shown}:{port}"
    return f"{parts.scheme}://{shown}{prefix}".rstrip("/")
