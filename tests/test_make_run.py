"""`make run` on a fresh database serves the site and the admin."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from tests.conftest import REPO_ROOT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, proc: subprocess.Popen[bytes], deadline: float) -> int:
    # Polls until the server answers; this waits for start-up, it does not time anything.
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"make run exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer")


def start_make(target: str, tmp_path, **extra_env: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "DEBUG"}}
    env.update(
        extra_env,
        OTAKUSITE_VAR_DIR=str(tmp_path),
        PORT=str(port),
        # Nothing listens on the discard port: the origin is "unreachable", offline.
        OTAKUDESU_BASE_URL="http://127.0.0.1:9",
        DJANGO_SETTINGS_MODULE="otakusite.settings",
    )
    env.pop("SECRET_KEY", None)
    log = (tmp_path / "make-run.log").open("wb")
    proc = subprocess.Popen(
        ["make", target, f"PORT={port}"],
        cwd=REPO_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log.close()
    return proc, f"http://127.0.0.1:{port}"


def stop(proc: subprocess.Popen[bytes]) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=30)
    # django-q's worker processes ignore SIGTERM (their sentinel stops them); with the
    # sentinel gone at the same moment they would linger: end what is left of the group.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture
def make_run(tmp_path) -> Iterator[str]:
    proc, url = start_make("run", tmp_path)
    try:
        wait_for(url + "/", proc, time.monotonic() + 120)
        yield url
    finally:
        stop(proc)


def test_first_run_crawls_and_says_when_the_origin_is_unreachable(make_run: str) -> None:
    # make run queued the first crawl of an origin nobody answers: once the worker gave up,
    # the home page says so and names the offline alternative.
    deadline = time.monotonic() + 120
    page = ""
    while time.monotonic() < deadline:
        with urllib.request.urlopen(make_run + "/", timeout=10) as response:
            page = response.read().decode()
        if "tidak bisa dihubungi" in page:
            break
        time.sleep(0.5)
    assert "tidak bisa dihubungi" in page
    assert "make demo" in page


def test_make_run_serves_home_and_admin_login(make_run: str) -> None:
    with urllib.request.urlopen(make_run + "/", timeout=10) as response:
        assert response.status == 200
        assert "otakusite" in response.read().decode()
    with urllib.request.urlopen(make_run + "/admin/login/", timeout=10) as response:
        assert response.status == 200
    # The public API, its schema and its documentation page (in-process cache, no Redis).
    home = json.loads(fetch(make_run + "/api/v1/"))
    assert set(home) == {"newest_episodes", "ongoing", "completed"}
    assert json.loads(fetch(make_run + "/api/v1/schema/"))["openapi"].startswith("3.1")
    assert "swagger-ui" in fetch(make_run + "/api/v1/docs/")


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read().decode()


def test_make_demo_fills_the_site_from_the_fake_origin(tmp_path) -> None:
    from tests.fake_origin import generate_catalog

    origin_port = free_port()
    proc, url = start_make("demo", tmp_path, DEMO_SIZE="15", DEMO_ORIGIN_PORT=str(origin_port))
    try:
        wait_for(url + "/", proc, time.monotonic() + 180)
        # The demo crawls the fake origin with its default seed: its truth is what we show.
        truth = generate_catalog(seed=1, size=15)
        az = fetch(url + "/anime/")
        for anime in truth.anime.values():
            assert f'href="/anime/{anime.slug}/"' in az
        episode = next(e for a in truth.anime.values() for e in a.episodes)
        page = fetch(f"{url}/episode/{episode.slug}/")
        assert f"localhost:{origin_port}/embed/" in page  # the fake origin's embed host
        # The same catalogue through the public API.
        groups = json.loads(fetch(url + "/api/v1/anime/"))["groups"]
        assert sorted(a["slug"] for g in groups for a in g["anime"]) == sorted(truth.anime)
        detail = json.loads(fetch(f"{url}/api/v1/episodes/{episode.slug}/"))
        assert detail["default_embed_url"].startswith(f"http://localhost:{origin_port}/embed/")
        # The demo copies the origin's posters to our domain (manage.py fetch_posters).
        poster = re.search(r"/media/posters/[0-9a-f]+-w?\d+\.webp", fetch(url + "/"))
        assert poster, "the home page shows no poster of ours"
        with urllib.request.urlopen(url + poster.group(0), timeout=10) as response:
            assert response.headers["Content-Type"] == "image/webp"
    finally:
        stop(proc)
