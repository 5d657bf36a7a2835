"""A real request through nginx (deploy/nginx/nginx.conf, with local paths and ports) to
gunicorn (deploy/gunicorn.conf.py) running the site with production settings."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import REPO_ROOT
from tests.edge_helpers import local_media_dir, local_nginx_conf
from tests.procs import free_port, stop_process, wait_until, write_nginx_conf

NGINX = shutil.which("nginx") or next(
    (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if Path(p).exists()), None
)
GUNICORN = Path(sys.executable).with_name("gunicorn")
# A poster file as the worker writes it (catalog/posters.py names: hash-width.ext).
POSTER = "0123456789abcdef0123-360.webp"
POSTER_BYTES = b"RIFF\x10\x00\x00\x00WEBPVP8 poster-bytes"
needs_nginx = pytest.mark.skipif(NGINX is None, reason="nginx is not installed (apt nginx)")


def nginx_test_config(tmp_path: Path, *, listen_port: int, web_port: int, static_dir: Path) -> Path:
    """deploy/nginx/nginx.conf as a local config file (every swap must hit, see
    tests.edge_helpers.local_nginx_conf); no TLS here (tests/test_tls_proxy.py covers it)."""
    text = local_nginx_conf(
        tmp_path,
        listen_port=listen_port,
        web_port=web_port,
        static_dir=static_dir,
        extra_swaps={"include /etc/nginx/tls/*.conf;": ""},
    )
    return write_nginx_conf(text, tmp_path)


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
            process=process,
        )
        yield Site(url, tmp_path / "staticfiles", env)
    finally:
        stop_process(process)


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
    media = local_media_dir(tmp_path) / "posters"
    media.mkdir(parents=True)
    (media / POSTER).write_bytes(POSTER_BYTES)
    process = subprocess.Popen(
        [NGINX, "-p", str(tmp_path), "-c", str(conf), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(
            lambda: httpx.get(url + "/nginx-health").status_code == 200, "nginx", process=process
        )
        yield url
    finally:
        stop_process(process)


def manifest_paths(site: Site) -> dict[str, str]:
    """collectstatic's manifest: each file's own name → its content-hashed name."""
    return json.loads((site.static_root / "staticfiles.json").read_text())["paths"]


def hashed_static_file(site: Site, suffix: str) -> str:
    return next(v for k, v in manifest_paths(site).items() if k.endswith(suffix))


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
    assert "immutable" in response.headers["cache-control"]
    missing = httpx.get(f"{nginx}/static/no-such-file.css")
    assert missing.status_code == 404
    assert "cache-control" not in missing.headers


@needs_nginx
def test_unhashed_static_names_are_cached_for_minutes_only(nginx: str, site: Site) -> None:
    """collectstatic also writes each file under its own name (css/site.css beside
    css/site.<hash>.css): that name keeps its URL when the file changes, so a year of
    caching would pin browsers to the old file."""
    hashed = hashed_static_file(site, ".css")
    original = next(k for k, v in manifest_paths(site).items() if v == hashed)
    response = httpx.get(f"{nginx}/static/{original}")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=300"
    assert response.text == (site.static_root / hashed).read_text()


@needs_nginx
def test_request_id_is_nginx_s_own_or_the_one_a_proxy_in_front_sent(nginx: str) -> None:
    """nginx names each request and Django logs and returns that name: the id a viewer
    reports is the one in both logs."""
    fresh = httpx.get(nginx + "/healthz/live", headers={"Host": "otakusite.test"})
    first = fresh.headers["x-request-id"]
    assert len(first) == 32
    assert all(c in "0123456789abcdef" for c in first)
    again = httpx.get(nginx + "/healthz/live", headers={"Host": "otakusite.test"})
    assert again.headers["x-request-id"] != first
    passed = httpx.get(
        nginx + "/healthz/live",
        headers={"Host": "otakusite.test", "X-Request-ID": "edge-proxy-0001"},
    )
    assert passed.headers["x-request-id"] == "edge-proxy-0001"


@needs_nginx
def test_posters_come_from_the_media_volume_with_a_year_of_caching(nginx: str) -> None:
    poster = httpx.get(f"{nginx}/media/posters/{POSTER}")
    assert poster.status_code == 200
    assert poster.content == POSTER_BYTES
    assert poster.headers["content-type"] == "image/webp"
    assert poster.headers["cache-control"] == "public, max-age=31536000, immutable"
    # Names that are not a poster's, or a poster not copied yet, never reach anything else.
    for odd in ("0123456789abcdef0123-360.png", "../../etc/passwd", "x.webp", "abc"):
        assert httpx.get(f"{nginx}/media/posters/{odd}").status_code == 404
    assert httpx.get(f"{nginx}/media/posters/fedcba9876543210fedc-360.webp").status_code == 404
    assert httpx.get(f"{nginx}/media/other/file.webp").status_code == 404


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
