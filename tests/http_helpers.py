"""A tiny scripted HTTP server on 127.0.0.1 for client tests.

Each path has a queue of scripted replies; when the queue is empty the path's default
reply (or 404) is used. Every request that reaches the server is recorded, so tests can
assert what was (or was not) sent.
"""

from __future__ import annotations

import collections
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Reply:
    """A scripted response. ``action`` picks a misbehaviour instead of a clean reply:
    ``"reset"`` (RST without a response), ``"truncate"`` (Content-Length larger than the
    body, then close) or ``"stall"`` (wait until the server stops, sending nothing)."""

    status: int = 200
    body: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    action: str | None = None


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes


@dataclass
class ScriptedServer:
    httpd: ThreadingHTTPServer
    release: threading.Event
    queues: dict[str, collections.deque[Reply]] = field(default_factory=dict)
    defaults: dict[str, Reply | Callable[[Seen], Reply]] = field(default_factory=dict)
    requests: list[Seen] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base_url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    def script(self, path: str, *replies: Reply) -> None:
        with self.lock:
            self.queues.setdefault(path, collections.deque()).extend(replies)

    def default(self, path: str, reply: Reply | Callable[[Seen], Reply]) -> None:
        with self.lock:
            self.defaults[path] = reply

    def seen(self, path: str | None = None) -> list[Seen]:
        with self.lock:
            return [r for r in self.requests if path is None or r.path == path]

    def next_reply(self, seen: Seen) -> Reply:
        with self.lock:
            self.requests.append(seen)
            queue = self.queues.get(seen.path)
            if queue:
                return queue.popleft()
            default = self.defaults.get(seen.path)
        if default is None:
            return Reply(404, "no such page")
        return default(seen) if callable(default) else default


def _handler_for(server: ScriptedServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            # Without NODELAY, headers and body written separately meet delayed ACKs and
            # every keep-alive request costs ~40 ms.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass  # keep test output clean

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            seen = Seen(
                method=self.command,
                path=parts.path,
                query=parts.query,
                headers={k.lower(): v for k, v in self.headers.items()},
                body=body,
            )
            reply = server.next_reply(seen)
            if reply.action == "reset":
                # SO_LINGER 0 makes close() send RST: the client sees a reset connection.
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
                self.close_connection = True
                self.connection.close()
                return
            if reply.action == "stall":
                server.release.wait(10)
                self.close_connection = True
                return
            payload = reply.body.encode("utf-8")
            self.send_response(reply.status)
            names = {name.lower() for name, _ in reply.headers}
            if "content-type" not in names:
                self.send_header("Content-Type", "text/html; charset=UTF-8")
            for name, value in reply.headers:
                self.send_header(name, value)
            if reply.action == "truncate":
                self.send_header("Content-Length", str(len(payload) + 100))
                self.end_headers()
                self.wfile.write(payload)
                self.wfile.flush()
                self.close_connection = True
                return
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = _handle  # noqa: N815 -- http.server dispatches on this name
        do_POST = _handle  # noqa: N815

    return Handler


@contextmanager
def scripted_server() -> Iterator[ScriptedServer]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    server = ScriptedServer(httpd=httpd, release=threading.Event())
    httpd.RequestHandlerClass = _handler_for(server)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.release.set()  # let stalled handlers finish
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)
