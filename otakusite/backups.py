"""Database backups: compressed dumps in BACKUP_DIR, the newest BACKUP_KEEP kept, and the
restore that puts one back.

MariaDB/MySQL: ``mariadb-dump --single-transaction`` (a consistent snapshot without locking
the site; ``mysqldump`` when that is the client's name) streamed through gzip into
``otakusite-<UTC time>.sql.gz``. SQLite: sqlite3's online backup API into
``otakusite-<UTC time>.sqlite3.gz``. A dump is written under a hidden temporary name and
renamed only once it is complete, so a failed or killed dump never replaces, and
rotation never deletes, a good backup.

Each attempt is recorded in ``BACKUP_DIR/last-backup.json`` and, for the site's own
BACKUP_DIR, in the coordination cache (:func:`last_backup_status`: any node sees it, even
one that does not mount the worker's folder) and announced with the
:data:`backup_finished` signal (``status=BackupStatus``), e.g. for alerting.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import gzip
import io
import json
import logging
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.db import connections
from django.dispatch import Signal

log = logging.getLogger("otakusite.backups")

PREFIX = "otakusite-"
SQL_SUFFIX = ".sql.gz"
SQLITE_SUFFIX = ".sqlite3.gz"
STATUS_FILE = "last-backup.json"
STATUS_KEY = "backups:last"  # the same record in the coordination cache
PARTIAL_SUFFIX = ".partial"
# A dump's leftovers (the process was killed mid-way) older than this are deleted.
LEFTOVER_SECONDS = 24 * 3600
# mariadb-dump's last line: a dump without it was cut short.
DUMP_TRAILER = b"-- Dump completed"
CHUNK = 1 << 20
# otakusite-20261207T040000Z.sql.gz, and -1, -2... for more in the same second.
_NAME = re.compile(r"otakusite-(?P<stamp>\d{8}T\d{6}Z)(?:-(?P<counter>\d+))?\.(sql|sqlite3)\.gz")

# Sent after every backup attempt, in the process that made it: kwargs ``status``.
backup_finished = Signal()


class BackupError(Exception):
    """A backup or restore that did not happen; the message says why, for operators."""


@dataclasses.dataclass(frozen=True)
class BackupStatus:
    """The last attempt (``ok``, when, the file or the error) and the last success."""

    ok: bool
    finished_at: str
    duration_ms: float
    file: str | None = None
    size: int | None = None
    error: str = ""
    last_success_at: str | None = None
    last_success_file: str | None = None

    def finished(self) -> datetime.datetime:
        return datetime.datetime.fromisoformat(self.finished_at)

    def last_success(self) -> datetime.datetime | None:
        if not self.last_success_at:
            return None
        return datetime.datetime.fromisoformat(self.last_success_at)


def backup_dir() -> Path:
    return Path(settings.BACKUP_DIR)


def list_backups(directory: Path | None = None) -> list[Path]:
    """The complete backups in ``directory``, oldest first (names sort by time)."""
    directory = directory or backup_dir()
    if not directory.is_dir():
        return []
    found = {p: _NAME.fullmatch(p.name) for p in directory.iterdir()}
    return sorted(
        (p for p, match in found.items() if match),
        key=lambda p: _sort_key(found[p]),
    )


def _sort_key(match: re.Match[str] | None) -> tuple[str, int]:
    assert match is not None
    return match["stamp"], int(match["counter"] or 0)


def last_backup_status(directory: Path | None = None) -> BackupStatus | None:
    """What the last backup attempt recorded, or None if there was none (or it is unreadable).

    The site's own status (no ``directory``) is also kept in the coordination cache: the
    worker that ran the backup may be another machine than the web node whose admin asks,
    and with several workers each one's folder only knows its own attempts. The newer of
    the shared record and this folder's file wins (the file alone while Redis is down)."""
    found = [_status_file(directory or backup_dir())]
    if directory is None:
        found.append(_status_of(_coordination().get(STATUS_KEY)))
    known = [status for status in found if status is not None]
    return max(known, key=lambda status: status.finished_at, default=None)


def _status_file(directory: Path) -> BackupStatus | None:
    try:
        return _status_of(json.loads((directory / STATUS_FILE).read_text()))
    except (OSError, ValueError):
        return None


def _status_of(data: Any) -> BackupStatus | None:
    if not isinstance(data, dict):
        return None
    fields = {f.name for f in dataclasses.fields(BackupStatus)}
    try:
        return BackupStatus(**{k: v for k, v in data.items() if k in fields})
    except TypeError:
        return None


def _coordination() -> Any:
    from django.core.cache import caches

    return caches["coordination" if "coordination" in settings.CACHES else "default"]


def backup_database(
    *,
    directory: Path | None = None,
    keep: int | None = None,
    database: dict[str, Any] | None = None,
) -> BackupStatus:
    """Dump the database into ``directory`` and keep the newest ``keep`` backups.

    Returns the recorded status; raises :class:`BackupError` (after recording it) when the
    dump failed, leaving every earlier backup in place.
    """
    directory = directory or backup_dir()
    keep = settings.BACKUP_KEEP if keep is None else keep
    database = database or connections["default"].settings_dict
    started = time.monotonic()
    try:
        path = _dump(database, directory)
    except (BackupError, OSError, sqlite3.Error) as exc:
        error = exc if isinstance(exc, BackupError) else BackupError(f"backup failed: {exc}")
        status = _record(directory, started, error=str(error))
        log.error("backup failed: %s", error, extra={"event": "backup", "ok": False})
        backup_finished.send(sender=BackupStatus, status=status)
        raise error from exc
    removed = rotate(directory, keep)
    status = _record(directory, started, path=path)
    log.info(
        "backup written: %s (%d bytes, %d old removed)",
        path,
        status.size or 0,
        len(removed),
        extra={"event": "backup", "ok": True, "file": str(path), "size": status.size},
    )
    backup_finished.send(sender=BackupStatus, status=status)
    return status


def rotate(directory: Path, keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` complete backups; returns what was deleted."""
    if keep < 1:
        raise BackupError(f"BACKUP_KEEP must be at least 1, not {keep}")
    old = list_backups(directory)[:-keep]
    for path in old:
        path.unlink(missing_ok=True)
    return old


def _record(
    directory: Path, started: float, *, path: Path | None = None, error: str = ""
) -> BackupStatus:
    shared = directory.resolve() == backup_dir().resolve()
    previous = last_backup_status(None if shared else directory)
    now = datetime.datetime.now(tz=datetime.UTC).isoformat(timespec="seconds")
    status = BackupStatus(
        ok=path is not None,
        finished_at=now,
        duration_ms=round((time.monotonic() - started) * 1000, 1),
        file=str(path) if path else None,
        size=path.stat().st_size if path else None,
        error=error,
        last_success_at=now if path else (previous.last_success_at if previous else None),
        last_success_file=str(path) if path else (previous.last_success_file if previous else None),
    )
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with _atomic(directory / STATUS_FILE) as out:
            out.write(json.dumps(dataclasses.asdict(status), indent=1).encode())
    except OSError as exc:  # an unwritable folder already failed the backup itself
        log.warning("backup status not recorded in %s: %s", directory, exc)
    if shared:  # kept for good (no expiry) on the coordination Redis, which never evicts
        _coordination().set(STATUS_KEY, dataclasses.asdict(status), None)
    return status


# --------------------------------------------------------------------------- dumping


def _dump(database: dict[str, Any], directory: Path) -> Path:
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BackupError(f"backup folder {directory} cannot be created: {exc}") from exc
    _remove_leftovers(directory)
    vendor = _vendor(database)
    stamp = datetime.datetime.now(tz=datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    suffix = SQL_SUFFIX if vendor == "mysql" else SQLITE_SUFFIX
    # More backups in the same second (or a clock set back): numbered after the newest, so
    # a new backup always sorts last and rotation never takes it for an old one.
    newest = max(
        (_sort_key(_NAME.fullmatch(p.name)) for p in list_backups(directory)), default=None
    )
    if newest is None or newest[0] < stamp:
        target = directory / f"{PREFIX}{stamp}{suffix}"
    else:
        stamp = newest[0]
        target = directory / f"{PREFIX}{stamp}-{newest[1] + 1}{suffix}"
    with _atomic(target) as out:
        if vendor == "mysql":
            _dump_mysql(database, out)
        else:
            _dump_sqlite(database, out, directory)
    return target


def _remove_leftovers(directory: Path) -> None:
    """Temporary files of dumps killed mid-way (OOM, SIGKILL) would fill the disk over the
    months; a day old, no dump is still writing them."""
    cutoff = time.time() - LEFTOVER_SECONDS
    for path in directory.iterdir():
        leftover = path.name.endswith(PARTIAL_SUFFIX) or path.name.startswith(".copy-")
        if leftover and path.name.startswith(".") and path.stat().st_mtime < cutoff:
            log.warning("removing the leftover of an interrupted backup: %s", path)
            path.unlink(missing_ok=True)


def _vendor(database: dict[str, Any]) -> str:
    engine = database["ENGINE"]
    if engine.endswith(".mysql"):
        return "mysql"
    if engine.endswith(".sqlite3"):
        return "sqlite"
    raise BackupError(f"backups support MariaDB/MySQL and SQLite, not {engine}")


@contextlib.contextmanager
def _atomic(target: Path) -> Iterator[IO[bytes]]:
    """A file written under a hidden temporary name, renamed over ``target`` only when the
    block completes; removed on any error."""
    # The process id keeps a second backup running at the same time off this file.
    partial = target.with_name(f".{target.name}.{os.getpid()}{PARTIAL_SUFFIX}")
    try:
        with partial.open("wb") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        partial.replace(target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def _client(*names: str) -> str:
    for name in names:
        if found := shutil.which(name):
            return found
    raise BackupError(
        f"neither {' nor '.join(names)} is installed (Debian: apt install mariadb-client)"
    )


@contextlib.contextmanager
def _credentials(database: dict[str, Any]) -> Iterator[list[str]]:
    """The client's connection options, the password in a private option file rather than
    on the command line (where `ps` would show it)."""
    values = {"user": database.get("USER") or "", "password": database.get("PASSWORD") or ""}
    host, port = str(database.get("HOST") or ""), str(database.get("PORT") or "")
    lines = ["[client]"]
    for key, value in values.items():
        if value:
            escaped = str(value).replace("\\", "\\\\").replace('"', '\\"')
            lines.append(f'{key}="{escaped}"')
    with tempfile.NamedTemporaryFile("w", prefix="otakusite-", suffix=".cnf") as cnf:
        Path(cnf.name).chmod(0o600)
        cnf.write("\n".join(lines) + "\n")
        cnf.flush()
        options = [f"--defaults-extra-file={cnf.name}"]
        if host.startswith("/"):
            options.append(f"--socket={host}")
        elif host:
            options += ["--protocol=tcp", f"--host={host}"]
        if port:
            options.append(f"--port={port}")
        yield options


def _dump_mysql(database: dict[str, Any], out: IO[bytes]) -> None:
    dump = _client("mariadb-dump", "mysqldump")
    with _credentials(database) as options, tempfile.TemporaryFile() as errors:
        argv = [
            dump,
            *options,
            # One consistent snapshot of InnoDB tables, without locking out the site.
            "--single-transaction",
            "--quick",
            "--skip-lock-tables",
            "--no-tablespaces",
            "--hex-blob",
            "--default-character-set=utf8mb4",
            database["NAME"],
        ]
        process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=errors)  # noqa: S603
        assert process.stdout is not None
        tail = b""
        with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=6) as packed:
            while chunk := process.stdout.read(CHUNK):
                packed.write(chunk)
                tail = (tail + chunk)[-512:]
        code = process.wait()
        errors.seek(0)
        message = errors.read().decode(errors="replace").strip()
    if code != 0:
        raise BackupError(f"{Path(dump).name} exited with {code}: {message or 'no message'}")
    if DUMP_TRAILER not in tail:
        raise BackupError(f"{Path(dump).name} output ended early: {message or 'no message'}")


def _dump_sqlite(database: dict[str, Any], out: IO[bytes], directory: Path) -> None:
    source_path = Path(database["NAME"])
    if not source_path.is_file():
        raise BackupError(f"SQLite database {source_path} does not exist")
    with tempfile.NamedTemporaryFile(dir=directory, prefix=".copy-", suffix=".sqlite3") as copy:
        source = sqlite3.connect(source_path)
        target = sqlite3.connect(copy.name)
        try:
            # The online backup API: a consistent copy while the site keeps writing.
            source.backup(target)
        finally:
            target.close()
            source.close()
        with Path(copy.name).open("rb") as raw, gzip.GzipFile(fileobj=out, mode="wb") as packed:
            shutil.copyfileobj(raw, packed, CHUNK)


# --------------------------------------------------------------------------- restoring


def current_vendor() -> str:
    return _vendor(connections["default"].settings_dict)


def find_backup(name: str) -> Path:
    """``name`` as a path, else as a file in BACKUP_DIR."""
    path = Path(name)
    if not path.exists() and (backup_dir() / name).exists():
        return backup_dir() / name
    if not path.is_file():
        raise BackupError(f"no backup file {name} (nor in {backup_dir()})")
    return path


def check_backup(path: Path, *, vendor: str) -> None:
    """Read the whole file before anything is touched: a truncated, corrupt or foreign file
    stops the restore with the database as it was."""
    if not path.is_file():
        raise BackupError(f"{path} does not exist")
    wanted = SQL_SUFFIX if vendor == "mysql" else SQLITE_SUFFIX
    if not path.name.endswith(wanted):
        raise BackupError(
            f"{path.name} is not a {'MariaDB/MySQL' if vendor == 'mysql' else 'SQLite'} "
            f"backup (*{wanted}); this site's database is {vendor}"
        )
    tail = b""
    try:
        with gzip.open(path, "rb") as packed:
            while chunk := packed.read(CHUNK):
                tail = (tail + chunk)[-512:]
    except (OSError, EOFError) as exc:
        raise BackupError(f"{path} is damaged: {exc}") from exc
    if vendor == "mysql" and DUMP_TRAILER not in tail:
        raise BackupError(f"{path} is incomplete (no '-- Dump completed' line at its end)")


def restore_database(*, path: Path, database: dict[str, Any] | None = None) -> None:
    """Replace the database's content with backup ``path`` (every current table dropped).

    Stop the web and the worker first: requests and crawls would write in between.
    """
    alias_settings = database or connections["default"].settings_dict
    vendor = _vendor(alias_settings)
    check_backup(path, vendor=vendor)
    connections.close_all()
    if vendor == "mysql":
        _restore_mysql(path, alias_settings)
    else:
        _restore_sqlite(path, alias_settings)
    forget_cached_pages()
    log.info("database restored from %s", path, extra={"event": "restore", "file": str(path)})


def forget_cached_pages() -> None:
    """Cached pages are keyed on per-anime version counters, which a restore sets back:
    the next change would reuse a number whose page is still cached. Only this site's
    keys go (KEY_PREFIX), never the task queue sharing a Redis without CACHE_REDIS_URL."""
    from django.core.cache import cache

    delete_pattern = getattr(cache, "delete_pattern", None)
    if delete_pattern is not None:
        delete_pattern("*")
    else:
        cache.clear()


def _restore_mysql(path: Path, database: dict[str, Any]) -> None:
    client = _client("mariadb", "mysql")
    with _credentials(database) as options:
        base = [client, *options, "--default-character-set=utf8mb4", database["NAME"]]
        tables = _run([*base, "-N", "-B", "-e", "SHOW FULL TABLES"]).split("\n")
        drops = [
            f"DROP {'VIEW' if kind == 'VIEW' else 'TABLE'} IF EXISTS `{name}`;"
            for name, kind in (line.split("\t", 1) for line in tables if "\t" in line)
        ]
        if drops:
            _run(base, stdin=f"SET FOREIGN_KEY_CHECKS=0;\n{''.join(drops)}".encode())
        with gzip.open(path, "rb") as dump:
            _run(base, stdin=dump)


def _run(argv: list[str], *, stdin: bytes | io.BufferedIOBase = b"") -> str:
    """Run a client, its input from ``stdin`` (streamed when a file: a dump can be bigger
    than memory); its error output becomes the BackupError's message."""
    with tempfile.TemporaryFile() as errors, tempfile.TemporaryFile() as output:
        process = subprocess.Popen(  # noqa: S603
            argv, stdin=subprocess.PIPE, stdout=output, stderr=errors
        )
        assert process.stdin is not None
        with contextlib.suppress(BrokenPipeError):  # the client failed: its exit code says why
            if isinstance(stdin, bytes):
                process.stdin.write(stdin)
            else:
                while chunk := stdin.read(CHUNK):
                    process.stdin.write(chunk)
            process.stdin.close()
        code = process.wait()
        errors.seek(0)
        output.seek(0)
        message = errors.read().decode(errors="replace").strip()
        text = output.read().decode(errors="replace")
    if code != 0:
        raise BackupError(f"{Path(argv[0]).name} exited with {code}: {message or 'no message'}")
    return text


def _restore_sqlite(path: Path, database: dict[str, Any]) -> None:
    target_path = Path(database["NAME"])
    with tempfile.NamedTemporaryFile(dir=target_path.parent, suffix=".restore") as copy:
        with gzip.open(path, "rb") as packed, Path(copy.name).open("wb") as raw:
            shutil.copyfileobj(packed, raw, CHUNK)
        source = sqlite3.connect(copy.name)
        try:
            if source.execute("PRAGMA integrity_check").fetchone() != ("ok",):
                raise BackupError(f"{path} does not hold an intact SQLite database")
            target = sqlite3.connect(target_path)
            try:
                source.backup(target)
            finally:
                target.close()
        except sqlite3.DatabaseError as exc:
            raise BackupError(f"{path} does not hold a SQLite database: {exc}") from exc
        finally:
            source.close()


def backup_task() -> str:
    """The worker's daily backup (setup_schedules): a failure fails the task too."""
    status = backup_database()
    return f"{status.file} ({status.size} bytes)"
