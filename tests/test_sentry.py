"""Issue 13, errors: with SENTRY_DSN set, an unhandled error in a view of a real gunicorn
reaches Sentry (here a fake Sentry on 127.0.0.1 receiving the SDK's envelopes) with its
exception type, environment and release, and without the viewer's cookies; without
SENTRY_DSN nothing is sent, and either way Django mails the error to ADMINS (a fake SMTP
server on 127.0.0.1 receives it).
"""

from __future__ import annotations

import gzip
import json
import socketserver
import threading
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.procs import prepare_site, running, site_env, start_gunicorn, wait_until

pytestmark = pytest.mark.operation

PROJECT = "4242"
SECRET_COOKIE = "sessionid=do-not-send-me-0123456789"


class FakeSentry:
    """Records every envelope POSTed to /api/<project>/envelope/."""

    def __init__(self) -> None:
        self.envelopes: list[bytes] = []
        self.paths: list[str] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                encoding = self.headers.get("Content-Encoding", "")
                if encoding == "gzip":
                    body = gzip.decompress(body)
                elif encoding == "deflate":
                    body = zlib.decompress(body)
                elif encoding == "br":
                    import brotli  # type: ignore[import-not-found]

                    body = brotli.decompress(body)
                owner.paths.append(self.path)
                owner.envelopes.append(body)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def dsn(self) -> str:
        return f"http://publickey@127.0.0.1:{self.server.server_port}/{PROJECT}"

    def items(self) -> list[tuple[dict[str, Any], bytes]]:
        """(item header, payload) of every envelope item received."""
        found = []
        for envelope in self.envelopes:
            lines = envelope.split(b"\n")[1:]  # the envelope header first
            while len(lines) >= 2:
                header, payload, lines = json.loads(lines[0]), lines[1], lines[2:]
                found.append((header, payload))
        return found

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(p) for h, p in self.items() if h.get("type") == "event"]


class FakeSMTP:
    """Just enough SMTP to accept Django's mails; keeps each message's text."""

    def __init__(self) -> None:
        self.messages: list[str] = []
        owner = self

        class Handler(socketserver.StreamRequestHandler):
            def reply(self, line: str) -> None:
                self.wfile.write(f"{line}\r\n".encode())

            def handle(self) -> None:
                self.reply("220 fake-smtp ready")
                while raw := self.rfile.readline():
                    command = raw.decode(errors="replace").strip().upper()
                    if command.startswith("DATA"):
                        self.reply("354 go ahead")
                        data = []
                        while (line := self.rfile.readline()) not in {b".\r\n", b".\n", b""}:
                            data.append(line.decode(errors="replace"))
                        owner.messages.append("".join(data))
                        self.reply("250 queued")
                    elif command.startswith("QUIT"):
                        self.reply("221 bye")
                        return
                    else:
                        self.reply("250 ok")

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)


@pytest.fixture
def sentry() -> Iterator[FakeSentry]:
    fake = FakeSentry()
    fake.thread.start()
    yield fake
    fake.server.shutdown()


@pytest.fixture
def smtp() -> Iterator[FakeSMTP]:
    fake = FakeSMTP()
    fake.thread.start()
    yield fake
    fake.server.shutdown()


def site(tmp_path: Path, smtp: FakeSMTP, **extra: str) -> dict[str, str]:
    env = site_env(
        tmp_path,
        database_url=f"sqlite:///{tmp_path / 'site.sqlite3'}",
        DJANGO_SETTINGS_MODULE="tests.sentry_settings",
        ADMINS="ops@otakusite.test",
        SERVER_EMAIL="site@otakusite.test",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=str(smtp.server.server_address[1]),
        **extra,
    )
    env.pop("SENTRY_DSN", None)
    env.update(extra)
    prepare_site(env)
    return env


def provoke_error(env: dict[str, str], tmp_path: Path, smtp: FakeSMTP) -> None:
    web = start_gunicorn(env, tmp_path, workers=1)
    with running(web):
        response = web.get("/boom/", headers={"Cookie": SECRET_COOKIE, "User-Agent": "probe/1"})
        assert response.status_code == 500
        # Django's own fallback: the error mailed to ADMINS.
        wait_until(lambda: bool(smtp.messages), "the error mail to ADMINS")
    # gunicorn stopped cleanly: the SDK has flushed whatever it had queued.
    assert "SentryProbeError" in smtp.messages[0]
    assert "ops@otakusite.test" in smtp.messages[0]


def test_an_unhandled_view_error_reaches_sentry_with_its_type(
    tmp_path: Path, sentry: FakeSentry, smtp: FakeSMTP
) -> None:
    env = site(
        tmp_path,
        smtp,
        SENTRY_DSN=sentry.dsn,
        SENTRY_ENVIRONMENT="ci-test",
        SENTRY_RELEASE="otakusite@0.1-test",
    )
    web = start_gunicorn(env, tmp_path, workers=1)
    with running(web):
        response = web.get("/boom/", headers={"Cookie": SECRET_COOKIE, "User-Agent": "probe/1"})
        assert response.status_code == 500
        wait_until(lambda: bool(sentry.events()), "the error event at the fake Sentry")

    assert all(p == f"/api/{PROJECT}/envelope/" for p in sentry.paths)
    [event] = sentry.events()
    [exception] = event["exception"]["values"]
    assert exception["type"] == "SentryProbeError"
    assert "a bug in a view" in exception["value"]
    assert event["environment"] == "ci-test"
    assert event["release"] == "otakusite@0.1-test"
    assert event["request"]["url"].endswith("/boom/")
    # send_default_pii off: no cookies, no viewer IP address.
    raw = b"".join(sentry.envelopes)
    assert b"do-not-send-me" not in raw
    assert "ip_address" not in event.get("user", {})
    # Tracing is off by default: no transactions, only the error.
    assert not [h for h, _p in sentry.items() if h.get("type") == "transaction"]
    # ...and ADMINS still get their mail.
    wait_until(lambda: bool(smtp.messages), "the error mail to ADMINS")


def test_without_sentry_dsn_nothing_is_sent_and_admins_still_get_the_mail(
    tmp_path: Path, sentry: FakeSentry, smtp: FakeSMTP
) -> None:
    # Everything else as above, the fake Sentry listening: only the DSN is missing.
    env = site(tmp_path, smtp, SENTRY_ENVIRONMENT="ci-test", SENTRY_RELEASE="otakusite@0.1")

    provoke_error(env, tmp_path, smtp)

    assert sentry.envelopes == []
