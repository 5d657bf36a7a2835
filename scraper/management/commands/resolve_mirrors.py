"""`manage.py resolve_mirrors --recent N`: pre-resolve the newest episodes' mirrors."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from scraper.mirrors import resolve_recent


class Command(BaseCommand):
    help = "Resolve the stream mirrors of the N newest episodes through the origin."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--recent", type=int, default=50, help="newest N episodes")

    def handle(self, *args: Any, **opts: Any) -> None:
        resolved, failed = resolve_recent(recent=opts["recent"])
        self.stdout.write(f"{resolved} mirrors resolved, {failed} failed")
