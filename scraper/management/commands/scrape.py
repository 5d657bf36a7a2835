"""`manage.py scrape full|ongoing|anime SLUG|episode SLUG`: crawl the origin into the DB."""

from __future__ import annotations

import datetime
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from catalog.models import ScrapeRun
from scraper.crawl import KINDS, CrawlError, run_crawl
from scraper.progress import ProgressPrinter

# Exit status 2: the run finished but some pages failed (status "partial"); the errors
# are printed. Distinct from 1 (a fatal error: nothing or little was done) so a cron job
# or a script can tell "look at it" from "it did not run".
EXIT_PARTIAL = 2


def duration(text: str) -> datetime.timedelta:
    """`90` (seconds), `30m`, `12h`, `7d`."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    try:
        if text[-1:] in units:
            return datetime.timedelta(seconds=float(text[:-1]) * units[text[-1]])
        return datetime.timedelta(seconds=float(text))
    except ValueError:
        raise CommandError(f"--max-age: not a duration: {text!r} (use 90, 30m, 12h, 7d)") from None


class Command(BaseCommand):
    help = (
        "Crawl the otakudesu origin into the catalogue. Exit status: 0 ok; "
        f"{EXIT_PARTIAL} partial (the run finished but some pages failed: their errors are "
        "printed, and episodes whose page failed are retried by later updates); "
        "1 a fatal error; 130 interrupted."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("kind", choices=KINDS)
        parser.add_argument("slug", nargs="?", help="anime or episode slug (kinds anime, episode)")
        parser.add_argument("--base-url", help="origin to crawl (overrides OTAKUDESU_BASE_URL)")
        parser.add_argument("--limit", type=int, help="handle at most N anime")
        parser.add_argument("--max-age", type=duration, help="skip anime scraped more recently")
        parser.add_argument("--dry-run", action="store_true", help="fetch and parse, write nothing")

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["kind"] in {"anime", "episode"} and not opts["slug"]:
            raise CommandError(f"scrape {opts['kind']} needs a SLUG")
        printer = ProgressPrinter(self.stdout._out)
        try:
            run = run_crawl(
                opts["kind"],
                slug=opts["slug"],
                base_url=opts["base_url"],
                limit=opts["limit"],
                max_age=opts["max_age"],
                dry_run=opts["dry_run"],
                progress=printer,
            )
        except KeyboardInterrupt:
            printer.close()
            self.stderr.write("interrupted: the run is marked interrupted; no anime half-written")
            sys.exit(130)
        except (CrawlError, ValueError) as exc:
            printer.close()
            raise CommandError(str(exc)) from exc
        printer.close()
        for line in getattr(run, "changes", []) if opts["dry_run"] else []:
            self.stdout.write(f"would change {line}")
        self.stdout.write(
            f"{'dry run: ' if opts['dry_run'] else ''}{run.kind} {run.status}: "
            f"{run.pages_fetched} pages, {run.requests_made} requests, "
            f"{run.created} created, {run.updated} updated, {run.unchanged} unchanged, "
            f"{run.error_count} errors"
        )
        if run.errors:
            self.stderr.write(run.errors)
        if run.status == ScrapeRun.Status.PARTIAL:
            sys.exit(EXIT_PARTIAL)
