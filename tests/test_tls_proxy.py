"""Issue 11 item 9: HTTPS works in both TLS layouts, with SECURE_SSL_REDIRECT=1 and
BEHIND_PROXY=1 as README.md advises.

Real processes: gunicorn (deploy/gunicorn.conf.py) behind the shipped nginx config
(deploy/nginx/nginx.conf) behind a second nginx that terminates TLS with a self-signed
certificate made by openssl here; and the shipped nginx terminating TLS itself with
deploy/nginx/tls.conf. Before the fix the site's nginx overwrote X-Forwarded-Proto with its
own "http", so every HTTPS request was redirected to itself for ever.
"""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.edge_helpers import NGINX_TLS_CONF, local_nginx_conf
from tests.procs import (
    Service,
    Web,
    free_port,
    prepare_site,
    running,
    site_env,
    start_gunicorn,
    start_nginx,
)

pytestmark = pytest.mark.operation

OPENSSL = shutil.which("openssl")
HOST = "otakusite.test"
TLS_INCLUDE = "include /etc/nginx/tls/*.conf;"
# The trusted-proxy entries for loopback in deploy/nginx/nginx.conf (both lists).
LOOPBACK_TRUST = {"        127.0.0.0/8 1;\n": "", "    set_real_ip_from 127.0.0.0/8;\n": ""}


@dataclass
class Cert:
    cert: Path
    key: Path

    def client(self, base_url: str) -> httpx.Client:
        context = ssl.create_default_context(cafile=str(self.cert))
        return httpx.Client(base_url=base_url, verify=context, headers={"Host": HOST}, timeout=30)


@dataclass
class Stack:
    web: Web
    cert: Cert
    tmp: Path


def negotiated_protocol(cert: Cert, port: int, offered: list[str]) -> str | None:
    """The application protocol nginx picks from what a client offers in its TLS hello."""
    context = ssl.create_default_context(cafile=str(cert.cert))
    context.set_alpn_protocols(offered)
    with (
        socket.create_connection(("127.0.0.1", port), timeout=30) as raw,
        context.wrap_socket(raw, server_hostname=HOST) as tls,
    ):
        return tls.selected_alpn_protocol()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if OPENSSL is None:
        pytest.skip("openssl is not installed")
    tmp = tmp_path_factory.mktemp("tls")
    cert = Cert(tmp / "cert.pem", tmp / "key.pem")
    subprocess.run(
        [OPENSSL, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-keyout", str(cert.key), "-out", str(cert.cert), "-subj", f"/CN={HOST}",
         "-addext", f"subjectAltName=DNS:{HOST},IP:127.0.0.1"],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    env = site_env(
        tmp,
        database_url=f"sqlite:///{tmp / 'site.sqlite3'}",
        SECURE_SSL_REDIRECT="1",
        BEHIND_PROXY="1",
        SECURE_HSTS_SECONDS="3600",
        ALLOWED_HOSTS=f"{HOST},localhost,127.0.0.1",
    )
    prepare_site(env)
    web = start_gunicorn(env, tmp, workers=1)
    with running(web):
        yield Stack(web, cert, tmp)


def site_nginx(
    stack: Stack, *, tls: bool = False, swaps: dict[str, str] | None = None
) -> tuple[Service, int, int | None]:
    """The shipped nginx config in front of gunicorn; with ``tls`` it also includes the
    shipped deploy/nginx/tls.conf (its listen port and certificate made local)."""
    http_port = free_port()
    tls_port = free_port() if tls else None
    include = ""
    if tls:
        include = NGINX_TLS_CONF.read_text()
        tls_swaps = {
            "listen 443 ssl http2;": f"listen 127.0.0.1:{tls_port} ssl http2;",
            "listen [::]:443 ssl http2;": "",
            "ssl_certificate /etc/nginx/tls/fullchain.pem;": f"ssl_certificate {stack.cert.cert};",
            "ssl_certificate_key /etc/nginx/tls/privkey.pem;": (
                f"ssl_certificate_key {stack.cert.key};"
            ),
        }
        for old, new in tls_swaps.items():
            assert include.count(old) == 1, f"{old!r} not found once in {NGINX_TLS_CONF}"
            include = include.replace(old, new)
    base = stack.tmp / f"site-nginx-{http_port}"
    base.mkdir()
    text = local_nginx_conf(
        base,
        listen_port=http_port,
        web_port=stack.web.port,
        static_dir=stack.tmp / "staticfiles",
        # Without TLS the include stays, pointing at a folder with nothing mounted in it,
        # as in the shipped Compose setup (a glob matching nothing is no error).
        extra_swaps={TLS_INCLUDE: include or f"include {base}/tls/*.conf;", **(swaps or {})},
    )
    return start_nginx(text, base, port=http_port), http_port, tls_port


def tls_terminator(stack: Stack, upstream_port: int) -> tuple[Service, int, int]:
    """A TLS-terminating proxy as an operator would put in front (a load balancer, Caddy,
    another nginx): HTTPS and plain HTTP, the scheme it saw in X-Forwarded-Proto."""
    http_port, tls_port = free_port(), free_port()
    base = stack.tmp / f"front-{tls_port}"
    base.mkdir()
    user = "user root root;" if os.geteuid() == 0 else ""
    text = f"""{user}
pid {base / "nginx.pid"};
error_log {base / "error.log"} info;
events {{ worker_connections 256; }}
http {{
    access_log {base / "access.log"};
    server {{
        listen 127.0.0.1:{http_port};
        listen 127.0.0.1:{tls_port} ssl;
        ssl_certificate {stack.cert.cert};
        ssl_certificate_key {stack.cert.key};
        location / {{
            proxy_pass http://127.0.0.1:{upstream_port};
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        }}
    }}
}}
"""
    return start_nginx(text, base, port=http_port), http_port, tls_port


@pytest.fixture(scope="module")
def behind_proxy(stack: Stack) -> Iterator[tuple[int, int]]:
    inner, inner_port, _ = site_nginx(stack)
    with running(inner):
        front, http_port, tls_port = tls_terminator(stack, inner_port)
        with running(front):
            yield http_port, tls_port


def test_https_through_a_tls_proxy_answers_200_not_a_redirect_loop(
    stack: Stack, behind_proxy: tuple[int, int]
) -> None:
    _, tls_port = behind_proxy
    with stack.cert.client(f"https://127.0.0.1:{tls_port}") as client:
        for path in ("/", "/anime/", "/healthz"):
            response = client.get(path)
            assert response.status_code == 200, (path, response.headers.get("location"))
        # Django saw the request as secure: HSTS is only sent over HTTPS.
        assert "max-age=3600" in client.get("/").headers.get("strict-transport-security", "")


def test_plain_http_through_the_proxy_redirects_once_to_https(
    stack: Stack, behind_proxy: tuple[int, int]
) -> None:
    http_port, tls_port = behind_proxy
    plain = httpx.get(f"http://127.0.0.1:{http_port}/jadwal/?x=1", headers={"Host": HOST})
    assert plain.status_code == 301
    assert plain.headers["location"] == f"https://{HOST}/jadwal/?x=1"
    with stack.cert.client(f"https://127.0.0.1:{tls_port}") as client:
        assert client.get("/jadwal/?x=1").status_code == 200
    # A load balancer's plain-HTTP health probe is answered, not redirected.
    health = httpx.get(f"http://127.0.0.1:{http_port}/healthz", headers={"Host": HOST})
    assert health.status_code == 200


def test_canonical_and_share_card_urls_are_the_public_https_ones(
    stack: Stack, behind_proxy: tuple[int, int]
) -> None:
    """Behind the TLS proxy and the shipped nginx, absolute URLs in the pages name the
    public scheme and host, and the shared picture they name is served there."""
    _, tls_port = behind_proxy
    with stack.cert.client(f"https://127.0.0.1:{tls_port}") as client:
        page = client.get("/anime/?utm_source=share").text
        assert f'<link rel="canonical" href="https://{HOST}/anime/">' in page
        assert f'<meta property="og:url" content="https://{HOST}/anime/">' in page
        image = page.split('<meta property="og:image" content="', 1)[1].split('"', 1)[0]
        assert image.startswith(f"https://{HOST}/static/img/share.")  # the hashed name
        picture = client.get(image.removeprefix(f"https://{HOST}"))
        assert picture.status_code == 200
        assert picture.headers["content-type"] == "image/jpeg"


def test_nginx_terminating_tls_itself_serves_https_and_redirects_http_once(stack: Stack) -> None:
    nginx, http_port, tls_port = site_nginx(stack, tls=True)
    assert tls_port is not None
    with running(nginx):
        with stack.cert.client(f"https://127.0.0.1:{tls_port}") as client:
            home = client.get("/")
            assert home.status_code == 200, home.headers.get("location")
            assert "strict-transport-security" in home.headers
        # HTTP/2 is offered (ALPN), so browsers use it; HTTP/1.1 clients still get in.
        assert negotiated_protocol(stack.cert, tls_port, ["h2", "http/1.1"]) == "h2"
        assert negotiated_protocol(stack.cert, tls_port, ["http/1.1"]) == "http/1.1"
        plain = httpx.get(f"http://127.0.0.1:{http_port}/genres/", headers={"Host": HOST})
        assert plain.status_code == 301
        assert plain.headers["location"] == f"https://{HOST}/genres/"
        # nginx's own health check keeps answering on plain HTTP.
        assert httpx.get(f"http://127.0.0.1:{http_port}/nginx-health").status_code == 200


def test_only_trusted_proxies_may_claim_https(stack: Stack) -> None:
    """A client that is not a configured proxy cannot make a plain request pass as HTTPS
    (no redirect, secure cookies over HTTP); loopback is trusted by default, so the same
    header from 127.0.0.1 is believed."""
    trusting, trusting_port, _ = site_nginx(stack)
    strict, strict_port, _ = site_nginx(stack, swaps=LOOPBACK_TRUST)
    claim = {"Host": HOST, "X-Forwarded-Proto": "https"}
    with running(trusting, strict):
        believed = httpx.get(f"http://127.0.0.1:{trusting_port}/", headers=claim)
        assert believed.status_code == 200
        ignored = httpx.get(f"http://127.0.0.1:{strict_port}/", headers=claim)
        assert ignored.status_code == 301
        assert ignored.headers["location"] == f"https://{HOST}/"
