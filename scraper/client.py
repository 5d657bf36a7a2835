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
* Each request attempt, retries included, first takes a slot of its host's request budget
  (:mod:`scraper.budget`): one budget per host shared by every process and thread (on
  Redis when configured). A client is in the ``crawl`` lane (waits for a free slot and
  lets viewers go first) or the ``viewer`` lane (reserves a slot, but gives up with
  :class:`BudgetExhausted` rather than wait more than ``max_budget_wait`` seconds in all).
  Transport failures, 5xx and 429 are retried a bounded number of times with exponential
  backoff and jitter, or after ``Retry-After`` when the server says so (which also pushes
  the host's budget back for everybody); other 4xx fail at once (404 as
  :class:`NotFound`). Cloudflare challenge pages raise :class:`ChallengeError` and are
  never retried; a solver hands its cookies and User-Agent over via ``set_clearance``.
* ``sleep`` and ``clock`` are injectable so tests check backoff and rate limiting without
  waiting (a client given its own clock gets a budget of its own on that clock).
* Cookies and the User-Agent bound to a clearance live in a shared jar
  (:func:`scraper.budget.shared_jar`: Redis, or ``cookie_path`` without Redis). A client
  publishes only the cookies that changed in its own jar, stamped with when they changed,
  and the jar keeps the newest of each: a client holding an old copy can never overwrite a
  newer clearance. Before each request a client picks up what others published.
"""

from __future__ import annotations

import contextlib
import email.utils
import http.cookiejar
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx

from scraper.budget import (
    UA_FIELD,
    Budget,
    JarState,
    Lane,
    LocalBudget,
    SharedJar,
    cookie_field,
    shared_budget,
    shared_jar,
)

__all__ = [
    "DEFAULT_USER_AGENT",
    "BudgetExhausted",
    "ChallengeError",
    "ClientError",
    "DisallowedHost",
    "FetchError",
    "Lane",
    "NotFound",
    "OriginClient",
    "FetchedPage",
    "make_client",
    "make_viewer_client",
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
# The longest a host's Retry-After closes its budget for every client.
MAX_HOST_PAUSE = 300.0

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


class BudgetExhausted(ClientError):  # noqa: N818 -- reads better at the call sites
    """No request slot toward ``host`` within the caller's wait limit (a viewer's request
    when the origin's budget is spent); nothing was sent. Ask again in ``retry_after`` s."""

    def __init__(self, message: str, *, url: str, host: str, retry_after: float) -> None:
        super().__init__(message)
        self.url = url
        self.host = host
        self.retry_after = retry_after


class DisallowedHost(ClientError):  # noqa: N818 -- name fixed by the issue's API
    """A URL points at a host the client may not contact (nothing was sent)."""

    def __init__(self, message: str, *, url: str, host: str) -> None:
        super().__init__(message)
        self.url = url
        self.host = host


@dataclass(frozen=True)
class FetchedPage:
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
        lane: Lane = Lane.CRAWL,
        max_budget_wait: float | None = None,
        budget: Budget | None = None,
        jar: SharedJar | None = None,
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
        self.lane = Lane(lane)
        # A viewer's whole request (several origin requests, retries) waits at most this
        # long for budget slots in total; None waits as long as it takes (crawls).
        self.max_budget_wait = max_budget_wait
        self._budget_left = max_budget_wait if max_budget_wait is not None else 0.0
        self._budget: Budget | None = None
        # Send-time spacing (Budget.claim) needs a clock that moves while we sleep.
        self._claims = False
        if self._interval:
            if budget is not None:
                self._budget, self._claims = budget, True
            elif clock is not time.monotonic:
                # A test's clock: slots measured on it cannot be shared with real clients,
                # and this one client needs no send-time check against others.
                self._budget = LocalBudget(clock=clock)
            else:
                self._budget, self._claims = shared_budget(), True
        self._origin_key = _host_key(base)
        # Hosts allowed at any port are stored with port 0.
        self._allowed: set[_HostKey] = {self._origin_key}
        # Bases we moved away from: links to them are rewritten like otakudesu domains.
        self._former_origins: set[_HostKey] = set()
        self._cookie_path = Path(cookie_path) if cookie_path is not None else None
        if jar is None and self._cookie_path is not None:
            jar = shared_jar(self._cookie_path)
        self._jar = jar
        self._jar_version: str | None = None
        # What this client last read from or wrote to the shared jar, by field: a cookie
        # whose value differs from it changed here and is published with a new stamp.
        self._known: dict[str, dict[str, Any]] = {}
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

    def get(self, path_or_url: str, *, params: Mapping[str, Any] | None = None) -> FetchedPage:
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

    def fetch_embed(self, url: str) -> FetchedPage:
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
        stamp = time.time()
        fresh: list[dict[str, Any]] = []
        for item in items:
            cookie = _make_cookie(item, default_domain=host)
            self._http.cookies.jar.set_cookie(cookie)
            fresh.append({**_cookie_record(cookie), "set_at": stamp})
        self._use_user_agent(user_agent)
        # The UA is published with the cookies: the clearance is worthless with another.
        fresh.append({"kind": UA_FIELD, "value": user_agent, "set_at": stamp})
        logger.info("clearance adopted: %d cookie(s), UA %s", len(items), user_agent)
        self._publish(fresh)

    def spend_wait(self, seconds: float) -> None:
        """Count time spent waiting on this client's behalf elsewhere (another process
        fetching what it needs) against its ``max_budget_wait``."""
        if self.max_budget_wait is not None:
            with self._lock:
                self._budget_left -= seconds

    @property
    def wait_left(self) -> float | None:
        """What remains of ``max_budget_wait`` (None: no limit)."""
        if self.max_budget_wait is None:
            return None
        with self._lock:
            return max(0.0, self._budget_left)

    def cookie(self, name: str) -> str | None:
        """The value of a cookie in this client's jar (any domain), or None."""
        return next((c.value for c in self._cookie_list() if c.name == name), None)

    def sync_cookies(self) -> bool:
        """Take what other clients published to the shared jar since we last looked
        (a clearance solved in another process); True when anything was adopted."""
        if self._jar is None:
            return False
        version = self._jar.version()
        if version == self._jar_version:
            return False
        return self._apply(self._jar.load())

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._cookies_maybe_changed()
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

    def _take_slot(self, url: httpx.URL) -> None:
        """Wait for a slot of ``url``'s host in the shared budget (see the module doc)."""
        if self._budget is None:
            return
        host = "{}:{}".format(*_host_key(url))
        while True:
            limited = self.max_budget_wait is not None
            with self._lock:
                max_wait = max(0.0, self._budget_left) if limited else None
            grant = self._budget.take(
                host, interval=self._interval, lane=self.lane, max_wait=max_wait
            )
            if grant.granted:
                if limited:
                    with self._lock:
                        self._budget_left -= grant.wait
                if grant.wait > 0:
                    self._sleep(grant.wait)
                self._claim(host)
                return
            if max_wait is not None and (self.lane == Lane.VIEWER or grant.wait > max_wait):
                raise BudgetExhausted(
                    f"no request slot toward {host} within {max_wait:.1f}s "
                    f"(next in {grant.wait:.1f}s): the request budget is spent",
                    url=str(url),
                    host=host,
                    retry_after=grant.wait,
                )
            if limited:
                with self._lock:
                    self._budget_left -= grant.wait
            # The crawl lane never reserves ahead: wait until a slot is free and ask again
            # (a viewer may take it first, which is the point).
            self._sleep(grant.wait)

    def _claim(self, host: str) -> None:
        """Check the slot at send time: a sleep that overran it, or a thread that got the
        CPU late, must not send right behind the previous request to this host (slots are
        one interval apart, actual sends must be too, or the host sees bursts)."""
        if not self._claims or self._budget is None:
            return
        while (wait := self._budget.claim(host, interval=self._interval)) > 0:
            self._sleep(wait)

    def _request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        params: Mapping[str, Any] | None = None,
        data: Mapping[str, str] | None = None,
    ) -> FetchedPage:
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
                return FetchedPage(
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
        attempts = 0
        while True:
            attempts += 1
            self._take_slot(url)
            self.sync_cookies()
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
                    retry_after = _retry_after_seconds(response.headers.get("retry-after"))
                    if self._budget is not None and retry_after:
                        # The host asked everybody to slow down, not just this client: its
                        # budget has no slot for anyone until then (last attempt or not).
                        pause = min(retry_after, MAX_HOST_PAUSE)
                        self._budget.penalize("{}:{}".format(*_host_key(url)), pause)
                    if attempts > self.retries:
                        message = f"{method} {url} failed after {attempts} attempt(s): {reason}"
                        logger.warning("%s", message)
                        raise FetchError(message, url=str(url), status=status, attempts=attempts)
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
            if self.max_budget_wait is not None:
                # A viewer waits seconds, not a backoff or a Retry-After of minutes.
                with self._lock:
                    over = delay > self._budget_left
                    self._budget_left -= delay
                if over:
                    raise BudgetExhausted(
                        f"{method} {url}: {reason}; not waiting {delay:.1f}s for a retry",
                        url=str(url),
                        host="{}:{}".format(*_host_key(url)),
                        retry_after=delay,
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

    def _use_user_agent(self, user_agent: str) -> None:
        with self._lock:
            for name in ("Sec-CH-UA", "Sec-CH-UA-Mobile", "Sec-CH-UA-Platform"):
                self._http.headers.pop(name, None)
            self._http.headers["User-Agent"] = user_agent
            self._http.headers.update(_client_hints(user_agent))

    def _load_cookies(self) -> None:
        if self._jar is not None:
            self._apply(self._jar.load())

    def _apply(self, state: JarState) -> bool:
        """Adopt every record of the shared jar newer than what this client knows."""
        adopted = False
        now = time.time()
        with self._lock:
            for field, record in state.records.items():
                if not _is_newer(record, self._known.get(field)):
                    continue
                self._known[field] = record
                if field == UA_FIELD:
                    self._use_user_agent(str(record["value"]))
                    adopted = True
                    continue
                try:
                    cookie = _make_cookie(record, default_domain="")
                except (ValueError, TypeError, KeyError) as exc:
                    logger.warning("ignoring a damaged cookie record %r: %s", field, exc)
                    continue
                if not cookie.is_expired(now):
                    self._http.cookies.jar.set_cookie(cookie)
                    adopted = True
            # _saved_cookies stays: the next check compares with _known (updated above), so
            # these are not published back, and a cookie another thread just got still is.
            self._jar_version = state.version
        return adopted

    def _cookies_maybe_changed(self) -> None:
        """Publish the cookies the origin set or changed in this client's jar."""
        if self._jar is None:
            return
        with self._lock:
            cookies = self._cookie_list()
            snapshot = frozenset((c.name, c.value, c.domain, c.path, c.expires) for c in cookies)
            if snapshot == self._saved_cookies:
                return
            stamp = time.time()
            changed = []
            for cookie in cookies:
                record = _cookie_record(cookie)
                field = cookie_field(record)
                known = self._known.get(field)
                if (
                    known is None
                    or known.get("value") != record["value"]
                    or known.get("expires") != record["expires"]
                ):
                    changed.append({**record, "set_at": stamp})
            self._saved_cookies = snapshot
        self._publish(changed)

    def _publish(self, records: list[dict[str, Any]]) -> None:
        if not records:
            return
        with self._lock:
            for record in records:
                key = UA_FIELD if record.get("kind") == UA_FIELD else cookie_field(record)
                self._known[key] = record
        if self._jar is not None:
            # Only what changed here, each cookie with its own stamp: the jar keeps the
            # newest of each, so an old copy held by this client never wins.
            self._jar.merge(records)


def _is_newer(record: Mapping[str, Any], than: Mapping[str, Any] | None) -> bool:
    return than is None or float(record.get("set_at") or 0) > float(than.get("set_at") or 0)


def _cookie_record(c: http.cookiejar.Cookie) -> dict[str, Any]:
    return {
        "name": c.name,
        "value": c.value,
        "domain": c.domain,
        "path": c.path,
        "expires": c.expires,
        "secure": c.secure,
        "httpOnly": c.has_nonstandard_attr("HttpOnly") or c.has_nonstandard_attr("httponly"),
        "hostOnly": not c.domain_specified,
    }


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


# --------------------------------------------------------------------------- from settings

# A viewer waits for a mirror's resolution; these keep that wait to seconds (the budget's
# own wait is SCRAPER_VIEWER_MAX_WAIT, in all, across the requests of one resolution).
VIEWER_TIMEOUT = 8.0
VIEWER_RETRIES = 1


def make_client(base_url: str | None = None, **overrides: Any) -> OriginClient:
    """The scraper's HTTP client, configured from settings."""
    from django.conf import settings

    options: dict[str, Any] = {
        "rate": settings.SCRAPER_RATE_LIMIT or None,
        "timeout": settings.SCRAPER_TIMEOUT,
        "retries": settings.SCRAPER_RETRIES,
        "cookie_path": settings.SCRAPER_COOKIE_PATH,
    }
    options.update(overrides)
    return OriginClient(base_url or settings.OTAKUDESU_BASE_URL, **options)


def make_viewer_client(base_url: str | None = None) -> OriginClient:
    """The client of a viewer's mirror request: the budget's viewer lane (served before
    the crawl), a bounded wait for slots, one quick retry and a short timeout."""
    from django.conf import settings

    return make_client(
        base_url,
        lane=Lane.VIEWER,
        max_budget_wait=settings.SCRAPER_VIEWER_MAX_WAIT,
        retries=VIEWER_RETRIES,
        timeout=min(settings.SCRAPER_TIMEOUT, VIEWER_TIMEOUT),
        connect_timeout=min(settings.SCRAPER_TIMEOUT, VIEWER_TIMEOUT) / 2,
        max_backoff=1.0,
        max_retry_after=settings.SCRAPER_VIEWER_MAX_WAIT,
    )
