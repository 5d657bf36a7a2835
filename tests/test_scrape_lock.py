"""Issue 11 item 5: two `manage.py scrape ongoing` at once do not both crawl.

The command takes the same lock as the worker's tasks: the second one says it skipped,
which run holds the crawl, since when and whose it is, and exits with status 75; with
``--force`` it runs anyway. Real processes against a slow fake origin, on MariaDB + Redis
(production) and on SQLite with the local-memory cache (`make run`, where the lock is
per process and the database decides).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.fake_origin import FakeOrigin
from tests.procs import PYTHON, REPO_ROOT, manage, site_env, wait_until
from tests.runs_helpers import Backends, Site, backends, make_site  # noqa: F401 - fixture

pytestmark = pytest.mark.operation

EXIT_SKIPPED = 75


def start_scrape(env: dict[str, str], tmp_path: Path, name: str, *args: str) -> subprocess.Popen:
    with (tmp_path / f"{name}.log").open("wb") as log:
        return subprocess.Popen(
            [PYTHON, "manage.py", "scrape", *args],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def finish(process: subprocess.Popen, tmp_path: Path, name: str) -> tuple[int, str]:
    wait_until(lambda: process.poll() is not None, f"{name} exited")
    return process.returncode, (tmp_path / f"{name}.log").read_text()


def sqlite_site(tmp_path: Path) -> dict[str, str]:
    env = site_env(
        tmp_path,
        database_url=f"sqlite:///{tmp_path / 'site.sqlite3'}",
        SCRAPER_RATE_LIMIT="0",
        SCRAPER_RETRIES="1",
        SCRAPER_COOKIE_PATH=str(tmp_path / "cookies.json"),
    )
    env.pop("CACHE_REDIS_URL", None)
    manage(env, "migrate", "--noinput")
    return env


@pytest.fixture(params=["mariadb+redis", "sqlite+locmem"])
def site_env_for(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    if request.param == "sqlite+locmem":
        return sqlite_site(tmp_path)
    site: Site = make_site(request.getfixturevalue("backends"), tmp_path)
    return site.env


def test_two_scrape_ongoing_started_together_crawl_once(
    site_env_for: dict[str, str], tmp_path: Path
) -> None:
    with FakeOrigin(seed=11, size=12) as origin:
        origin.slow(0.2)
        args = ("ongoing", "--limit", "3", "--base-url", origin.base_url)
        first = start_scrape(site_env_for, tmp_path, "first", *args)
        second = start_scrape(site_env_for, tmp_path, "second", *args)
        results = {
            "first": (first.pid, *finish(first, tmp_path, "first")),
            "second": (second.pid, *finish(second, tmp_path, "second")),
        }
        home_requests = [r for r in origin.requests if r.path == "/"]

    codes = sorted(code for _, code, _ in results.values())
    assert codes == [0, EXIT_SKIPPED], results
    (ran_pid, _, _), (_, _, skipped_log) = sorted(results.values(), key=lambda r: r[1])
    # It says why: which run (or, when the second came between the first's lock and its
    # run row, the lock), since when, whose.
    match = re.search(
        r"skipped: another ongoing crawl is already running \((?:run #\d+|lock held) since "
        r"[\d-]+ [\d:]+[^,]*, owner [^:]+:(\d+)",
        skipped_log,
    )
    assert match, skipped_log
    assert int(match.group(1)) == ran_pid
    assert "--force" in skipped_log
    assert len(home_requests) == 1  # one crawl reached the origin


def test_force_runs_beside_a_running_crawl(backends: Backends, tmp_path: Path) -> None:  # noqa: F811
    site = make_site(backends, tmp_path)
    with FakeOrigin(seed=12, size=12) as origin:
        origin.slow(0.3)
        running = start_scrape(site.env, tmp_path, "running", "full", "--base-url", origin.base_url)
        try:
            wait_until(
                lambda: any(r["status"] == "running" for r in site.runs("full")),
                "the first crawl running",
                process=running,
            )
            args = ("full", "--limit", "1", "--base-url", origin.base_url)
            skipped = manage(site.env, "scrape", *args, check=False)
            forced = manage(site.env, "scrape", *args, "--force", check=False)
            assert running.poll() is None, "the first crawl ended before the test was done"
        finally:
            running.kill()
            running.wait()
    assert skipped.returncode == EXIT_SKIPPED, skipped.stderr
    assert f"owner {site.runs('full')[0]['owner']}" in skipped.stderr
    assert forced.returncode == 0, forced.stderr
    assert "--force: running although run #" in forced.stderr
    statuses = [r["status"] for r in site.runs("full")]
    assert statuses[1:] == ["ok"]
