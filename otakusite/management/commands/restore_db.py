"""`manage.py restore_db FILE --yes`: replace the database's content with a backup.

Stop the web and the worker first. The file is read in full before anything changes; the
current database is dumped into BACKUP_DIR/pre-restore first (unless --no-safety-backup).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from otakusite import backups


class Command(BaseCommand):
    # The checks would connect through Django first: the dump client's own error is clearer.
    requires_system_checks: list[str] = []
    help = "Replace the whole database with a backup made by backup_db (needs --yes)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("file", help="a backup file, or its name in BACKUP_DIR")
        parser.add_argument("--yes", action="store_true", help="really replace the database")
        parser.add_argument(
            "--no-safety-backup",
            action="store_true",
            help="do not dump the current database into BACKUP_DIR/pre-restore first",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            path = backups.find_backup(options["file"])
            backups.check_backup(path, vendor=backups.current_vendor())
            if not options["yes"]:
                raise CommandError(
                    f"this replaces every table of the database with {path}; "
                    "stop the web and the worker, then run again with --yes"
                )
            if not options["no_safety_backup"]:
                safety = backups.backup_database(directory=backups.backup_dir() / "pre-restore")
                self.stdout.write(f"current database saved in {safety.file}")
            backups.restore_database(path=Path(path))
        except backups.BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"database restored from {path}; start the web and the worker again")
