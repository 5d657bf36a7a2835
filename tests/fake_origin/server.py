"""The fake otakudesu origin: a real HTTP server on 127.0.0.1 serving the made-up catalogue.

Host names matter: the origin answers as ``http://127.0.0.1:<port>`` and the embed pages
it links to as ``http://localhost:<port>/embed/...`` (same socket, told apart by the
``Host`` header), so tests can tell origin requests from embed requests.

admin-ajax behaviour (the real site's answers to bad requests are unknown; these are the
fake's documented choices):

* ``action=<nonce action>`` → ``200 {"data": "<10 hex>"}``; the nonce lives ``nonce_ttl``
  seconds by the injected ``clock`` (and is consumed on use with ``single_use_nonce``).
* ``id, i, q, nonce, action=<embed action>`` → ``200 {"data": base64(<div><iframe …>)}``.
* missing/expired/unknown nonce → ``400 {"success": false, "data": null}`` (``data`` is
  not a string, which is what the site's own script would choke on);
* unknown post id or mirror → ``400 {"success": false, "data": {"message": …}}``;
* unknown action, GET, or a body that is not ``application/x-www-form-urlencoded`` →
  ``400`` with the body ``0`` (what WordPress's admin-ajax does without a handler).
"""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from http.cookies import CookieError, SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import NamedTuple
from urllib.parse import parse_qs, urlsplit

from . import markup, moves, posters
from .catalog import DEFAULT_NOW, WIB, Catalog, generate_catalog
from .timeline import Conditional, Publisher

FAULT_KINDS = ("500", "502", "503", "429", "timeout", "reset", "truncated")
# What FakeOrigin.serve_unsafe_links serves: none of them may ever be stored or shown.
UNSAFE_EMBEDS = (
    "JaVa\tScRiPt:alert(document.domain)",
    "data:text/html,<script>alert(document.domain)</script>",
    " JaVaScRiPt:alert(1)",
    "vbscript:msgbox(1)",
    "//evil.example/embed/1",
    "DATA:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "javascript:alert(2)",
)
UNSAFE_DOWNLOADS = (
    "JaVaScRiPt:alert(3)",
    " javascript:alert(4)",
    "data:text/html,<script>alert(5)</script>",
    "VBScript:msgbox(6)",
    "//evil.example/dl/7",
    "file:///etc/passwd",
    "java\nscript:alert(8)",
    "https://evil.example\\@dl.example/9",
)
PAGE_KINDS = (
    "home",
    "ongoing",
    "complete",
    "anime_list",
    "genre_list",
    "genre",
    "schedule",
    "search",
    "anime",
    "episode",
    "batch",
    "lengkap",
)


# Other names for the page kinds (the parsers' names among them).
KIND_ALIASES = {
    "detail": "anime",
    "completed": "complete",
    "anime-list": "anime_list",
    "genre-list": "genre_list",
    "jadwal-rilis": "schedule",
}


class LoggedRequest(NamedTuple):
    method: str
    path: str  # path with query
    host: str  # the Host header, e.g. "127.0.0.1:8001" or "localhost:8001"
    status: int  # 0 when no response was sent (timeout and reset faults)
    # time.monotonic() when the request's headers had arrived (request rate checks).
    at: float = 0.0


class FaultEvent(NamedTuple):
    method: str
    path: str
    kind: str


@dataclass
class _FaultConfig:
    rate: float = 0.0
    kinds: tuple[str, ...] = FAULT_KINDS
    seed: int = 0
    retry_after: int = 1
    timeout_seconds: float = 1.5
    max_consecutive: int = 3


def _unit(*parts: object) -> float:
    digest = hashlib.sha256(":".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def challenge_token(seed: str, rounds: int) -> str:
    """What the challenge page's script computes (FNV-1a over the seed, ``rounds`` times)."""
    h = 2166136261
    for r in range(rounds):
        for ch in seed:
            h = ((h ^ ord(ch)) * 16777619) & 0xFFFFFFFF
        h = (h ^ r) & 0xFFFFFFFF
    return f"{seed}.{h:08x}"


def challenge_page(host: str, seed: str, rounds: int) -> str:
    script = (
        "(function(){"
        f'var s="{seed}",n={rounds},h=2166136261;'
        "for(var r=0;r<n;r++){for(var k=0;k<s.length;k++){"
        "h=Math.imul((h^s.charCodeAt(k))>>>0,16777619)>>>0;}h=(h^r)>>>0;}"
        'var t=s+"."+("00000000"+h.toString(16)).slice(-8);'
        'document.cookie="cf_clearance="+t+"; path=/; max-age=3600";'
        "setTimeout(function(){location.reload();},300);})();"
    )
    return (
        '<!DOCTYPE html><html lang="en-US"><head><title>Just a moment...</title>'
        '<meta http-equiv="Content-Type" content="text/html; charset=UTF-8">'
        '<meta name="robots" content="noindex,nofollow"></head><body>'
        '<div class="main-wrapper" role="main"><div class="main-content">'
        f'<h1 class="zone-name-title h1">{markup.e(host)}</h1>'
        '<h2 class="h2" id="challenge-running">Checking if the site connection is secure</h2>'
        "<noscript>Enable JavaScript and cookies to continue</noscript></div></div>"
        f"<script>{script}</script></body></html>"
    )


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, origin: FakeOrigin, address: tuple[str, int]) -> None:
        super().__init__(address, _Handler, bind_and_activate=False)
        self.origin = origin
        self.moved_to: str | None = None  # new base URL after move_domain()
        self.announcement: str | None = None  # home notice after moves.announce_move()
        self.base_url = ""


class _Listener:
    def __init__(self, server: _Server) -> None:
        self.server = server
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        self.server.server_activate()
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def stop(self) -> None:
        if self.thread is not None:
            self.server.shutdown()
            self.thread.join(timeout=5)
        self.server.server_close()


class FakeOrigin:
    """A running (after :meth:`start`) fake otakudesu. See the package docstring."""

    def __init__(
        self,
        seed: int = 1,
        size: int = 300,
        *,
        now: datetime = DEFAULT_NOW,
        host: str = "127.0.0.1",
        port: int = 0,
        embed_host: str = "localhost",
        nonce_ttl: float = 600.0,
        single_use_nonce: bool = False,
        clock: Callable[[], float] = time.monotonic,
        embed_action: str | None = None,
        nonce_action: str | None = None,
        challenge_rounds: int = 4000,
    ) -> None:
        self.seed = seed
        self.host = host
        self.embed_host = embed_host
        self.nonce_ttl = nonce_ttl
        self.single_use_nonce = single_use_nonce
        self.clock = clock
        # Not the real site's hashes on purpose: crawlers must read them from the page.
        self.embed_action = embed_action or hashlib.md5(f"embed:{seed}".encode()).hexdigest()
        self.nonce_action = nonce_action or hashlib.md5(f"nonce:{seed}".encode()).hexdigest()
        self.challenge_rounds = challenge_rounds

        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._log: list[LoggedRequest] = []
        self._fault_log: list[FaultEvent] = []
        self._faults = _FaultConfig()
        self._attempts: dict[tuple[str, str], list[bool]] = {}
        self._nonces: dict[str, float] = {}
        self._nonce_counter = 0
        self._layout_changed: set[str] = set()
        self._failing: dict[str, int] = {}  # path -> status served instead of the page
        self._delay = 0.0  # seconds every request waits before it is answered (slow())
        self._challenge_seed: str | None = None
        self._challenge_token: str | None = None
        self._challenge_count = 0
        self._challenge_status = 403
        # Time on the origin (timeline.py): a publisher on a virtual clock, if attached,
        # and the answers to conditional requests (off until a test turns them on).
        self.timeline: Publisher | None = None
        self.conditional = Conditional(
            lambda: self.timeline.clock.now if self.timeline else datetime.now(WIB)
        )
        # tests/fake_origin/moves.py: the home notice and the quietly broken layouts.
        self.announcement: str | None = None
        self.broken_mode: str | None = None

        # Bind now (without listening) so the port, hence every URL in the truth, is known.
        first = self._new_server(port)
        self.port: int = first.server_address[1]
        self.base_url = first.base_url
        self.embed_base = f"http://{embed_host}:{self.port}"
        self._listeners = [_Listener(first)]
        self.catalog: Catalog = generate_catalog(
            seed, size, now=now, origin_base=self.base_url, embed_base=self.embed_base
        )
        self._started = False

    # --- lifecycle -------------------------------------------------------------------
    def _new_server(self, port: int) -> _Server:
        server = _Server(self, (self.host, port))
        try:
            server.server_bind()
        except OSError:
            server.server_close()
            raise
        server.base_url = f"http://{self.host}:{server.server_address[1]}"
        return server

    def start(self) -> FakeOrigin:
        if not self._started:
            self._listeners[0].start()
            self._started = True
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes handlers parked in a "timeout" fault
        for listener in self._listeners:
            listener.stop()

    def __enter__(self) -> FakeOrigin:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- truth and log ---------------------------------------------------------------
    @property
    def truth(self) -> Catalog:
        return self.catalog

    @property
    def requests(self) -> list[LoggedRequest]:
        with self._lock:
            return list(self._log)

    @property
    def fault_events(self) -> list[FaultEvent]:
        with self._lock:
            return list(self._fault_log)

    def reset_log(self) -> None:
        with self._lock:
            self._log.clear()
            self._fault_log.clear()

    def url(self, path: str) -> str:
        """``path`` on the current origin base (e.g. an anime's ``poster_path``)."""
        return self.base_url + path

    # --- behaviour switches ----------------------------------------------------------
    def faults(
        self,
        rate: float = 0.3,
        kinds: Iterable[str] = FAULT_KINDS,
        seed: int = 0,
        retry_after: int = 1,
        timeout_seconds: float = 1.5,
        max_consecutive: int = 3,
    ) -> None:
        """Fail ``rate`` of requests, chosen by a hash of (seed, method, path, attempt n).

        The choice depends on how often *that* URL was asked for, not on the interleaving
        of concurrent requests, so a rerun of the same crawl meets the same faults. After
        ``max_consecutive`` failures in a row the same URL succeeds, so a client with a
        few retries always gets through. ``timeout`` holds the connection silent for
        ``timeout_seconds`` then drops it; ``reset`` sends a TCP RST; ``truncated`` sends
        half the body under a full Content-Length. Faults hit every request, admin-ajax and
        the embed host included; ``faults(rate=0)`` turns them off.
        """
        kinds = tuple(kinds)
        unknown = set(kinds) - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds: {sorted(unknown)}")
        with self._lock:
            self._faults = _FaultConfig(
                rate, kinds, seed, retry_after, timeout_seconds, max_consecutive
            )
            self._attempts.clear()

    def move_domain(self) -> str:
        """Start a second listener; every older one answers 301 to the same path there."""
        server = self._new_server(0)
        listener = _Listener(server)
        listener.start()
        with self._lock:
            for old in self._listeners:
                old.server.moved_to = server.base_url
            self._listeners.append(listener)
            self.base_url = server.base_url
        return server.base_url

    def change_layout(self, paths_or_kinds: Iterable[str] | str = ()) -> None:
        """Serve a redesigned layout for these page kinds (see PAGE_KINDS and KIND_ALIASES)
        or exact paths (``"/anime/<slug>/"``): landmark classes and ids are renamed and the
        ``<b>Label</b>:`` info rows lose their labels, so the parsers raise ParseError.

        ``change_layout(())`` restores the normal layout.
        """
        raw = [paths_or_kinds] if isinstance(paths_or_kinds, str) else list(paths_or_kinds)
        items = {KIND_ALIASES.get(item, item) for item in raw}
        for item in items:
            if not item.startswith("/") and item not in PAGE_KINDS:
                raise ValueError(f"not a page kind or path: {item!r}")
        with self._lock:
            self._layout_changed = items

    def fail_paths(self, paths: Iterable[str] = (), status: int = 503) -> None:
        """Answer these exact paths (``"/episode/<slug>/"``) with ``status`` on every
        request, retries included, until called again; ``fail_paths(())`` heals them.
        Unlike :meth:`faults` (which always lets a retry through) this is an outage of
        one page that outlasts a client's retries."""
        with self._lock:
            self._failing = dict.fromkeys(paths, status)

    def slow(self, seconds: float = 0.2) -> None:
        """Answer every request only after ``seconds`` (a slow origin, so a test can act
        while a crawl is under way); ``slow(0)`` ends it. Stopping the origin cuts the wait."""
        with self._lock:
            self._delay = max(0.0, seconds)

    def challenge(self, enabled: bool = True, status: int = 403) -> None:
        """Cloudflare-style JS challenge on every origin request without a valid cookie."""
        with self._lock:
            if enabled:
                self._challenge_count += 1
                seed = hashlib.sha1(f"{self.seed}:chl:{self._challenge_count}".encode())
                self._challenge_seed = seed.hexdigest()[:16]
                self._challenge_token = challenge_token(self._challenge_seed, self.challenge_rounds)
                self._challenge_status = status
            else:
                self._challenge_seed = self._challenge_token = None

    # --- catalogue changes -----------------------------------------------------------
    def serve_unsafe_links(self, episode_slug: str | None = None) -> str:
        """A hacked origin: one episode's player, mirrors and some download links become
        javascript:/data:/vbscript:/protocol-relative URLs in mixed case and spacing (see
        UNSAFE_EMBEDS and UNSAFE_DOWNLOADS; those downloads are renamed "Jahat1"...).
        The truth changes with them. Default: the newest episode of the first anime.
        Returns the episode's slug."""
        with self._lock:
            cat = self.catalog
            slug = episode_slug or next(iter(cat.anime.values())).episodes[0].slug
            ep = cat.episodes[slug]
            # The default mirror first: it is also the page's player iframe.
            mirrors = sorted(ep.mirrors, key=lambda m: not m.is_default)
            for n, mirror in enumerate(mirrors):
                mirror.embed_url = UNSAFE_EMBEDS[n % len(UNSAFE_EMBEDS)]
            for n, (download, url) in enumerate(zip(ep.downloads, UNSAFE_DOWNLOADS, strict=False)):
                download.url = url
                download.provider = f"Jahat{n + 1}"
        return slug

    def add_episode(self, anime_slug: str) -> str:
        with self._lock:
            return self.catalog.add_episode(anime_slug)

    def retitle(self, anime_slug: str, new_title: str) -> None:
        with self._lock:
            self.catalog.retitle(anime_slug, new_title)

    def complete(self, anime_slug: str) -> None:
        with self._lock:
            self.catalog.complete(anime_slug)

    # --- request handling (called from handler threads) ------------------------------
    def _pick_fault(self, method: str, path: str) -> str | None:
        cfg = self._faults
        if cfg.rate <= 0 or not cfg.kinds:
            return None
        history = self._attempts.setdefault((method, path), [])
        n = len(history)
        recent = history[-cfg.max_consecutive :] if cfg.max_consecutive else []
        capped = cfg.max_consecutive > 0 and len(recent) == cfg.max_consecutive and all(recent)
        fail = not capped and _unit(cfg.seed, method, path, n) < cfg.rate
        history.append(fail)
        if not fail:
            return None
        kinds = cfg.kinds
        return kinds[int(_unit(cfg.seed, "kind", method, path, n) * len(kinds))]

    def _issue_nonce(self) -> str:
        self._nonce_counter += 1
        nonce = hashlib.sha1(f"{self.seed}:nonce:{self._nonce_counter}".encode()).hexdigest()
        self._nonces[nonce[:10]] = self.clock()
        return nonce[:10]

    def _nonce_ok(self, nonce: str) -> bool:
        issued = self._nonces.get(nonce)
        if issued is None or self.clock() - issued >= self.nonce_ttl:
            return False
        if self.single_use_nonce:
            del self._nonces[nonce]
        return True

    def _route(self, base: str, path: str, query: dict[str, list[str]]) -> tuple[str, str | None]:
        """(page kind, html or None for 404)."""
        cat = self.catalog
        parts = [p for p in path.split("/") if p]
        if path == "/" and "s" in query:
            return "search", markup.render_search(cat, base, query["s"][0])
        if path == "/":
            return "home", markup.render_home(cat, base)
        kinds = {"ongoing-anime": "ongoing", "complete-anime": "complete"}
        if parts and parts[0] in kinds:
            which = kinds[parts[0]]
            if len(parts) == 1:
                return which, markup.render_list(cat, base, which, 1)
            if len(parts) == 3 and parts[1] == "page" and parts[2].isdigit():
                return which, markup.render_list(cat, base, which, int(parts[2]))
            return which, None
        if parts == ["anime-list"]:
            return "anime_list", markup.render_anime_list(cat, base)
        if parts == ["genre-list"]:
            return "genre_list", markup.render_genre_list(cat, base)
        if parts == ["jadwal-rilis"]:
            return "schedule", markup.render_schedule(cat, base)
        if len(parts) in (2, 4) and parts[0] == "genres":
            page_no = 1
            if len(parts) == 4:
                if parts[2] != "page" or not parts[3].isdigit():
                    return "genre", None
                page_no = int(parts[3])
            return "genre", markup.render_genre(cat, base, parts[1], page_no)
        if len(parts) == 2:
            kind, slug = parts
            if kind == "anime":
                return "anime", markup.render_anime(cat, base, slug)
            if kind == "episode":
                html = markup.render_episode(cat, base, slug, self.embed_action, self.nonce_action)
                return "episode", html
            if kind == "batch":
                return "batch", markup.render_batch(cat, base, slug)
            if kind == "lengkap":
                return "lengkap", markup.render_lengkap(cat, base, slug)
        return "other", None

    def _ajax(self, form: dict[str, list[str]]) -> tuple[int, str]:
        def one(name: str) -> str:
            return form.get(name, [""])[0]

        action = one("action")
        if action == self.nonce_action:
            return 200, json.dumps({"data": self._issue_nonce()})
        if action != self.embed_action:
            return 400, "0"
        if not self._nonce_ok(one("nonce")):
            return 400, json.dumps({"success": False, "data": None})
        try:
            post_id, i = int(one("id")), int(one("i"))
        except ValueError:
            post_id, i = -1, -1
        ep = self.catalog.by_post_id.get(post_id)
        mirror = None
        if ep is not None:
            mirror = next((m for m in ep.mirrors if m.quality == one("q") and m.i == i), None)
        if mirror is None:
            body = {"success": False, "data": {"message": "mirror not found"}}
            return 400, json.dumps(body)
        snippet = (
            f'<div class="responsive-embed-stream"><iframe src="{markup.e(mirror.embed_url)}" '
            'width="420" height="370" allowfullscreen="true"></iframe></div>'
        )
        return 200, json.dumps({"data": base64.b64encode(snippet.encode()).decode()})


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    timeout = 30  # idle keep-alive connections end eventually
    # Headers and body go out in two writes; with Nagle on, keep-alive clients wait ~40 ms
    # for the delayed ACK on every request.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass  # the origin keeps its own structured log

    def do_GET(self) -> None:
        self._handle(body=True)

    def do_HEAD(self) -> None:
        self._handle(body=False)

    def do_POST(self) -> None:
        self._handle(body=True)

    # --- plumbing --------------------------------------------------------------------
    def _record(self, status: int) -> None:
        origin = self.server.origin
        with origin._lock:
            origin._log.append(
                LoggedRequest(self.command, self.path, self._host, status, self._arrived)
            )

    def _send(
        self,
        status: int,
        body: str | bytes,
        content_type: str = "text/html; charset=UTF-8",
        headers: Iterable[tuple[str, str]] = (),
        *,
        with_body: bool = True,
        truncate: bool = False,
    ) -> None:
        data = body.encode() if isinstance(body, str) else body
        # Logged before answering: a client that reads the log right after its response
        # must find its request there (recording afterwards raced with the test thread).
        self._record(status)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Server", "cloudflare")
        for name, value in headers:
            self.send_header(name, value)
        if truncate:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if with_body:
            self.wfile.write(data[: len(data) // 2] if truncate else data)

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _fault(self, kind: str, with_body: bool) -> bool:
        """Apply a non-truncation fault; True when the request is answered by it."""
        origin = self.server.origin
        cfg = origin._faults
        if kind in ("500", "502", "503"):
            text = f"<html><body><h1>Error {kind}</h1><p>origin trouble</p></body></html>"
            self._send(int(kind), text, with_body=with_body)
            return True
        if kind == "429":
            headers = [("Retry-After", str(cfg.retry_after))]
            self._send(429, "Too Many Requests", "text/plain", headers, with_body=with_body)
            return True
        if kind == "timeout":
            self._record(0)
            origin._stopping.wait(cfg.timeout_seconds)
            self.close_connection = True
            return True
        if kind == "reset":
            self._record(0)
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()
            return True
        return False

    def _handle(self, *, body: bool) -> None:
        self._arrived = time.monotonic()  # its headers were just read
        origin = self.server.origin
        self._host = self.headers.get("Host", "")
        split = urlsplit(self.path)
        path, query = split.path or "/", parse_qs(split.query)
        payload = self._read_body() if self.command == "POST" else b""
        if origin._delay:
            origin._stopping.wait(origin._delay)
        if origin.timeline is not None:
            with origin._lock:
                origin.timeline.on_request(path)
        with origin._lock:
            fault = origin._pick_fault(self.command, self.path)
            if fault:
                origin._fault_log.append(FaultEvent(self.command, self.path, fault))
        if fault and fault != "truncated" and self._fault(fault, body):
            return
        truncate = fault == "truncated"
        hostname = self._host.rsplit(":", 1)[0] if self._host else ""

        if hostname == origin.embed_host:
            parts = [p for p in path.split("/") if p]
            if len(parts) == 3 and parts[0] == "embed":
                self._send(
                    200, markup.render_embed(parts[1], parts[2]), with_body=body, truncate=truncate
                )
            else:
                self._send(404, "not found", "text/plain", with_body=body, truncate=truncate)
            return

        if self.server.moved_to:
            self._send(
                301,
                "",
                headers=[("Location", self.server.moved_to + self.path)],
                with_body=body,
            )
            return

        base = self.server.base_url
        with origin._lock:
            seed, token, status = (
                origin._challenge_seed,
                origin._challenge_token,
                origin._challenge_status,
            )
        if token is not None and self._cookie("cf_clearance") != token:
            assert seed is not None
            page = challenge_page(self._host, seed, origin.challenge_rounds)
            headers = [("cf-mitigated", "challenge"), ("Cache-Control", "no-store")]
            self._send(status, page, headers=headers, with_body=body, truncate=truncate)
            return

        if path == "/wp-admin/admin-ajax.php":
            ctype = self.headers.get("Content-Type", "")
            if self.command != "POST" or not ctype.startswith("application/x-www-form-urlencoded"):
                self._send(400, "0", "text/html; charset=UTF-8", with_body=body, truncate=truncate)
                return
            form = parse_qs(payload.decode("utf-8", "replace"))
            with origin._lock:
                status, text = origin._ajax(form)
            ctype = "application/json; charset=UTF-8" if text != "0" else "text/html; charset=UTF-8"
            self._send(status, text, ctype, with_body=body, truncate=truncate)
            return

        if self.command == "POST":
            self._send(405, "", with_body=body)
            return
        if path == "/wp-includes/js/jquery/jquery.min.js":
            self._send(
                200,
                markup.JQUERY_SHIM,
                "application/javascript",
                with_body=body,
                truncate=truncate,
            )
            return
        if path.startswith("/wp-content/uploads/"):
            # Posters (JPEG) and logos: generated pictures, so the demo shows images offline;
            # fail_paths() makes a poster missing (404) or failing (5xx).
            with origin._lock:
                failing = origin._failing.get(path)
            status, picture, ctype = posters.answer(path, failing)
            self._send(
                status,
                picture,
                ctype,
                headers=[("Cache-Control", "public, max-age=86400")],
                with_body=body,
                truncate=truncate,
            )
            return
        if not path.endswith("/") and "." not in path.rsplit("/", 1)[-1]:
            # WordPress canonical redirect: add the trailing slash.
            location = base + path + "/" + (f"?{split.query}" if split.query else "")
            self._send(301, "", headers=[("Location", location)], with_body=body)
            return

        with origin._lock:
            failing = origin._failing.get(path)
        if failing is not None:
            text = f"<html><body><h1>Error {failing}</h1><p>origin trouble</p></body></html>"
            self._send(failing, text, with_body=body)
            return
        with origin._lock:
            kind, html = origin._route(base, path, query)
            if html is None:
                status, html = 404, markup.render_not_found(origin.catalog, base, path)
            else:
                status = 200
                if kind in origin._layout_changed or path in origin._layout_changed:
                    html = markup.change_layout(html)
                html = moves.filter_page(origin, self.server.announcement, kind, html)
        headers = [("cf-cache-status", "DYNAMIC")]
        if status == 200:
            with origin._lock:
                unchanged, validators = origin.conditional.answer(path, html, self.headers)
            headers += validators
            if unchanged:
                self._send(304, b"", headers=headers, with_body=False)
                return
        self._send(status, html, headers=headers, with_body=body, truncate=truncate)

    def _cookie(self, name: str) -> str | None:
        raw = self.headers.get("Cookie")
        if not raw:
            return None
        jar = SimpleCookie()
        try:
            jar.load(raw)
        except CookieError:
            return None
        morsel = jar.get(name)
        return morsel.value if morsel else None


def iter_pages(origin: FakeOrigin) -> Iterator[str]:
    """Every page path of the catalogue (for smoke tests and demos)."""
    cat = origin.catalog
    yield "/"
    yield "/ongoing-anime/"
    yield "/complete-anime/"
    yield "/anime-list/"
    yield "/genre-list/"
    yield "/jadwal-rilis/"
    for g in cat.genres:
        yield f"/genres/{g.slug}/"
    for a in cat.anime.values():
        yield f"/anime/{a.slug}/"
        for ep in a.episodes:
            yield f"/episode/{ep.slug}/"
        if a.batch:
            yield f"/batch/{a.batch.slug}/"
        if a.lengkap:
            yield f"/lengkap/{a.lengkap.slug}/"
