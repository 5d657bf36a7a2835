"""Pass a Cloudflare-style JavaScript challenge in a real headless browser.

When the client raises ChallengeError, the crawl calls :func:`solve_challenge`: Debian's
Chromium (Playwright) opens the page until it is a normal page again, and its cookies and
User-Agent go to the HTTP client, which carries on with plain HTTP. Guards: at most one
browser solve per host per ``SOLVER_MIN_INTERVAL_MINUTES`` across every process and node
(a slot in the coordination cache; a browser per challenged page would look like an attack
when the clearance does not stick); a time limit (a CAPTCHA must
fail the run, not hang a worker); one browser at a time per process. Django settings are
read inside the functions, so importing this module needs no configured Django.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from scraper.client import ChallengeError, OriginClient

__all__ = ["CHROMIUM_ARGS", "Clearance", "SolverError", "reset_state", "solve_challenge"]

logger = logging.getLogger("scraper.solver")

CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
)
CLEARANCE_COOKIE = "cf_clearance"
DEFAULT_MIN_INTERVAL_MINUTES = 10.0
_CHALLENGE_STATUSES = frozenset({403, 429, 503})
_POLL_MS = 250


class SolverError(ChallengeError):
    """The challenge could not be passed; the message says why."""


@dataclass(frozen=True)
class Clearance:
    """What a solved challenge yields: Playwright-style cookie dicts and the User-Agent
    the cookies are bound to (Cloudflare rejects clearance used with another UA)."""

    cookies: list[Mapping[str, Any]]
    user_agent: str


type BrowserSolve = Callable[[str, float, str], Clearance]


@dataclass
class _HostState:
    last_attempt: float
    clearance: Clearance | None = None
    # Clients that already received ``clearance``: giving it again would not help them.
    served: weakref.WeakSet[OriginClient] = field(default_factory=weakref.WeakSet)


_lock = threading.Lock()
_hosts: dict[str, _HostState] = {}


def reset_state() -> None:
    """Forget every past solve (tests; an operator's shell after fixing the browser)."""
    with _lock:
        _hosts.clear()


def solve_challenge(
    client: OriginClient,
    url: str,
    *,
    timeout: float = 60,
    min_interval: float | None = None,
    clock: Callable[[], float] = time.monotonic,
    browser: BrowserSolve | None = None,
) -> None:
    """Pass the challenge at ``url`` in Chromium and give ``client`` the clearance.

    ``min_interval`` (seconds; default the ``SOLVER_MIN_INTERVAL_MINUTES`` setting, 10 min)
    limits browser solves per host. ``browser`` replaces the Chromium run (tests of the
    rate limit). Raises :class:`SolverError` on failure, never anything else.
    """
    if not client.is_allowed(url):
        raise SolverError(
            f"refusing to open {url} in the browser: not the origin", url=url, status=0
        )
    host = (urlsplit(url).hostname or "").lower()
    interval = _min_interval() if min_interval is None else min_interval
    # Held for the whole solve: one browser per process, and a thread that waited here
    # finds the clearance its predecessor just got.
    with _lock:
        if _solved_elsewhere(client, host) or _reuse_recent(client, host, url, clock(), interval):
            return
        if not _claim_shared_solve(client, host, url, interval=interval, timeout=timeout):
            return
        _solve_now(client, host, url, timeout, browser or _chromium_solve, clock)


def _solved_elsewhere(client: OriginClient, host: str) -> bool:
    """Another process (the other worker, say) may have solved it since this client's
    request: the shared jar has its clearance, and no browser is needed here."""
    before = client.cookie(CLEARANCE_COOKIE)
    client.sync_cookies()
    if client.cookie(CLEARANCE_COOKIE) in {None, before}:
        return False
    logger.info("using the clearance for %s that another process just solved", host)
    return True


def _coordination() -> Any:
    from django.conf import settings
    from django.core.cache import caches

    return caches["coordination" if "coordination" in settings.CACHES else "default"]


def _claim_shared_solve(
    client: OriginClient, host: str, url: str, *, interval: float, timeout: float
) -> bool:
    """The interval between two browser solves holds for every process of every node: the
    first to claim the host's slot in the coordination cache opens the browser (True);
    another process meeting the challenge meanwhile waits up to ``timeout`` for that
    clearance to reach the shared jar (False once it has it), then gives up
    (SolverError) instead of opening a second browser. Without the cache (Redis down) each
    process keeps its own guard only. A process's own earlier solves are judged by its
    per-process state and clock (:func:`_reuse_recent`)."""
    from scraper.locks import owner_id

    key = f"scraper:solver:{host}"
    me = owner_id()
    store = _coordination()
    ttl = max(int(interval), 1)
    if store.add(key, me, ttl) is not False:
        return True  # ours now, or the cache does not answer
    holder = store.get(key)
    if holder in {None, me}:
        store.set(key, me, ttl)
        return True
    before = client.cookie(CLEARANCE_COOKIE)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        client.sync_cookies()
        if client.cookie(CLEARANCE_COOKIE) not in {None, before}:
            logger.info("using the clearance for %s that %s solved", host, holder)
            return False
        time.sleep(0.5)
    raise SolverError(
        f"challenge at {url}: {holder} opened a browser for {host} less than {ttl}s ago "
        "and its clearance has not reached the shared jar; not opening another browser",
        url=url,
        status=0,
    )


def _reuse_recent(client: OriginClient, host: str, url: str, now: float, interval: float) -> bool:
    """Within ``interval`` of the host's last browser solve: hand its clearance to a client
    that has not had it yet (True), else refuse another browser (SolverError)."""
    state = _hosts.get(host)
    if state is None or now - state.last_attempt >= interval:
        return False
    if state.clearance is not None and client not in state.served:
        _hand_over(client, state.clearance)
        state.served.add(client)
        logger.info("reused the clearance for %s solved %.0fs ago", host, now - state.last_attempt)
        return True
    wait = interval - (now - state.last_attempt)
    raise SolverError(
        f"challenge at {url} again {now - state.last_attempt:.0f}s after the last "
        f"browser solve for {host}; not opening another browser for {wait:.0f}s "
        "(the clearance did not stick or the origin blocks us)",
        url=url,
        status=0,
    )


def _solve_now(  # noqa: PLR0917 -- a private step of solve_challenge
    client: OriginClient,
    host: str,
    url: str,
    timeout: float,
    run: BrowserSolve,
    clock: Callable[[], float],
) -> None:
    now = clock()
    state = _hosts[host] = _HostState(last_attempt=now)
    logger.info("solving the challenge at %s in Chromium (timeout %.0fs)", url, timeout)
    try:
        clearance = run(url, timeout, _chromium_path())
    except SolverError:
        raise
    except Exception as exc:
        # Playwright raises its own errors (launch failures, crashes): the run should
        # say what went wrong in one line, as a ChallengeError the crawl understands.
        raise SolverError(
            f"browser could not pass the challenge at {url}: {type(exc).__name__}: {exc}",
            url=url,
            status=0,
        ) from exc
    state.clearance = clearance
    _hand_over(client, clearance)
    state.served.add(client)
    logger.info(
        "challenge at %s passed in %.1fs (%d cookie(s))",
        url,
        clock() - now,
        len(clearance.cookies),
    )


def _hand_over(client: OriginClient, clearance: Clearance) -> None:
    client.set_clearance(clearance.cookies, clearance.user_agent)


def _min_interval() -> float:
    from django.conf import settings

    minutes = getattr(settings, "SOLVER_MIN_INTERVAL_MINUTES", DEFAULT_MIN_INTERVAL_MINUTES)
    return float(minutes) * 60


def _chromium_path() -> str:
    from django.conf import settings

    return str(getattr(settings, "CHROMIUM_PATH", "/usr/bin/chromium"))


def _looks_like_challenge(status: int | None, title: str, html: str) -> bool:
    if "Just a moment" in title:
        return True
    if status in _CHALLENGE_STATUSES:
        return True
    return "cf_chl" in html and "challenge-platform" in html


def _chromium_solve(url: str, timeout: float, executable: str) -> Clearance:
    """Open ``url`` in headless Chromium and wait until it is a normal page."""
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    deadline = time.monotonic() + timeout
    with sync_playwright() as pw:
        try:
            browser = pw.chromium.launch(
                executable_path=executable,
                headless=True,
                args=list(CHROMIUM_ARGS),
                chromium_sandbox=False,
                timeout=_ms_left(deadline),
            )
        except PlaywrightError as exc:
            raise SolverError(
                f"could not start Chromium at {executable} (CHROMIUM_PATH): {exc}",
                url=url,
                status=0,
            ) from exc
        try:
            context, user_agent = _regular_chrome_context(browser)
            page = context.new_page()
            statuses: dict[str, int] = {}

            def on_response(response: Any) -> None:
                if response.request.is_navigation_request() and response.frame == page.main_frame:
                    statuses["main"] = response.status

            page.on("response", on_response)
            try:
                page.goto(url, wait_until="domcontentloaded", timeout=_ms_left(deadline))
            except PlaywrightError as exc:
                raise SolverError(
                    f"browser could not load {url}: {exc}", url=url, status=0
                ) from exc
            return _wait_until_cleared(
                page, context, url, statuses, user_agent, (timeout, deadline)
            )
        finally:
            browser.close()


def _ms_left(deadline: float) -> float:
    return max(1.0, (deadline - time.monotonic()) * 1000)


def _regular_chrome_context(browser: Any) -> tuple[Any, str]:
    """A browser context presenting the browser as a regular Chrome, and its UA.

    Headless Chromium announces itself as "HeadlessChrome"; the challenge should treat it
    like a regular Chrome. That UA, set on the context, is what the HTTP client adopts."""
    probe = browser.new_page()
    default_ua = str(probe.evaluate("navigator.userAgent"))
    probe.close()
    user_agent = default_ua.replace("HeadlessChrome", "Chrome")
    context = browser.new_context(
        user_agent=user_agent,
        locale="id-ID",
        extra_http_headers={"Accept-Language": "id-ID,id;q=0.9,en;q=0.8"},
    )
    return context, user_agent


def _wait_until_cleared(  # noqa: PLR0917 -- a private step of _chromium_solve
    page: Any,
    context: Any,
    url: str,
    statuses: Mapping[str, int],
    user_agent: str,
    limit: tuple[float, float],
) -> Clearance:
    """Poll the page until it is no longer a challenge, or fail at the deadline
    (``limit``: the solve's timeout and its deadline on the monotonic clock)."""
    from playwright.sync_api import Error as PlaywrightError

    timeout, deadline = limit
    while True:
        try:
            title = page.title()
            html = page.content()
            cookies = context.cookies([url])
        except PlaywrightError:
            # The challenge script reloads the page; reading it mid-navigation
            # fails harmlessly, the next poll sees the new document.
            title, html, cookies = "Just a moment", "", []
        status = statuses.get("main")
        has_clearance = any(c.get("name") == CLEARANCE_COOKIE for c in cookies)
        if not _looks_like_challenge(status, title, html):
            # The context's UA is what every page of it sent; asking the page instead
            # could land in the middle of the challenge's own reload.
            if not has_clearance:
                logger.info("page at %s is not a challenge (no %s)", url, CLEARANCE_COOKIE)
            return Clearance(cookies=[dict(c) for c in cookies], user_agent=user_agent)
        if time.monotonic() >= deadline:
            raise SolverError(
                f"challenge at {url} did not clear within {timeout:.0f}s "
                f"(last status {status}, title {title!r}, "
                f"{CLEARANCE_COOKIE} {'set' if has_clearance else 'not set'})",
                url=url,
                status=status or 0,
            )
        # Waits inside the browser's event loop so the challenge script keeps running.
        page.wait_for_timeout(_POLL_MS)
