"""`manage.py fetch_posters [--limit N]`: copy pending posters to our domain now (the worker
does it after each crawl that stored something; `make demo` after its crawl)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from scraper.posters import fetch_pending


class Command(BaseCommand):
    help = "Fetch the posters not yet copied (WebP + JPEG under MEDIA_ROOT)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--limit", type=int, default=None, help="at most N anime")

    def handle(self, *args: Any, **opts: Any) -> None:
        run = fetch_pending(limit=opts["limit"])
        self.stdout.write(f"posters: {run}")
