"""Issue 13, backups: what an operator relies on when the database is lost.

A site crawled from the fake origin (MariaDB, and SQLite) is rendered page by page through
gunicorn, dumped with `manage.py backup_db`, wiped (every table dropped), restored with
`manage.py restore_db FILE --yes`, and every page is rendered again by a fresh gunicorn:
byte for byte the same. Then what must never happen: a failed dump (wrong password,
missing client, a dump cut short) replacing or deleting a good backup, rotation keeping
more or fewer than BACKUP_KEEP, a damaged file half-restored over a working database.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache

from otakusite import backups
from tests.edge_helpers import crawled_site_env
from tests.fake_origin import FakeOrigin
from tests.procs import (
    MariaDB,
    manage,
    prepare_site,
    running,
    site_env,
    start_gunicorn,
    start_mariadb,
)

# The viewer pages a crawl fills, as linked from the site itself.
PAGE = re.compile(
    r"^/(ongoing/|completed/|anime/|genres/|jadwal/|(anime|episode|genres)/[^/?#]+/)?"
    r"(\?page=\d+)?$"
)
HREF = re.compile(r'href="([^"]+)"')


def render_site(env: dict[str, str], tmp_path: Path, extra: list[str]) -> dict[str, bytes]:
    """Every viewer page reachable by links from the home page (plus ``extra``), rendered
    by a fresh gunicorn (its own empty cache): path -> body."""
    web = start_gunicorn(env, tmp_path, workers=1)
    pages: dict[str, bytes] = {}
    todo = ["/", "/feed/", "/sitemap.xml", *extra]
    with running(web):
        while todo:
            path = todo.pop()
            if path in pages:
                continue
            response = web.get(path)
            assert response.status_code == 200, (path, response.status_code)
            pages[path] = response.content
            if "html" in response.headers.get("content-type", ""):
                links = {h.replace("&amp;", "&") for h in HREF.findall(response.text)}
                todo += [h for h in links if PAGE.match(h) and h not in pages]
    return pages


def drop_every_table(mariadb: MariaDB, database: str) -> None:
    tables = mariadb.sql("SHOW TABLES", database=database).split()
    assert tables
    drops = "".join(f"DROP TABLE `{t}`;" for t in tables)
    mariadb.sql(f"SET FOREIGN_KEY_CHECKS=0; {drops}", database=database)
    assert mariadb.sql("SHOW TABLES", database=database).split() == []


def restore_and_compare(
    env: dict[str, str], tmp_path: Path, before: dict[str, bytes], backup: Path
) -> None:
    done = manage(env, "restore_db", str(backup), "--yes")
    assert "database restored" in done.stdout
    after = render_site(env, tmp_path, [])
    assert sorted(after) == sorted(before)
    changed = [path for path in before if after[path] != before[path]]
    assert not changed, f"pages differ after the restore: {changed[:10]}"


def the_only_backup(directory: Path) -> Path:
    [backup] = backups.list_backups(directory)
    return backup


def expected_pages(origin: FakeOrigin) -> list[str]:
    truth = origin.truth
    return [f"/anime/{slug}/" for slug in truth.anime] + [
        f"/episode/{slug}/" for slug in truth.episodes
    ]


@pytest.fixture(scope="module")
def mariadb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MariaDB]:
    server = start_mariadb(tmp_path_factory.mktemp("backup-db"))
    with running(server):
        yield server


@pytest.mark.operation
def test_mariadb_dump_wipe_restore_gives_every_page_back_identical(
    mariadb: MariaDB, tmp_path: Path
) -> None:
    backup_dir = tmp_path / "backups"
    with FakeOrigin(seed=11, size=8) as origin:
        env = site_env(
            tmp_path,
            database_url=mariadb.url("site"),
            OTAKUDESU_BASE_URL=origin.base_url,
            SCRAPER_RATE_LIMIT="0",
            AUTO_FIRST_CRAWL="0",
            BACKUP_DIR=str(backup_dir),
        )
        prepare_site(env)
        manage(env, "scrape", "full")
        wanted = expected_pages(origin)
    before = render_site(env, tmp_path, wanted)
    assert set(wanted) <= set(before)
    assert any(p.startswith("/genres/") and p != "/genres/" for p in before)

    done = manage(env, "backup_db")
    backup = the_only_backup(backup_dir)
    assert str(backup) in done.stdout
    assert backup.name.endswith(".sql.gz")
    drop_every_table(mariadb, "site")

    restore_and_compare(env, tmp_path, before, backup)
    # The restore first saved what it replaced (here: the empty, wiped database).
    assert backups.list_backups(backup_dir / "pre-restore")


@pytest.mark.operation
def test_sqlite_dump_wipe_restore_gives_every_page_back_identical(tmp_path: Path) -> None:
    backup_dir = tmp_path / "backups"
    with FakeOrigin(seed=12, size=6) as origin:
        env = crawled_site_env(tmp_path, origin.base_url, BACKUP_DIR=str(backup_dir))
        wanted = expected_pages(origin)
    before = render_site(env, tmp_path, wanted)
    assert set(wanted) <= set(before)
    manage(env, "backup_db")
    backup = the_only_backup(backup_dir)
    database = tmp_path / "site.sqlite3"
    with sqlite3.connect(database) as wipe:
        tables = [r[0] for r in wipe.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            if not table.startswith("sqlite_"):
                wipe.execute(f'DROP TABLE "{table}"')

    restore_and_compare(env, tmp_path, before, backup)


@pytest.mark.operation
def test_a_dump_with_a_wrong_password_fails_loudly_and_keeps_the_good_backups(
    mariadb: MariaDB, tmp_path: Path
) -> None:
    backup_dir = tmp_path / "backups"
    url = mariadb.url("rotating")
    env = site_env(tmp_path, database_url=url, BACKUP_DIR=str(backup_dir), BACKUP_KEEP="2")
    manage(env, "migrate", "--noinput")
    manage(env, "backup_db")
    manage(env, "backup_db")
    good = {p.name: p.read_bytes() for p in backups.list_backups(backup_dir)}
    assert len(good) == 2

    wrong = url.replace("root@", "root:not-the-password@")
    failed = manage({**env, "DATABASE_URL": wrong}, "backup_db", check=False)

    assert failed.returncode != 0
    assert "Access denied" in failed.stderr
    assert "earlier backups are kept" in failed.stderr
    assert {p.name: p.read_bytes() for p in backups.list_backups(backup_dir)} == good
    assert not [p for p in backup_dir.iterdir() if p.name.endswith(".partial")]
    status = json.loads((backup_dir / backups.STATUS_FILE).read_text())
    assert status["ok"] is False
    assert "Access denied" in status["error"]
    assert Path(status["last_success_file"]).name == max(good)


# --------------------------------------------------------------------------- in process
# Marked django_db: receivers of backup_finished (alerting) may record what they saw.


def sqlite_database(tmp_path: Path, rows: int = 3) -> dict[str, Any]:
    path = tmp_path / "db.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE IF NOT EXISTS item (id INTEGER PRIMARY KEY, name TEXT)")
        db.executemany("INSERT INTO item (name) VALUES (?)", [(f"n{i}",) for i in range(rows)])
    return {"ENGINE": "django.db.backends.sqlite3", "NAME": str(path)}


def item_names(database: dict[str, Any]) -> list[str]:
    with sqlite3.connect(database["NAME"]) as db:
        return [r[0] for r in db.execute("SELECT name FROM item ORDER BY id")]


@pytest.fixture
def finished() -> Iterator[list[backups.BackupStatus]]:
    """What the backup_finished signal announced (as an alerting module would see it)."""
    seen: list[backups.BackupStatus] = []

    def receiver(sender: Any, status: backups.BackupStatus, **kwargs: Any) -> None:
        seen.append(status)

    backups.backup_finished.connect(receiver)
    yield seen
    backups.backup_finished.disconnect(receiver)


@pytest.mark.django_db
def test_rotation_keeps_the_newest_backups_and_nothing_else_is_touched(
    tmp_path: Path, finished: list[backups.BackupStatus]
) -> None:
    database = sqlite_database(tmp_path)
    directory = tmp_path / "backups"
    (directory / "pre-restore").mkdir(parents=True)
    (directory / "notes.txt").write_text("the operator's own file")

    made = [
        backups.backup_database(directory=directory, keep=3, database=database) for _ in range(5)
    ]

    kept = backups.list_backups(directory)
    assert [str(p) for p in kept] == [s.file for s in made[-3:]]
    assert (directory / "notes.txt").exists()
    assert (directory / "pre-restore").is_dir()
    assert [s.ok for s in finished] == [True] * 5
    status = backups.last_backup_status(directory)
    assert status is not None
    assert status.ok
    assert status.file == made[-1].file
    assert status.last_success_file == made[-1].file


@pytest.mark.django_db
def test_a_missing_dump_client_is_reported_and_keeps_the_older_backups(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, finished: list[backups.BackupStatus]
) -> None:
    directory = tmp_path / "backups"
    good = backups.backup_database(directory=directory, keep=3, database=sqlite_database(tmp_path))
    mysql = {"ENGINE": "django.db.backends.mysql", "NAME": "x", "USER": "u", "HOST": "127.0.0.1"}
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))

    with pytest.raises(backups.BackupError, match="neither mariadb-dump nor mysqldump"):
        backups.backup_database(directory=directory, keep=1, database=mysql)

    assert [str(p) for p in backups.list_backups(directory)] == [good.file]
    assert [s.ok for s in finished] == [True, False]
    status = backups.last_backup_status(directory)
    assert status is not None
    assert not status.ok
    assert "mariadb-client" in status.error
    assert status.last_success_file == good.file


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("script", "message"),
    [
        # Dies half way: some SQL written, then an error.
        (
            "echo 'CREATE TABLE half (id int);'; echo 'lost connection' >&2; exit 2",
            "lost connection",
        ),
        # Exits 0 but its output stops before mariadb-dump's closing line.
        ("echo 'CREATE TABLE half (id int);'", "ended early"),
    ],
)
def test_a_dump_cut_short_leaves_no_file_and_the_good_backup_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, script: str, message: str
) -> None:
    directory = tmp_path / "backups"
    good = backups.backup_database(directory=directory, keep=1, database=sqlite_database(tmp_path))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "mariadb-dump"
    fake.write_text(f"#!/bin/sh\n{script}\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    mysql = {"ENGINE": "django.db.backends.mysql", "NAME": "x", "USER": "u", "PASSWORD": "p"}

    with pytest.raises(backups.BackupError, match=message):
        backups.backup_database(directory=directory, keep=1, database=mysql)

    assert sorted(p.name for p in directory.iterdir()) == sorted(
        [Path(good.file or "").name, backups.STATUS_FILE]
    )


@pytest.mark.django_db
def test_leftovers_of_a_killed_dump_are_removed_after_a_day_only(tmp_path: Path) -> None:
    directory = tmp_path / "backups"
    directory.mkdir()
    old = directory / ".otakusite-20200101T000000Z.sql.gz.4242.partial"
    old_copy = directory / ".copy-abc.sqlite3"
    fresh = directory / ".otakusite-20200102T000000Z.sql.gz.4343.partial"
    for path in (old, old_copy, fresh):
        path.write_bytes(b"x" * 1000)
    two_days_ago = time.time() - 2 * 86400
    for path in (old, old_copy):
        os.utime(path, (two_days_ago, two_days_ago))

    backups.backup_database(directory=directory, keep=2, database=sqlite_database(tmp_path))

    assert not old.exists()
    assert not old_copy.exists()
    assert fresh.exists()  # perhaps another backup writing right now
    assert len(backups.list_backups(directory)) == 1


@pytest.mark.django_db
def test_a_restore_from_a_damaged_or_foreign_file_changes_nothing(tmp_path: Path) -> None:
    database = sqlite_database(tmp_path, rows=2)
    directory = tmp_path / "backups"
    good = Path(backups.backup_database(directory=directory, keep=2, database=database).file or "")
    with sqlite3.connect(database["NAME"]) as db:
        db.execute("INSERT INTO item (name) VALUES ('newer')")
    truncated = directory / "otakusite-20000101T000000Z.sqlite3.gz"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    not_a_database = directory / "otakusite-20000101T000001Z.sqlite3.gz"
    not_a_database.write_bytes(gzip.compress(b"hello, not sqlite" * 100))
    foreign = directory / "otakusite-20000101T000002Z.sql.gz"
    foreign.write_bytes(gzip.compress(b"-- Dump completed\n"))

    for bad, message in [
        (truncated, "damaged"),
        (not_a_database, "SQLite database"),
        (foreign, "not a SQLite backup"),
        (directory / "missing.sqlite3.gz", "does not exist"),
    ]:
        with pytest.raises(backups.BackupError, match=message):
            backups.restore_database(path=bad, database=database)
        assert item_names(database) == ["n0", "n1", "newer"]

    cache.set("page:anime:some-slug:v2", "rendered before the restore")
    backups.restore_database(path=good, database=database)
    assert item_names(database) == ["n0", "n1"]
    # Version counters went back with the data: pages cached under them must go too.
    assert cache.get("page:anime:some-slug:v2") is None


def test_restore_db_asks_for_yes_before_replacing_anything(tmp_path: Path) -> None:
    env = site_env(tmp_path, database_url=f"sqlite:///{tmp_path / 'site.sqlite3'}")
    manage(env, "migrate", "--noinput")
    manage(env, "backup_db")
    backup = the_only_backup(tmp_path / "var" / "backups")
    manage(env, "createsuperuser", "--noinput", "--username", "keeper", "--email", "k@e.test")

    refused = manage(env, "restore_db", backup.name, check=False)

    assert refused.returncode != 0
    assert "--yes" in refused.stderr
    users = subprocess.run(
        ["sqlite3", str(tmp_path / "site.sqlite3"), "SELECT username FROM auth_user"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert users.stdout.split() == ["keeper"]


def test_a_node_without_the_workers_folder_sees_the_last_backup(
    tmp_path: Path, settings: Any
) -> None:
    """The worker that ran the daily backup may be another machine: a web node whose own
    BACKUP_DIR is empty still shows the last backup (admin, "Kesehatan scraper"), and a
    failure on a second worker keeps the first one's success as the last success."""
    settings.BACKUP_DIR = tmp_path / "worker-1"
    done = backups.backup_database(database=sqlite_database(tmp_path))
    settings.BACKUP_DIR = tmp_path / "web-node"  # nothing on this node's disk
    seen = backups.last_backup_status()
    assert seen is not None
    assert seen.ok
    assert seen.file == done.file
    settings.BACKUP_DIR = tmp_path / "worker-2"
    mysql = {"ENGINE": "django.db.backends.mysql", "NAME": "x", "HOST": "127.0.0.1",
             "PORT": "9", "USER": "nobody", "PASSWORD": ""}  # fmt: skip
    with pytest.raises(backups.BackupError):
        backups.backup_database(database=mysql)
    settings.BACKUP_DIR = tmp_path / "web-node"
    seen = backups.last_backup_status()
    assert seen is not None
    assert not seen.ok
    assert seen.last_success_file == done.file
