"""A push service for the tests, over real HTTP on 127.0.0.1, that does what a browser's push
service and the browser together do with a Web Push message: checks the VAPID
Authorization header (`vapid t=<JWT ES256>, k=<public key>`, RFC 8292) against the site's
public key, the claims (aud = this service's origin, exp in the future, sub), and decrypts
the body (RFC 8291, aes128gcm) with the subscription's private key and auth secret.

Each subscription is a path (/push/<n>); its answer status can be set (410: gone).
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import http_ece
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Browser:
    """One browser's subscription: its key pair and auth secret (what the push service
    never sees), the endpoint, and what it received."""

    path: str
    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    auth_secret: bytes = field(default_factory=lambda: os.urandom(16))
    status: int = 201
    received: list[dict[str, Any]] = field(default_factory=list)

    def keys(self) -> dict[str, str]:
        point = self.key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {"p256dh": b64url(point), "auth": b64url(self.auth_secret)}


class FakePushService:
    def __init__(self, *, vapid_public_key: str, subject: str) -> None:
        self.vapid_public_key = vapid_public_key
        self.subject = subject
        self.browsers: dict[str, Browser] = {}
        self.rejected: list[str] = []  # why a request was refused (bad signature, ...)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.origin = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FakePushService:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def new_browser(self, *, status: int = 201) -> Browser:
        with self._lock:
            browser = Browser(path=f"/push/{len(self.browsers) + 1}", status=status)
            self.browsers[browser.path] = browser
        return browser

    def endpoint(self, browser: Browser) -> str:
        return f"{self.origin}{browser.path}"

    def subscription(self, browser: Browser) -> dict[str, Any]:
        return {"endpoint": self.endpoint(browser), "keys": browser.keys()}

    # --- checks ---------------------------------------------------------------------
    def check_vapid(self, header: str) -> str | None:
        """None when the Authorization header is a valid VAPID signature, else why not."""
        if not header.startswith("vapid "):
            return f"not a vapid header: {header[:30]!r}"
        params = dict(part.strip().split("=", 1) for part in header[6:].split(","))
        if params.get("k") != self.vapid_public_key:
            return "k is not the site's public key"
        head, claims, signature = params["t"].split(".")
        if json.loads(unb64url(head)).get("alg") != "ES256":
            return "alg is not ES256"
        raw = unb64url(signature)
        der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
        public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(params["k"]))
        try:
            public.verify(der, f"{head}.{claims}".encode(), ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            return "bad signature"
        body = json.loads(unb64url(claims))
        if body.get("aud") != self.origin:
            return f"aud {body.get('aud')!r} is not {self.origin!r}"
        if not int(body.get("exp", 0)) > time.time():
            return "expired"
        if body.get("sub") != self.subject:
            return f"sub {body.get('sub')!r}"
        return None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        service = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                browser = service.browsers.get(self.path)
                if browser is None:
                    self._answer(404)
                    return
                problem = service.check_vapid(self.headers.get("Authorization", ""))
                if problem is None and self.headers.get("Content-Encoding") != "aes128gcm":
                    problem = f"content encoding {self.headers.get('Content-Encoding')!r}"
                if problem is not None:
                    service.rejected.append(problem)
                    self._answer(401)
                    return
                if browser.status >= 300:
                    self._answer(browser.status)
                    return
                plain = http_ece.decrypt(
                    body,
                    private_key=browser.key,
                    auth_secret=browser.auth_secret,
                    version="aes128gcm",
                )
                message = {"payload": json.loads(plain), "ttl": self.headers.get("TTL")}
                with service._lock:
                    browser.received.append(message)
                self._answer(201)

            def _answer(self, status: int) -> None:
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        return Handler
