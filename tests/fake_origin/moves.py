"""The fake origin moving house and breaking quietly (origin health tests).

* ``announce_move(origin)``: a new listener serves the catalogue; the old one keeps
  serving it too, with only its home page's notice (``.infoupdate``) naming the new
  address, as otakudesu does ("Situs resmi Otakudesu hanya ..."); with
  ``via="canonical"`` only the old pages' canonical links name the new base instead.
* ``redirect_to(origin, base)``: every listener answers 301 to the same path on ``base``
  (a decoy, say); ``FakeOrigin.move_domain()`` is the real move by redirect.
* ``announce(origin, address)``: the current home page's notice names ``address``
  (a decoy, say) without any move.
* ``Decoy``: a server on another port that is not our origin: ``"other"`` serves another
  made-up catalogue in the same markup, ``"parked"`` a parked-domain page for every path.
* ``break_layout(origin, mode)``: pages that still parse as pages but hold nothing:
  ``"empty_home"`` (card lists without cards), ``"no_episodes"`` (an anime page without
  its episode list), ``"bare_episode"`` (an episode page without player, mirrors and
  downloads). ``break_layout(origin, None)`` heals them.

Redirect moves are ``FakeOrigin.move_domain()`` (server.py).
"""

from __future__ import annotations

import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING

from selectolax.lexbor import LexborHTMLParser

from . import markup

if TYPE_CHECKING:
    from .server import FakeOrigin

_NOTICE = re.compile(r'(<div class="infoupdate">)[^<]*(</div>)')
_CANONICAL = re.compile(r'(<link rel="canonical" href=")https?://[^/"]+')
# A listener's "announcement" that moves its canonical links instead of its notice.
_CANONICAL_MARK = "canonical:"
BROKEN_MODES = {
    "empty_home": ("home", (".venz li",)),
    "no_episodes": ("anime", (".episodelist li",)),
    "bare_episode": ("episode", ("#pembed iframe", ".mirrorstream", ".download")),
}


def notice(address: str) -> str:
    return f"Situs resmi Otakudesu hanya {address}, selain dari ini adalah situs palsu."


def announce(origin: FakeOrigin, address: str | None) -> None:
    """The home page's notice names ``address`` on every listener (None: the usual text)."""
    with origin._lock:
        origin.announcement = notice(address) if address else None


def announce_move(origin: FakeOrigin, via: str = "notice") -> str:
    """Serve the catalogue on a new port too; the old home page's notice (or, with
    ``via="canonical"``, the old pages' canonical links) names it. Returns the new base;
    ``origin.base_url`` becomes it, the old listeners keep answering."""
    from .server import _Listener

    if via not in {"notice", "canonical"}:
        raise ValueError(f"via must be notice or canonical, not {via!r}")
    server = origin._new_server(0)
    listener = _Listener(server)
    listener.start()
    address = server.base_url.split("://", 1)[1]
    said = notice(address) if via == "notice" else _CANONICAL_MARK + server.base_url
    with origin._lock:
        for old in origin._listeners:
            old.server.announcement = said
        origin._listeners.append(listener)
        origin.base_url = server.base_url
    return server.base_url


def redirect_to(origin: FakeOrigin, base: str) -> None:
    with origin._lock:
        for listener in origin._listeners:
            listener.server.moved_to = base


def break_layout(origin: FakeOrigin, mode: str | None) -> None:
    if mode is not None and mode not in BROKEN_MODES:
        raise ValueError(f"unknown mode {mode!r}; expected one of {sorted(BROKEN_MODES)}")
    with origin._lock:
        origin.broken_mode = mode


def filter_page(origin: FakeOrigin, announcement: str | None, kind: str, html: str) -> str:
    """server.py's hook: the page as the current modes serve it (called under its lock)."""
    announcement = announcement or origin.announcement
    if announcement and announcement.startswith(_CANONICAL_MARK):
        new_base = announcement.removeprefix(_CANONICAL_MARK)
        html = _CANONICAL.sub(lambda m: m.group(1) + markup.e(new_base), html)
        announcement = None
    mode = BROKEN_MODES.get(origin.broken_mode or "")
    if not announcement and (mode is None or mode[0] != kind):
        return html
    if announcement and kind == "home":
        html = _NOTICE.sub(lambda m: m.group(1) + markup.e(announcement) + m.group(2), html)
    if mode is None or mode[0] != kind:
        return html
    tree = LexborHTMLParser(html)
    for selector in mode[1]:
        for node in tree.css(selector):
            node.decompose()
    return tree.html or html


# --------------------------------------------------------------------------- decoys


class _DecoyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _DecoyServer

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def do_GET(self) -> None:
        body = PARKED.encode()
        self.server.paths.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=UTF-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _DecoyServer(ThreadingHTTPServer):
    daemon_threads = True
    paths: list[str]


PARKED = (
    "<!DOCTYPE html><html><head><title>otakudesu - domain for sale</title>"
    '<link rel="canonical" href="/" /></head><body><h1>This domain is for sale</h1>'
    "<p>Buy this domain today. Related searches: anime, streaming.</p></body></html>"
)


class Decoy:
    """A server that is not our origin, on 127.0.0.1: ``kind="other"`` (another fake
    catalogue in the origin's markup) or ``"parked"`` (one parked page for every path)."""

    def __init__(self, kind: str = "other", *, seed: int = 977, size: int = 30) -> None:
        from .server import FakeOrigin

        self.kind = kind
        self._other: FakeOrigin | None = None
        self._parked: _DecoyServer | None = None
        if kind == "other":
            self._other = FakeOrigin(seed=seed, size=size)
        elif kind == "parked":
            self._parked = _DecoyServer(("127.0.0.1", 0), _DecoyHandler)
            self._parked.paths = []
        else:
            raise ValueError(f"unknown decoy kind {kind!r}")

    @property
    def base_url(self) -> str:
        if self._other is not None:
            return self._other.base_url
        assert self._parked is not None
        return f"http://127.0.0.1:{self._parked.server_address[1]}"

    @property
    def request_count(self) -> int:
        if self._other is not None:
            return len(self._other.requests)
        assert self._parked is not None
        return len(self._parked.paths)

    def __enter__(self) -> Decoy:
        if self._other is not None:
            self._other.start()
        else:
            assert self._parked is not None
            threading.Thread(target=self._parked.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._other is not None:
            self._other.stop()
        elif self._parked is not None:
            self._parked.shutdown()
            self._parked.server_close()
