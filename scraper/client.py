"""The scraper's one HTTP client: every request toward otakudesu (and the embed hosts it
links to) goes through :class:`OriginClient`. This is the only module that imports httpx.

* Redirects are followed here, hop by hop, so every hop passes the host allowlist (the
  origin and explicitly allowed embed hosts, checked before any connection) and a
  permanent redirect of the origin to another base is recognised as a domain move. Links
  to any ``otakudesu.<tld>`` host are rewritten onto the current base (``origin_url``).
* Every attempt takes a slot of its host's request budget first (:mod:`scraper.pacing`,
  :mod:`scraper.budget`); transport failures, 5xx and 429 are retried a bounded number of
  times; other 4xx fail at once; a Cloudflare challenge raises :class:`ChallengeError`
  (:mod:`scraper.solver` hands a clearance back through ``set_clearance``).
* Cookies and the User-Agent bound to a clearance are shared between processes
  (:mod:`scraper.cookies`). ``sleep`` and ``clock`` are injectable for tests.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Self

import httpx

from scraper import browser_like as browser
from scraper.budget import Budget, Lane
from scraper.cookies import ClearanceSync, SharedJar, shared_jar
from scraper.fetched import (
    BudgetExhausted,
    ChallengeError,
    ClientError,
    DisallowedHost,
    FetchedPage,
    FetchError,
    NotFound,
    gave_up,
)
from scraper.moves import is_otakudesu_host, moved_base
from scraper.pacing import Pacer, pick_budget, retry_after_seconds

DEFAULT_USER_AGENT = browser.DEFAULT_USER_AGENT
__all__ = [
    "DEFAULT_USER_AGENT",
    "BudgetExhausted",
    "ChallengeError",
    "ClientError",
    "DisallowedHost",
    "FetchError",
    "FetchedPage",
    "Lane",
    "NotFound",
    "OriginClient",
    "post_json",
]

logger = logging.getLogger("scraper.client")

AJAX_PATH = "/wp-admin/admin-ajax.php"
MAX_REDIRECTS = 10

_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_PERMANENT_REDIRECTS = frozenset({301, 308})
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Transport-level failures worth another attempt: the origin is flaky, not wrong.
# DecodingError covers a compressed body cut short without a Content-Length to notice it.
_RETRYABLE_ERRORS: tuple[type[Exception], ...] = (
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.RemoteProtocolError,
    httpx.DecodingError,
)


type _HostKey = tuple[str, int]
type _Cond = Mapping[str, str] | None  # conditional request headers


def _host_key(url: httpx.URL) -> _HostKey:
    port = url.port if url.port is not None else _DEFAULT_PORTS.get(url.scheme, 0)
    return (url.host.rstrip(".").lower(), port)


def _netloc(key: _HostKey, scheme: str) -> str:
    host, port = key
    shown = f"[{host}]" if ":" in host else host
    return shown if _DEFAULT_PORTS.get(scheme) == port else f"{shown}:{port}"


def _http_base(base_url: str) -> httpx.URL:
    base = httpx.URL(base_url)
    if base.scheme not in _DEFAULT_PORTS or not base.host:
        raise ValueError(f"base_url must be an absolute http(s) URL, got {base_url!r}")
    return base


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
        verify_move: Callable[[str, str], bool] | None = None,
        rng: random.Random | None = None,
        lane: Lane = Lane.CRAWL,
        max_budget_wait: float | None = None,
        budget: Budget | None = None,
        jar: SharedJar | None = None,
    ) -> None:
        base = _http_base(base_url)
        self.base_url: str = self._normalise_base(base)
        self.request_count: int = 0
        self.retries = max(0, retries)
        self.on_domain_move = on_domain_move
        self.verify_move = verify_move
        self._lock = threading.RLock()
        interval = 1.0 / rate if rate else 0.0
        self._pacer = Pacer(
            interval=interval,
            budget=pick_budget(interval, budget, clock),
            lane=Lane(lane),
            max_wait=max_budget_wait,
            sleep=sleep,
            rng=rng or random.Random(),
            backoff=backoff,
            max_backoff=max_backoff,
            max_retry_after=max_retry_after,
        )
        self._origin_key = _host_key(base)
        # Hosts allowed at any port are stored with port 0.
        self._allowed: set[_HostKey] = {self._origin_key}
        # Bases we moved away from: links to them are rewritten like otakudesu domains.
        self._former_origins: set[_HostKey] = set()
        self._closed = False
        self._http = httpx.Client(
            headers=browser.browser_headers(user_agent or browser.DEFAULT_USER_AGENT),
            timeout=httpx.Timeout(timeout, connect=connect_timeout),
            follow_redirects=False,
            transport=transport,
        )
        if jar is None and cookie_path is not None:
            jar = shared_jar(Path(cookie_path))
        self._clearance = ClearanceSync(
            self._http.cookies.jar, jar, lock=self._lock, use_user_agent=self._use_user_agent
        )

    # ------------------------------------------------------------------ public API

    @property
    def user_agent(self) -> str:
        return self._http.headers["User-Agent"]

    def get(
        self, path_or_url: str, *, params: Mapping[str, Any] | None = None, validators: _Cond = None
    ) -> FetchedPage:
        """GET a page of the origin (relative path or any otakudesu URL); ``validators``:
        If-None-Match/If-Modified-Since (scraper.conditional), a 304 is returned as is."""
        url = self.origin_url(path_or_url)
        headers = {**browser.NAVIGATION_HEADERS, **(validators or {})}
        return self._request("GET", url, headers=headers, params=params)

    def post_ajax(self, data: Mapping[str, str], *, referer: str | None = None) -> str:
        """POST form data to the origin's ``admin-ajax.php`` like the site's own jQuery."""
        base = httpx.URL(self.base_url)
        headers = browser.ajax_headers(
            origin=f"{base.scheme}://{_netloc(_host_key(base), base.scheme)}",
            referer=self.origin_url(referer) if referer else self.base_url + "/",
        )
        page = self._request("POST", self.origin_url(AJAX_PATH), headers=headers, data=dict(data))
        return page.text

    def fetch_embed(self, url: str) -> FetchedPage:
        """GET an embed player page; its host must have been allowed with ``allow_host``."""
        target = httpx.URL(url)
        if not target.is_absolute_url:
            raise ValueError(f"embed URL must be absolute, got {url!r}")
        headers = {"Referer": self.base_url + "/", **browser.EMBED_HEADERS}
        return self._request("GET", str(target), headers=headers)

    def fetch_image(self, url: str) -> FetchedPage:
        """GET an image (a poster) as bytes (``content``): the origin or a host allowed with
        ``allow_host``; same budget, retries and allowlist as the pages."""
        target = httpx.URL(self.origin_url(url))
        headers = {"Referer": self.base_url + "/", **browser.IMAGE_HEADERS}
        return self._request("GET", str(target), headers=headers, binary=True)

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
            foreign_origin = key in self._former_origins or is_otakudesu_host(url.host)
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
        count = self._clearance.adopt(cookies, user_agent, host=httpx.URL(self.base_url).host)
        logger.info("clearance adopted: %d cookie(s), UA %s", count, user_agent)

    def spend_wait(self, seconds: float) -> None:
        """Count time spent waiting on this client's behalf elsewhere (another process
        fetching what it needs) against its ``max_budget_wait``."""
        self._pacer.spend(seconds)

    @property
    def wait_left(self) -> float | None:
        """What remains of ``max_budget_wait`` (None: no limit)."""
        return self._pacer.wait_left

    def cookie(self, name: str) -> str | None:
        """The value of a cookie in this client's jar (any domain), or None."""
        return next((c.value for c in self._clearance.cookie_list() if c.name == name), None)

    def cookies(self) -> dict[str, str | None]:
        """Name -> value of every cookie in this client's jar."""
        return {c.name: c.value for c in self._clearance.cookie_list()}

    def sync_cookies(self) -> bool:
        """Take what other clients published to the shared jar since we last looked
        (a clearance solved in another process); True when anything was adopted."""
        return self._clearance.sync()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._clearance.publish_changes()
        finally:
            self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
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

    def _request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        params: Mapping[str, Any] | None = None,
        data: Mapping[str, str] | None = None,
        binary: bool = False,
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
                    text="" if binary else response.text,
                    headers=response.headers,
                    content=response.content if binary else b"",
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
        host = "{}:{}".format(*_host_key(url))
        attempts = 0
        while True:
            attempts += 1
            self._pacer.take_slot(host, str(url))
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
                    raise gave_up(method, str(url), attempts, reason, None) from exc
                retry_after = None
            else:
                self._clearance.publish_changes()
                retry = self._retry_reason(method, url, response, attempts)
                if retry is None:
                    return response
                reason, retry_after = retry
                # Last attempt or not: the host's budget pauses for everybody.
                if retry_after:
                    self._pacer.host_asked_to_wait(host, retry_after)
                if attempts > self.retries:
                    raise gave_up(method, str(url), attempts, reason, response.status_code)
            delay = self._pacer.retry_delay(attempts, retry_after)
            logger.info(
                "%s %s: %s; retry %d/%d in %.2fs",
                method,
                url,
                reason,
                attempts,
                self.retries,
                delay,
            )
            self._pacer.wait_to_retry(
                delay, why=f"{method} {url}: {reason}", url=str(url), host=host
            )

    @staticmethod
    def _retry_reason(
        method: str, url: httpx.URL, response: httpx.Response, attempts: int
    ) -> tuple[str, float | None] | None:
        """None for an answer to return; (why, Retry-After) for one worth another try
        (5xx, 429); raises for a challenge and any other 4xx."""
        status = response.status_code
        if browser.is_challenge(status, response.headers, response.text):
            raise ChallengeError(
                f"{method} {url}: challenge page (HTTP {status})", url=str(url), status=status
            )
        if status == 429 or status >= 500:
            return f"HTTP {status}", retry_after_seconds(response.headers.get("retry-after"))
        if status in {404, 410}:
            raise NotFound(
                f"{method} {url}: HTTP {status} (not found)",
                url=str(url),
                status=status,
                attempts=attempts,
            )
        if status >= 400:
            raise FetchError(
                f"{method} {url}: HTTP {status}", url=str(url), status=status, attempts=attempts
            )
        return None

    def _maybe_domain_move(self, source: httpx.URL, target: httpx.URL) -> None:
        """A permanent redirect of an origin page to another base is a domain move if it
        keeps the page's path (the usual whole-site move) or lands on an otakudesu host.
        With ``verify_move``, the new base is adopted only once it says yes; otherwise
        the redirect is refused (FetchError) and the client stays where it was."""
        source_key, target_key = _host_key(source), _host_key(target)
        with self._lock:
            if source_key != self._origin_key or (
                target_key == source_key and source.scheme == target.scheme
            ):
                return
            old_base = self.base_url
            new_base = moved_base(old_base, str(source), str(target))
        if new_base is None:
            return
        if self.verify_move is not None and not self.verify_move(old_base, new_base):
            raise FetchError(
                f"{source} redirects to {new_base}, which is not verified as the origin",
                url=str(source),
                status=None,
                attempts=1,
            )
        self.adopt_base(new_base)
        logger.warning("origin moved: %s -> %s (permanent redirect)", old_base, self.base_url)
        if self.on_domain_move is not None:
            self.on_domain_move(old_base, self.base_url)

    def add_former_origin(self, base_url: str) -> None:
        """A base the origin moved away from: links to it are rewritten onto the current
        base (and it is never contacted)."""
        key = _host_key(_http_base(base_url))
        with self._lock:
            if key != self._origin_key:
                self._former_origins.add(key)

    def adopt_base(self, new_base: str) -> None:
        """Talk to ``new_base`` from now on: the allowlist follows it (the old base is no
        longer contacted; links to it are rewritten onto the new one)."""
        base = _http_base(new_base)
        key = _host_key(base)
        with self._lock:
            if key != self._origin_key:
                self._allowed.discard(self._origin_key)
                self._former_origins.add(self._origin_key)
            self._former_origins.discard(key)
            self._origin_key = key
            self._allowed.add(key)
            self.base_url = self._normalise_base(base)

    # ------------------------------------------------------------------ cookies

    def _use_user_agent(self, user_agent: str) -> None:
        with self._lock:
            for name in ("Sec-CH-UA", "Sec-CH-UA-Mobile", "Sec-CH-UA-Platform"):
                self._http.headers.pop(name, None)
            self._http.headers["User-Agent"] = user_agent
            self._http.headers.update(browser.client_hints(user_agent))


# --------------------------------------------------------------------------- alerts


def post_json(url: str, payload: Mapping[str, Any], *, label: str, timeout: float = 10.0) -> int:
    """POST ``payload`` as JSON to an operator's alert endpoint (a webhook, a bot API).
    Not the origin: no request budget, no allowlist (the operator configured the URL).
    ``label`` names the endpoint in errors instead of a URL that may hold a token.
    Returns the HTTP status; raises FetchError on a transport failure or a non-2xx answer."""
    try:
        response = httpx.post(url, json=dict(payload), timeout=timeout, follow_redirects=False)
    except (httpx.HTTPError, httpx.InvalidURL) as exc:  # a mistyped URL is a failure too
        raise FetchError(
            f"POST {label}: {type(exc).__name__}", url=label, status=None, attempts=1
        ) from exc
    if not 200 <= response.status_code < 300:
        raise FetchError(
            f"POST {label}: HTTP {response.status_code}",
            url=label,
            status=response.status_code,
            attempts=1,
        )
    return response.status_code
