"""`manage.py migrate`, one node at a time (otakusite/dblock.py).

Every web container migrates before it serves (deploy/entrypoint.sh); with several web
nodes started at once, Django's own command would have them apply the same migration
together (one fails on a table the other just created). The first node to take the lock
migrates; the others wait, then find nothing left to apply. ``--check`` and ``--plan`` only
read, so they take no lock.
"""

from __future__ import annotations

from typing import Any

from django.core.management.commands.migrate import Command as MigrateCommand

from otakusite.dblock import database_lock


class Command(MigrateCommand):
    def handle(self, *args: Any, **options: Any) -> None:
        if options.get("check_unapplied") or options.get("plan"):
            super().handle(*args, **options)
            return
        with database_lock("migrate", using=options.get("database") or "default"):
            super().handle(*args, **options)
