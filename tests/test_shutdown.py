"""Issue 11 items 3 and 4: stopping the worker while it crawls.

- `docker stop` sends SIGTERM to qcluster (PID 1 behind tini): the crawl stops before its
  next page, its run is marked ``interrupted``, its lock is released, every anime it stored
  is complete, and the whole cluster (sentinel, workers) has exited within 20 s, well
  inside Compose's stop_grace_period.
- Ctrl-C on `make run` (SIGINT to the terminal's foreground process group) ends the site
  and the worker, with its crawl, within 10 s: nothing of what `make run` started is left.
- SIGTERM to `manage.py scrape full` ends it the same way, exit status 143.

Real processes against a slow fake origin (each page takes a while, so the crawl is
surely under way when the signal comes); a private MariaDB and Redis (Redis broker).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from tests.fake_origin import FakeOrigin
from tests.procs import REPO_ROOT, manage, start_manage, wait_until
from tests.runs_helpers import (
    Backends,
    assert_stored_anime_complete,
    backends,  # noqa: F401 - fixture
    make_site,
)
from tests.test_make_run import free_port, wait_for

pytestmark = pytest.mark.operation

# What the operator is promised (README.md, "Operating it"): not a timing of the test.
QCLUSTER_STOP_SECONDS = 20
MAKE_RUN_STOP_SECONDS = 10

QUEUE_CRAWL = (
    "from django_q.tasks import async_task; "
    "async_task('scraper.tasks.crawl_task', 'full', base_url='{url}')"
)


def group_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


def test_sigterm_to_qcluster_stops_the_crawl_cleanly_within_20_seconds(
    backends: Backends,  # noqa: F811
    tmp_path: Path,
) -> None:
    site = make_site(backends, tmp_path)
    with FakeOrigin(seed=8, size=30) as origin:
        origin.slow(0.3)
        worker = start_manage(site.env, tmp_path, "qcluster", name="qcluster")
        try:
            manage(site.env, "shell", "-c", QUEUE_CRAWL.format(url=origin.base_url))
            wait_until(lambda: site.anime_count() >= 2, "two anime stored", process=worker.process)
            [run] = site.runs("full")
            assert run["status"] == "running"

            started = time.monotonic()
            worker.signal(signal.SIGTERM)  # what `docker stop` does (tini forwards it)
            wait_until(
                # poll() reaps the main process: a zombie still counts as a group member.
                lambda: worker.process.poll() is not None and group_gone(worker.pid),
                "the whole cluster exited",
            )
            elapsed = time.monotonic() - started
        finally:
            worker.stop()
    assert worker.process.returncode == 0, worker.log_text()[-3000:]
    assert elapsed < QCLUSTER_STOP_SECONDS, f"qcluster took {elapsed:.1f} s to stop"
    [run] = site.runs("full")
    assert run["status"] == "interrupted", run
    assert "SIGTERM" in run["errors"]
    assert site.locks() == []
    stored = assert_stored_anime_complete(site, origin)
    assert 2 <= stored < 30


def test_sigterm_to_scrape_full_stops_it_cleanly(
    backends: Backends,  # noqa: F811
    tmp_path: Path,
) -> None:
    site = make_site(backends, tmp_path)
    with FakeOrigin(seed=9, size=30) as origin:
        origin.slow(0.3)
        scrape = start_manage(
            site.env, tmp_path, "scrape", "full", "--base-url", origin.base_url, name="scrape"
        )
        try:
            wait_until(lambda: site.anime_count() >= 2, "two anime stored", process=scrape.process)
            scrape.signal(signal.SIGTERM)
            wait_until(lambda: scrape.process.poll() is not None, "scrape exited")
        finally:
            scrape.stop()
    assert scrape.process.returncode == 143, scrape.log_text()[-3000:]
    assert "interrupted" in scrape.log_text()
    [run] = site.runs("full")
    assert run["status"] == "interrupted"
    assert site.locks() == []
    assert_stored_anime_complete(site, origin)


# --------------------------------------------------------------------------- make run


def session_processes(sid: int) -> list[tuple[int, str]]:
    """(pid, command) of every live process in session ``sid`` (make run's own session:
    whatever `make run` started, however deep, reparented or in its own group)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError):
            stat = (entry / "stat").read_text()
            fields = stat.rsplit(")", 1)[1].split()
            state, session = fields[0], int(fields[3])
            if session == sid and state != "Z":
                cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                found.append((int(entry.name), cmd.strip()))
    return found


def kill_session(sid: int) -> None:
    for pid, _ in session_processes(sid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def running_runs(database: Path) -> int:
    with contextlib.closing(sqlite3.connect(database, timeout=10)) as db:
        (count,) = db.execute(
            "SELECT COUNT(*) FROM catalog_scraperun WHERE status = 'running'"
        ).fetchone()
    return int(count)


def start_make_run(tmp_path: Path, base_url: str) -> tuple[subprocess.Popen[bytes], str]:
    """`make run` as tests/test_make_run.py starts it (its own session, as a terminal's
    shell would give it), crawling ``base_url``."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "DEBUG"}}
    env.pop("SECRET_KEY", None)
    env.pop("CACHE_REDIS_URL", None)
    env.update(
        OTAKUSITE_VAR_DIR=str(tmp_path),
        OTAKUDESU_BASE_URL=base_url,
        SCRAPER_RATE_LIMIT="0",
        DJANGO_SETTINGS_MODULE="otakusite.settings",
    )
    with (tmp_path / "make-run.log").open("wb") as log:
        proc = subprocess.Popen(
            ["make", "run", f"PORT={port}"],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return proc, f"http://127.0.0.1:{port}"


def test_ctrl_c_on_make_run_ends_everything_it_started_within_10_seconds(tmp_path: Path) -> None:
    with FakeOrigin(seed=10, size=40) as origin:
        origin.slow(0.3)
        # make run's first crawl crawls the slow origin: the worker is busy when Ctrl-C comes.
        proc, url = start_make_run(tmp_path, origin.base_url)
        try:
            wait_for(url + "/", proc, time.monotonic() + 180)
            database = tmp_path / "otakusite.sqlite3"
            wait_until(
                lambda: any(r.path.startswith("/anime/") for r in origin.requests),
                "the worker crawling anime pages",
                process=proc,
                deadline=240,
            )
            assert running_runs(database) == 1
            before = session_processes(proc.pid)
            assert any("qcluster" in cmd for _, cmd in before), before

            started = time.monotonic()
            os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C: the terminal's foreground group
            wait_until(lambda: not session_processes(proc.pid), "every process of make run gone")
            elapsed = time.monotonic() - started
            proc.wait(timeout=30)
        finally:
            kill_session(proc.pid)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=30)
    assert elapsed < MAKE_RUN_STOP_SECONDS, f"make run took {elapsed:.1f} s to end"
    # The crawl was stopped, not killed: its run says so (a killed one would stay running).
    assert running_runs(database) == 0
