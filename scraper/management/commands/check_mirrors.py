"""`manage.py check_mirrors [--limit N]`: check now that resolved embeds still answer."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from catalog.models import ScrapeRun
from scraper.tasks import check_mirrors_task


class Command(BaseCommand):
    help = "Fetch resolved stream embeds and record which still work (StreamLink.ok)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--limit", type=int, default=None, help="check at most N links")

    def handle(self, *args: Any, **options: Any) -> None:
        run = ScrapeRun.objects.get(pk=check_mirrors_task(limit=options["limit"]))
        self.stdout.write(run.errors or f"{run.kind}: {run.status}")
        if run.status == ScrapeRun.Status.SKIPPED:
            raise CommandError("another mirror check is running")
