"""A real request through nginx (deploy/nginx/nginx.conf, with local paths and ports) to
gunicorn (deploy/gunicorn.conf.py) running the site with production settings."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import REPO_ROOT

NGINX = shutil.which("nginx") or next(
    (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if Path(p).exists()), None
)
NGINX_CONF = REPO_ROOT / "deploy" / "nginx" / "nginx.conf"
GUNICORN = Path(sys.executable).with_name("gunicorn")
needs_nginx = pytest.mark.skipif(NGINX is None, reason="nginx is not installed (apt nginx)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def nginx_test_config(tmp_path: Path, *, listen_port: int, web_port: int, static_dir: Path) -> Path:
    """deploy/nginx/nginx.conf with the container's names and paths swapped for local
    ones. Every swap must hit, so a changed config cannot silently escape the test."""
    text = NGINX_CONF.read_text()
    swaps = {
        # As root, nginx's workers would drop to "nobody", who cannot read pytest's tmp.
        "user nginx;": "user root root;" if os.geteuid() == 0 else "",
        "pid /var/run/nginx.pid;": f"pid {tmp_path / 'nginx.pid'};",
        "error_log /dev/stderr warn;": f"error_log {tmp_path / 'error.log'} info;",
        "access_log /dev/stdout;": f"access_log {tmp_path / 'access.log'};",
        "server web:8000;": f"server 127.0.0.1:{web_port};",
        "listen 80 default_server;": f"listen 127.0.0.1:{listen_port} default_server;",
        "listen [::]:80 default_server;": "",
        "alias /srv/static/;": f"alias {static_dir}/;",
        # No TLS in this test (tests/test_tls_proxy.py covers it): include nothing.
        "include /etc/nginx/tls/*.conf;": "",
    }
    for old, new in swaps.items():
        assert text.count(old) == 1, f"{old!r} not found once in {NGINX_CONF}"
        text = text.replace(old, new)
    # Debian's nginx keeps temp files under /var/lib/nginx: point them into tmp as well.
    temp = "".join(
        f"    {name}_temp_path {tmp_path / name};\n"
        for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    text = text.replace("http {\n", "http {\n" + temp, 1)
    conf = tmp_path / "nginx.conf"
    conf.write_text(text)
    return conf


def wait_until(check: Callable[[], bool], what: str, process: subprocess.Popen[bytes]) -> None:
    """Poll until a server answers (not a timing assertion: it only bounds a hang)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{what} exited with {process.returncode}")
        try:
            if check():
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{what} did not come up")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@dataclass
class Site:
    web_url: str
    static_root: Path
    env: dict[str, str]


def production_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "DJANGO_SETTINGS_MODULE"}}
    env.update(
        DEBUG="0",
        SECRET_KEY="nginx-proxy-test-" + "s3cr3t" * 8,
        ALLOWED_HOSTS="otakusite.test,localhost,127.0.0.1",
        DATABASE_URL=f"sqlite:///{tmp_path / 'site.sqlite3'}",
        STATIC_ROOT=str(tmp_path / "staticfiles"),
        OTAKUSITE_VAR_DIR=str(tmp_path / "var"),
        DJANGO_SETTINGS_MODULE="otakusite.settings",
    )
    return env


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The site as the web container runs it: collectstatic, migrate, then gunicorn."""
    if not GUNICORN.exists():
        pytest.skip(f"gunicorn not installed next to {sys.executable}")
    tmp_path = tmp_path_factory.mktemp("site")
    env = production_env(tmp_path)
    for command in (["collectstatic", "--noinput"], ["migrate", "--noinput"]):
        subprocess.run(
            [sys.executable, "manage.py", *command],
            cwd=REPO_ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
    port = free_port()
    process = subprocess.Popen(
        [str(GUNICORN), "--config", "deploy/gunicorn.conf.py", "otakusite.wsgi"],
        cwd=REPO_ROOT,
        env={**env, "GUNICORN_BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(
            lambda: httpx.get(url + "/healthz", headers={"Host": "localhost"}).status_code == 200,
            "gunicorn",
            process,
        )
        yield Site(url, tmp_path / "staticfiles", env)
    finally:
        stop(process)


@pytest.fixture(scope="module")
def nginx(site: Site, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if NGINX is None:
        pytest.skip("nginx is not installed (apt nginx)")
    tmp_path = tmp_path_factory.mktemp("nginx")
    port = free_port()
    conf = nginx_test_config(
        tmp_path,
        listen_port=port,
        web_port=int(site.web_url.rsplit(":", 1)[1]),
        static_dir=site.static_root,
    )
    process = subprocess.Popen(
        [NGINX, "-p", str(tmp_path), "-c", str(conf), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: httpx.get(url + "/nginx-health").status_code == 200, "nginx", process)
        yield url
    finally:
        stop(process)


def hashed_static_file(site: Site, suffix: str) -> str:
    manifest = json.loads((site.static_root / "staticfiles.json").read_text())
    return next(v for k, v in manifest["paths"].items() if k.endswith(suffix))


@needs_nginx
def test_pages_answer_200_through_nginx(nginx: str) -> None:
    home = httpx.get(nginx + "/", headers={"Host": "otakusite.test"})
    assert home.status_code == 200
    assert "text/html" in home.headers["content-type"]
    health = httpx.get(nginx + "/healthz", headers={"Host": "otakusite.test"})
    assert health.status_code == 200
    assert health.json()["database"] is True


@needs_nginx
def test_static_files_come_from_nginx_with_a_year_of_caching_and_gzip(
    nginx: str, site: Site
) -> None:
    css = hashed_static_file(site, ".css")
    response = httpx.get(f"{nginx}/static/{css}", headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert "max-age=31536000" in response.headers["cache-control"]
    assert response.headers.get("content-encoding") == "gzip"
    assert response.text == (site.static_root / css).read_text()
    assert httpx.get(f"{nginx}/static/no-such-file.css").status_code == 404


@needs_nginx
def test_unknown_host_is_refused_by_django_not_served(nginx: str) -> None:
    assert httpx.get(nginx + "/", headers={"Host": "evil.example"}).status_code == 400


def test_container_healthcheck_script_against_gunicorn(site: Site) -> None:
    script = REPO_ROOT / "deploy" / "healthcheck.py"
    env = {**site.env, "HEALTHCHECK_URL": site.web_url + "/healthz"}
    ok = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, check=False)
    assert ok.returncode == 0, ok.stderr
    down = subprocess.run(
        [sys.executable, str(script)],
        env={**env, "HEALTHCHECK_URL": f"http://127.0.0.1:{free_port()}/healthz"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert down.returncode == 1
    assert "unhealthy" in down.stderr
