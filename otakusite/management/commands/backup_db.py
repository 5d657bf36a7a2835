"""`manage.py backup_db`: dump the database into BACKUP_DIR now (the worker also does it
daily at BACKUP_HOUR); `--list` shows the backups kept and the last attempt instead."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from otakusite import backups


class Command(BaseCommand):
    # The checks would connect through Django first: the dump client's own error is clearer.
    requires_system_checks: list[str] = []
    help = "Dump the database into BACKUP_DIR (gzip), keeping the newest BACKUP_KEEP dumps."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--list", action="store_true", help="list backups, dump nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["list"]:
            for path in backups.list_backups():
                self.stdout.write(f"{path}  {path.stat().st_size} bytes")
            status = backups.last_backup_status()
            self.stdout.write(f"last attempt: {status}" if status else "no backup attempt yet")
            return
        try:
            status = backups.backup_database()
        except backups.BackupError as exc:
            raise CommandError(f"{exc} (earlier backups are kept)") from exc
        self.stdout.write(f"backup written: {status.file} ({status.size} bytes)")
