"""Which embed hosts the episode pages may frame (CSP frame-src) and the scraper may fetch.

The origin does not decide what we frame: a host is allowed when settings.EMBED_HOSTS_ALLOWED
lists it or an admin approved its EmbedHost row; any other host the scraper finds is
recorded pending (never in the CSP, never framed, never fetched by the health check).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

from django.conf import settings
from django.db.models import Q

from catalog import pagecache
from catalog.models import EmbedHost
from catalog.safe_urls import safe_http_url, url_host

logger = logging.getLogger(__name__)

EMBED_HOSTS_KEY = "site:embed-hosts:v1"
EMBED_HOSTS_SECONDS = 300
# A CSP host-source we are willing to emit: hostname with an optional port, nothing that
# could close the directive or add another source.
_HOST_RE = re.compile(r"^(\*\.)?[a-z0-9.-]+(:\d{1,5})?$")


def safe_embed_url(url: str | None) -> str:
    """Only absolute http(s) URLs with a host may become an iframe's src or a link's href
    (never javascript:, data:, whatever their case or the spaces around them): the same
    test the parsers and ingest apply (catalog.safe_urls.safe_http_url)."""
    return safe_http_url(url) or ""


def csp_host(raw: str) -> str:
    """EmbedHost.host as a CSP host-source, or "" when it is not a plain host[:port]."""
    text = raw.strip().lower()
    if "://" in text:
        text = urlsplit(text).netloc
    text = text.rstrip("/")
    return text if _HOST_RE.match(text) else ""


# A policy entry is "host" (default port only, as in a CSP host-source), "host:port",
# "host:*" (any port) or "*.domain" (its subdomains, not the domain itself). Each becomes
# one regular expression, used both in Python and in the database (admin, frame hosts),
# written with the syntax SQLite's, MySQL's and MariaDB's REGEXP all read alike.
_POLICY_ENTRY_RE = re.compile(r"(\*\.)?([a-z0-9_-]+(?:\.[a-z0-9_-]+)*)(?::(\d{1,5}|\*))?")


def _policy_entry_regex(entry: str) -> str | None:
    match = _POLICY_ENTRY_RE.fullmatch(entry.strip().lower())
    if match is None:
        return None
    wildcard, host, port = match.groups()
    body = host.replace(".", "[.]")
    if wildcard:
        body = f"([a-z0-9_-]+[.])+{body}"
    if port == "*":
        body += "(:[0-9]+)?"
    elif port:
        body += f":{int(port)}"
    return body


@functools.lru_cache(maxsize=8)
def _policy_regex(entries: tuple[str, ...]) -> str | None:
    parts = []
    for entry in entries:
        if regex := _policy_entry_regex(entry):
            parts.append(regex)
        else:  # said once per process and list (cached): the operator may have typed a URL
            logger.warning("EMBED_HOSTS_ALLOWED: %r is no host pattern; ignored", entry)
    return f"^({'|'.join(parts)})$" if parts else None


def embed_policy_regex() -> str | None:
    """EMBED_HOSTS_ALLOWED as one anchored regular expression over EmbedHost.host values
    (lower-case `host[:port]`), or None when the list is empty. Malformed entries (a URL, a
    path, a space) are ignored: they could never match a host."""
    return _policy_regex(tuple(getattr(settings, "EMBED_HOSTS_ALLOWED", ()) or ()))


def host_in_policy(host: str) -> bool:
    """Whether `host[:port]` (as EmbedHost stores it) is allowed by EMBED_HOSTS_ALLOWED."""
    pattern = embed_policy_regex()
    return bool(pattern and re.match(pattern, host.lower()))


def allowed_hosts_q() -> Q:
    """EmbedHost rows that may be framed: approved in the admin or listed in the policy."""
    condition = Q(approved=True)
    if pattern := embed_policy_regex():
        condition |= Q(host__regex=pattern)
    return condition


def _embed_hosts_key() -> str:
    # Keyed on the policy too: a changed EMBED_HOSTS_ALLOWED applies after a restart at
    # once, not when the shared cache's copy expires.
    pattern = embed_policy_regex() or ""
    return f"{EMBED_HOSTS_KEY}:{hashlib.sha256(pattern.encode()).hexdigest()[:12]}"


def embed_hosts() -> list[str]:
    """The CSP frame-src host-sources of episode pages: the allowed embed hosts seen.

    A few seconds behind at most in other processes: a host approved in the admin or found
    by a mirror resolved elsewhere reaches this process's pages that much later."""

    def load() -> list[str]:
        rows = EmbedHost.objects.filter(allowed_hosts_q()).values_list("host", flat=True)
        return sorted({h for h in map(csp_host, rows) if h})

    return pagecache.recent(_embed_hosts_key(), load, EMBED_HOSTS_SECONDS)


def embed_url_allowed(url: str | None) -> bool:
    """Whether an embed URL may be framed: safe http(s), on a host the CSP can name, listed
    in the policy or approved in the admin. Asks the database (one query at most), not the
    cached frame hosts, so a host recorded a moment ago is judged at once."""
    host = url_host(url)
    if host is None or not csp_host(host):
        return False
    return host_in_policy(host) or EmbedHost.objects.filter(host=host, approved=True).exists()


def forget_embed_hosts() -> None:
    """Called after a mirror resolves (the host it found may be new) and after an admin
    approves or rejects hosts."""
    pagecache.forget_recent(_embed_hosts_key())


def host_allowed(url: str, hosts: Iterable[str]) -> bool:
    parts = urlsplit(url)
    allowed = set(hosts)
    netloc = (parts.netloc or "").lower()
    return netloc in allowed or (parts.port is None and (parts.hostname or "") in allowed)
