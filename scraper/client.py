"""The scraper's one HTTP client: every request toward otakudesu (and the embed hosts it
links to) goes through :class:`OriginClient`. This is the only module that imports httpx.

Design in short:

* One ``httpx.Client`` with browser-like headers; redirects are followed *here*, hop by
  hop, so every hop passes the host allowlist and a permanent redirect of the origin to
  another base is recognised as a domain move (logged, ``base_url`` updated, callback).
* Only the configured origin and explicitly allowed embed hosts are ever contacted; the
  check happens before any connection. Links to any ``otakudesu.<tld>`` host (real pages
  link to whichever domain was current when they were written) are rewritten onto the
  current base by :meth:`OriginClient.origin_url`.
* Each request attempt first passes a per-host min-interval rate limiter (thread-safe,
  slots are reserved under a lock, sleeping happens outside it). Transport failures, 5xx
  and 429 are retried a bounded number of times with exponential backoff and jitter, or
  after ``Retry-After`` when the server says so; other 4xx fail at once (404 as
  :class:`NotFound`). Cloudflare challenge pages raise :class:`ChallengeError` and are
  never retried; a solver hands its cookies and User-Agent over via ``set_clearance``.
* ``sleep`` and ``clock`` are injectable so tests check backoff and rate limiting without
  waiting; cookies are persisted as JSON (atomic replace) so clearance survives restarts.
"""

from __future__ import annotations

import contextlib
import email.utils
import http.cookiejar
import json
import logging
import os
import random
import re
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx

__all__ = [
    "DEFAULT_USER_AGENT",
    "ChallengeError",
    "ClientError",
    "DisallowedHost",
    "FetchError",
    "NotFound",
    "OriginClient",
    "Page",
]

logger = logging.getLogger("scraper.client")

DEFAULT_USER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)
ACCEPT_LANGUAGE = "id-ID,id;q=0.9,en;q=0.8"
ACCEPT_DOCUMENT = (
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
    "image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"
)
AJAX_PATH = "/wp-admin/admin-ajax.php"
MAX_REDIRECTS = 10

_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_PERMANENT_REDIRECTS = frozenset({301, 308})
_DEFAULT_PORTS = {"http": 80, "https": 443}
_OTAKUDESU_HOST = re.compile(r"(?:^|\.)otakudesu\.[a-z0-9-]{2,}$")
# Transport-level failures worth another attempt: the origin is flaky, not wrong.
# DecodingError covers a compressed body cut short without a Content-Length to notice it.
_RETRYABLE_ERRORS: tuple[type[Exception], ...] = (
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.RemoteProtocolError,
    httpx.DecodingError,
)
# Markers of Cloudflare's interstitial. Cloudflare also injects a `challenge-platform`
# script into ordinary 200 pages, so body markers only count on blocking statuses, except
# for the unmistakable interstitial title together with a challenge script.
_CHALLENGE_MARKERS = ("Just a moment...", "challenge-platform", "cf_chl")
_CHALLENGE_STATUSES = frozenset({403, 429, 503})


class ClientError(Exception):
    """Base class of everything the client raises on purpose."""


class FetchError(ClientError):
    """A request failed for good (after retries, or at once for a 4xx)."""

    def __init__(self, message: str, *, url: str, status: int | None, attempts: int) -> None:
        super().__init__(message)
        self.url = url
        self.status = status
        self.attempts = attempts


class NotFound(FetchError):  # noqa: N818 -- name fixed by the issue's API
    """The origin answered 404/410: the page is gone, retrying will not help."""


class ChallengeError(ClientError):
    """The origin answered with a Cloudflare challenge instead of the page."""

    def __init__(self, message: str, *, url: str, status: int) -> None:
        super().__init__(message)
        self.url = url
        self.status = status


class DisallowedHost(ClientError):  # noqa: N818 -- name fixed by the issue's API
    """A URL points at a host the client may not contact (nothing was sent)."""

    def __init__(self, message: str, *, url: str, host: str) -> None:
        super().__init__(message)
        self.url = url
        self.host = host


@dataclass(frozen=True)
class Page:
    """A fetched response: final URL after redirects, status, decoded text, headers."""

    url: str
    status: int
    text: str
    headers: Mapping[str, str]


type _HostKey = tuple[str, int]


def _host_key(url: httpx.URL) -> _HostKey:
    port = url.port if url.port is not None else _DEFAULT_PORTS.get(url.scheme, 0)
    return (url.host.rstrip(".").lower(), port)


def _netloc(key: _HostKey, scheme: str) -> str:
    host, port = key
    shown = f"[{host}]" if ":" in host else host
    return shown if _DEFAULT_PORTS.get(scheme) == port else f"{shown}:{port}"


def _is_otakudesu_host(host: str) -> bool:
    return bool(_OTAKUDESU_HOST.search(host.rstrip(".").lower()))


def _client_hints(user_agent: str) -> dict[str, str]:
    """Chrome's Sec-CH-UA headers matching ``user_agent`` (none for other browsers):
    a mismatch between the UA and its client hints is a classic bot signal."""
    match = re.search(r"(Headless)?Chrome/(\d+)", user_agent)
    if not match:
        return {}
    major = match.group(2)
    second = "HeadlessChrome" if match.group(1) else "Google Chrome"
    if "Windows" in user_agent:
        platform = "Windows"
    elif "Macintosh" in user_agent:
        platform = "macOS"
    elif "Android" in user_agent:
        platform = "Android"
    else:
        platform = "Linux"
    return {
        "Sec-CH-UA": f'"{second}";v="{major}", "Chromium";v="{major}", "Not_A Brand";v="24"',
        "Sec-CH-UA-Mobile": "?1" if "Mobile" in user_agent else "?0",
        "Sec-CH-UA-Platform": f'"{platform}"',
    }


def _is_challenge(response: httpx.Response) -> bool:
    if response.headers.get("cf-mitigated", "").lower() == "challenge":
        return True
    content_type = response.headers.get("content-type", "")
    if content_type and "html" not in content_type:
        return False
    text = response.text
    if response.status_code in _CHALLENGE_STATUSES:
        return any(marker in text for marker in _CHALLENGE_MARKERS)
    return "<title>Just a moment...</title>" in text and (
        "challenge-platform" in text or "cf_chl" in text
    )


def _retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` as seconds from now (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class _RateLimiter:
    """At most one request per ``interval`` seconds. A caller reserves the next free slot
    under the lock and sleeps outside it, so concurrent threads queue up fairly."""

    def __init__(
        self, interval: float, clock: Callable[[], float], sleep: Callable[[float], Any]
    ) -> None:
        self._interval = interval
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next_slot: float | None = None

    def acquire(self) -> None:
        with self._lock:
            now = self._clock()
            slot = now if self._next_slot is None else max(now, self._next_slot)
            self._next_slot = slot + self._interval
        wait = slot - now
        if wait > 0:
            self._sleep(wait)


class OriginClient:
    """Polite, allowlisted HTTP client toward an otakudesu origin. See the module doc."""

    def __init__(
        self,
        base_url: str,
        *,
        rate: float | None = 2.0,
        timeout: float = 20.0,
        connect_timeout: float = 10.0,
        retries: int = 4,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        max_retry_after: float = 120.0,
        cookie_path: Path | None = None,
        user_agent: str | None = None,
        sleep: Callable[[float], Any] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        transport: httpx.BaseTransport | None = None,
        on_domain_move: Callable[[str, str], Any] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        base = httpx.URL(base_url)
        if base.scheme not in _DEFAULT_PORTS or not base.host:
            raise ValueError(f"base_url must be an absolute http(s) URL, got {base_url!r}")
        self.base_url: str = self._normalise_base(base)
        self.request_count: int = 0
        self.retries = max(0, retries)
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.max_retry_after = max_retry_after
        self.on_domain_move = on_domain_move
        self._interval = 1.0 / rate if rate else 0.0
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()
        self._lock = threading.RLock()
        self._limiters: dict[_HostKey, _RateLimiter] = {}
        self._origin_key = _host_key(base)
        # Hosts allowed at any port are stored with port 0.
        self._allowed: set[_HostKey] = {self._origin_key}
        # Bases we moved away from: links to them are rewritten like otakudesu domains.
        self._former_origins: set[_HostKey] = set()
        self._cookie_path = Path(cookie_path) if cookie_path is not None else None
        self._saved_cookies: frozenset[tuple[Any, ...]] = frozenset()
        self._closed = False

        agent = user_agent or DEFAULT_USER_AGENT
        headers = {
            "User-Agent": agent,
            "Accept": ACCEPT_DOCUMENT,
            "Accept-Language": ACCEPT_LANGUAGE,
            **_client_hints(agent),
        }
        self._http = httpx.Client(
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=connect_timeout),
            follow_redirects=False,
            transport=transport,
        )
        self._load_cookies()

    # ------------------------------------------------------------------ public API

    @property
    def user_agent(self) -> str:
        return self._http.headers["User-Agent"]

    def get(self, path_or_url: str, *, params: Mapping[str, Any] | None = None) -> Page:
        """GET a page of the origin (relative path or any otakudesu URL)."""
        headers = {
            "Sec-Fetch-Dest": "document",
            "Sec-Fetch-Mode": "navigate",
            "Sec-Fetch-Site": "none",
            "Sec-Fetch-User": "?1",
            "Upgrade-Insecure-Requests": "1",
        }
        return self._request("GET", self.origin_url(path_or_url), headers=headers, params=params)

    def post_ajax(self, data: Mapping[str, str], *, referer: str | None = None) -> str:
        """POST form data to the origin's ``admin-ajax.php`` like the site's own jQuery."""
        base = httpx.URL(self.base_url)
        headers = {
            "Accept": "*/*",
            "Content-Type": "application/x-www-form-urlencoded; charset=UTF-8",
            "X-Requested-With": "XMLHttpRequest",
            "Origin": f"{base.scheme}://{_netloc(_host_key(base), base.scheme)}",
            "Referer": self.origin_url(referer) if referer else self.base_url + "/",
            "Sec-Fetch-Dest": "empty",
            "Sec-Fetch-Mode": "cors",
            "Sec-Fetch-Site": "same-origin",
        }
        page = self._request("POST", self.origin_url(AJAX_PATH), headers=headers, data=dict(data))
        return page.text

    def fetch_embed(self, url: str) -> Page:
        """GET an embed player page; its host must have been allowed with ``allow_host``."""
        target = httpx.URL(url)
        if not target.is_absolute_url:
            raise ValueError(f"embed URL must be absolute, got {url!r}")
        headers = {
            "Referer": self.base_url + "/",
            "Sec-Fetch-Dest": "iframe",
            "Sec-Fetch-Mode": "navigate",
            "Sec-Fetch-Site": "cross-site",
            "Upgrade-Insecure-Requests": "1",
        }
        return self._request("GET", str(target), headers=headers)

    def origin_url(self, path_or_url: str) -> str:
        """Absolute URL on the current base for a relative path, a link to any otakudesu
        domain or to a base we moved away from; other absolute URLs are returned as is."""
        url = httpx.URL(path_or_url)
        if not url.is_absolute_url:
            raw = str(url)
            if raw.startswith("//"):
                url = httpx.URL(f"{httpx.URL(self.base_url).scheme}:{raw}")
            else:
                return self.base_url + (raw if raw.startswith("/") else "/" + raw)
        key = _host_key(url)
        with self._lock:
            if key == self._origin_key:
                return str(url)
            foreign_origin = key in self._former_origins or _is_otakudesu_host(url.host)
        if not foreign_origin:
            return str(url)
        path = url.raw_path.decode("ascii")
        return self.base_url + (path if path.startswith("/") else "/" + path)

    def allow_host(self, host: str) -> None:
        """Allow fetching from ``host`` (``name``, ``name:port`` or a URL); without an
        explicit port every port (and so both http and https) of that host is allowed."""
        text = host.strip()
        url = httpx.URL(text if "://" in text else f"http://{text}")
        if not url.host:
            raise ValueError(f"not a host: {host!r}")
        with self._lock:
            self._allowed.add((url.host.rstrip(".").lower(), url.port or 0))

    def is_allowed(self, url: str) -> bool:
        key = _host_key(httpx.URL(url))
        with self._lock:
            return key in self._allowed or (key[0], 0) in self._allowed

    def set_clearance(
        self, cookies: Mapping[str, str] | Iterable[Mapping[str, Any]], user_agent: str
    ) -> None:
        """Adopt a browser's solved challenge: its cookies (a name→value dict for the
        origin, or Playwright-style cookie dicts) and the User-Agent they are bound to."""
        host = httpx.URL(self.base_url).host
        if isinstance(cookies, Mapping):
            items: list[Mapping[str, Any]] = [
                {"name": name, "value": value, "domain": host, "path": "/"}
                for name, value in cookies.items()
            ]
        else:
            items = list(cookies)
        for item in items:
            self._http.cookies.jar.set_cookie(_make_cookie(item, default_domain=host))
        with self._lock:
            for name in ("Sec-CH-UA", "Sec-CH-UA-Mobile", "Sec-CH-UA-Platform"):
                self._http.headers.pop(name, None)
            self._http.headers["User-Agent"] = user_agent
            self._http.headers.update(_client_hints(user_agent))
        logger.info("clearance adopted: %d cookie(s), UA %s", len(items), user_agent)
        self._save_cookies()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._save_cookies()
        finally:
            self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # ------------------------------------------------------------------ internals

    @staticmethod
    def _normalise_base(url: httpx.URL) -> str:
        path = url.raw_path.decode("ascii").split("?", 1)[0].rstrip("/")
        return f"{url.scheme}://{_netloc(_host_key(url), url.scheme)}{path}"

    def _check_host(self, url: httpx.URL) -> None:
        if url.scheme not in _DEFAULT_PORTS:
            raise DisallowedHost(f"refusing non-HTTP URL {url}", url=str(url), host=url.host)
        if not self.is_allowed(str(url)):
            host = _netloc(_host_key(url), url.scheme)
            raise DisallowedHost(
                f"refusing to contact {host}: not the origin nor an allowed embed host (URL {url})",
                url=str(url),
                host=host,
            )

    def _limiter(self, key: _HostKey) -> _RateLimiter | None:
        if not self._interval:
            return None
        with self._lock:
            limiter = self._limiters.get(key)
            if limiter is None:
                limiter = self._limiters[key] = _RateLimiter(
                    self._interval, self._clock, self._sleep
                )
            return limiter

    def _request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        params: Mapping[str, Any] | None = None,
        data: Mapping[str, str] | None = None,
    ) -> Page:
        if self._closed:
            raise ClientError("client is closed")
        current = httpx.URL(url)
        if params:
            current = current.copy_merge_params(params)
        for _hop in range(MAX_REDIRECTS + 1):
            self._check_host(current)
            response = self._send_with_retries(method, current, headers=headers, data=data)
            location = response.headers.get("location")
            if response.status_code not in _REDIRECT_STATUSES or not location:
                return Page(
                    url=str(response.url),
                    status=response.status_code,
                    text=response.text,
                    headers=response.headers,
                )
            target = current.join(location)
            if response.status_code in _PERMANENT_REDIRECTS:
                self._maybe_domain_move(current, target)
            # Browsers turn a redirected POST into a GET except for 307/308.
            if method == "POST" and response.status_code in {301, 302, 303}:
                method, data = "GET", None
            current = target
        raise FetchError(
            f"{method} {url} failed: more than {MAX_REDIRECTS} redirects",
            url=url,
            status=None,
            attempts=MAX_REDIRECTS + 1,
        )

    def _send_with_retries(
        self,
        method: str,
        url: httpx.URL,
        *,
        headers: Mapping[str, str],
        data: Mapping[str, str] | None,
    ) -> httpx.Response:
        limiter = self._limiter(_host_key(url))
        attempts = 0
        while True:
            attempts += 1
            if limiter is not None:
                limiter.acquire()
            with self._lock:
                self.request_count += 1
            try:
                # Non-streaming: the whole body is read here, so a truncated body or a
                # stalled read surfaces as an exception inside this try.
                response = self._http.request(method, url, headers=headers, data=data)
            except _RETRYABLE_ERRORS as exc:
                reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                if attempts > self.retries:
                    message = f"{method} {url} failed after {attempts} attempt(s): {reason}"
                    logger.warning("%s", message)
                    raise FetchError(message, url=str(url), status=None, attempts=attempts) from exc
                delay = self._backoff_delay(attempts)
            else:
                self._cookies_maybe_changed()
                status = response.status_code
                if _is_challenge(response):
                    raise ChallengeError(
                        f"{method} {url}: challenge page (HTTP {status})",
                        url=str(url),
                        status=status,
                    )
                if status == 429 or status >= 500:
                    reason = f"HTTP {status}"
                    if attempts > self.retries:
                        message = f"{method} {url} failed after {attempts} attempt(s): {reason}"
                        logger.warning("%s", message)
                        raise FetchError(message, url=str(url), status=status, attempts=attempts)
                    retry_after = _retry_after_seconds(response.headers.get("retry-after"))
                    if retry_after is None:
                        delay = self._backoff_delay(attempts)
                    else:
                        delay = min(retry_after, self.max_retry_after)
                elif status in {404, 410}:
                    raise NotFound(
                        f"{method} {url}: HTTP {status} (not found)",
                        url=str(url),
                        status=status,
                        attempts=attempts,
                    )
                elif status >= 400:
                    raise FetchError(
                        f"{method} {url}: HTTP {status}",
                        url=str(url),
                        status=status,
                        attempts=attempts,
                    )
                else:
                    return response
            logger.info(
                "%s %s: %s; retry %d/%d in %.2fs",
                method,
                url,
                reason,
                attempts,
                self.retries,
                delay,
            )
            if delay > 0:
                self._sleep(delay)

    def _backoff_delay(self, attempt: int) -> float:
        """Exponential backoff with jitter in [50 %, 100 %] of the step, so parallel
        workers hit by the same outage do not come back in lockstep."""
        step = min(self.max_backoff, self.backoff * 2 ** (attempt - 1))
        return step * (0.5 + 0.5 * self._rng.random())

    def _maybe_domain_move(self, source: httpx.URL, target: httpx.URL) -> None:
        """A permanent redirect of an origin page to another base is a domain move if it
        keeps the page's path (the usual whole-site move) or lands on an otakudesu host."""
        source_key, target_key = _host_key(source), _host_key(target)
        with self._lock:
            if source_key != self._origin_key or (
                target_key == source_key and source.scheme == target.scheme
            ):
                return
            old_base = self.base_url
            old_prefix = httpx.URL(old_base).raw_path.decode("ascii").rstrip("/")
            source_path = source.raw_path.decode("ascii").split("?", 1)[0]
            relative = source_path[len(old_prefix) :].rstrip("/")
            target_path = target.raw_path.decode("ascii").split("?", 1)[0].rstrip("/")
            if relative and target_path.endswith(relative):
                prefix = target_path[: len(target_path) - len(relative)]
            elif not relative and _is_otakudesu_host(target.host):
                prefix = target_path
            elif _is_otakudesu_host(target.host):
                prefix = ""
            else:
                return
            new_base = f"{target.scheme}://{_netloc(target_key, target.scheme)}{prefix}"
            self.base_url = new_base.rstrip("/")
            self._former_origins.add(source_key)
            self._former_origins.discard(target_key)
            self._origin_key = target_key
            self._allowed.add(target_key)
        logger.warning("origin moved: %s -> %s (permanent redirect)", old_base, self.base_url)
        if self.on_domain_move is not None:
            self.on_domain_move(old_base, self.base_url)

    # ------------------------------------------------------------------ cookies

    def _cookie_list(self) -> list[http.cookiejar.Cookie]:
        jar = self._http.cookies.jar
        # httpx updates the jar from worker threads under the jar's own lock; iterating
        # without it can hit "dictionary changed size during iteration".
        lock = getattr(jar, "_cookies_lock", None) or contextlib.nullcontext()
        with lock:
            return list(jar)

    def _cookie_snapshot(self) -> frozenset[tuple[Any, ...]]:
        return frozenset(
            (c.name, c.value, c.domain, c.path, c.expires) for c in self._cookie_list()
        )

    def _cookies_maybe_changed(self) -> None:
        if self._cookie_path is not None and self._cookie_snapshot() != self._saved_cookies:
            self._save_cookies()

    def _load_cookies(self) -> None:
        if self._cookie_path is None or not self._cookie_path.exists():
            return
        try:
            records = json.loads(self._cookie_path.read_text(encoding="utf-8"))
            now = time.time()
            for record in records:
                cookie = _make_cookie(record, default_domain="")
                if not cookie.is_expired(now):
                    self._http.cookies.jar.set_cookie(cookie)
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
            # A damaged jar must not stop a crawl; at worst we look like a new visitor.
            logger.warning("ignoring unreadable cookie file %s: %s", self._cookie_path, exc)
        self._saved_cookies = self._cookie_snapshot()

    def _save_cookies(self) -> None:
        if self._cookie_path is None:
            return
        with self._lock:
            cookies = self._cookie_list()
            snapshot = frozenset((c.name, c.value, c.domain, c.path, c.expires) for c in cookies)
            records = [
                {
                    "name": c.name,
                    "value": c.value,
                    "domain": c.domain,
                    "path": c.path,
                    "expires": c.expires,
                    "secure": c.secure,
                    "httpOnly": c.has_nonstandard_attr("HttpOnly")
                    or c.has_nonstandard_attr("httponly"),
                    "hostOnly": not c.domain_specified,
                }
                for c in cookies
            ]
            path = self._cookie_path
            path.parent.mkdir(parents=True, exist_ok=True)
            # Write-then-rename so a crash mid-write never leaves a truncated jar behind.
            fd, tmp_name = tempfile.mkstemp(prefix=path.name + ".", dir=path.parent)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    json.dump(records, handle, indent=1)
                Path(tmp_name).replace(path)
            except BaseException:
                with contextlib.suppress(OSError):
                    Path(tmp_name).unlink()
                raise
            self._saved_cookies = snapshot


def _make_cookie(record: Mapping[str, Any], *, default_domain: str) -> http.cookiejar.Cookie:
    """An ``http.cookiejar`` cookie from our JSON record or a Playwright cookie dict."""
    domain = str(record.get("domain") or default_domain)
    host_only = record.get("hostOnly")
    domain_specified = not host_only if host_only is not None else domain.startswith(".")
    expires = record.get("expires")
    # Playwright marks session cookies with expires == -1.
    expires_at = int(expires) if expires is not None and float(expires) >= 0 else None
    rest = {"HttpOnly": ""} if record.get("httpOnly") else {}
    return http.cookiejar.Cookie(
        version=0,
        name=str(record["name"]),
        value=str(record["value"]),
        port=None,
        port_specified=False,
        domain=domain,
        domain_specified=domain_specified,
        domain_initial_dot=domain.startswith("."),
        path=str(record.get("path") or "/"),
        path_specified=True,
        secure=bool(record.get("secure", False)),
        expires=expires_at,
        discard=expires_at is None,
        comment=None,
        comment_url=None,
        rest=rest,
    )
