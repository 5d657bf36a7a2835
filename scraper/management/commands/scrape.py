"""`manage.py scrape full|ongoing|anime SLUG|episode SLUG`: crawl the origin into the DB.

Like the worker's tasks it takes the crawl's lock and records a running ScrapeRun with a
heartbeat (scraper.runs): while the same crawl runs elsewhere (the worker, another
terminal) it says which run holds it and exits with status 75 ("try again later");
``--force`` runs anyway. SIGTERM stops it before its next page (exit 143), Ctrl-C at once
(exit 130); either way the run is marked interrupted and no anime is half-written.
"""

from __future__ import annotations

import contextlib
import datetime
import signal
import sys
from typing import Any, TextIO, cast

from django.core.management.base import BaseCommand, CommandError, CommandParser

from catalog.models import ScrapeRun
from scraper import runs
from scraper.crawl import KINDS, CrawlError, CrawlStopped, run_crawl
from scraper.progress import ProgressPrinter
from scraper.tasks import skip_message

EXIT_SKIPPED = 75  # EX_TEMPFAIL: the same crawl is running elsewhere; try again later

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
        f"1 a fatal error; {EXIT_SKIPPED} skipped (the same crawl runs elsewhere); "
        "130 interrupted (Ctrl-C); 143 stopped (SIGTERM)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("kind", choices=KINDS)
        parser.add_argument("slug", nargs="?", help="anime or episode slug (kinds anime, episode)")
        parser.add_argument("--base-url", help="origin to crawl (overrides OTAKUDESU_BASE_URL)")
        parser.add_argument("--limit", type=int, help="handle at most N anime")
        parser.add_argument("--max-age", type=duration, help="skip anime scraped more recently")
        parser.add_argument("--dry-run", action="store_true", help="fetch and parse, write nothing")
        parser.add_argument(
            "--force",
            action="store_true",
            help="run even while the same crawl is recorded as running elsewhere",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["kind"] in {"anime", "episode"} and not opts["slug"]:
            raise CommandError(f"scrape {opts['kind']} needs a SLUG")
        kind, slug = opts["kind"], opts["slug"]
        claim = None
        if not opts["dry_run"]:  # a dry run writes nothing: it needs no lock and no record
            claim = self._claim(kind, slug, opts)
        printer = ProgressPrinter(cast(TextIO, self.stdout._out))  # the wrapped stream
        try:
            # `docker stop`, a closed terminal: end before the next page, run interrupted.
            with (
                runs.stop_on_signals([signal.SIGTERM, signal.SIGHUP]),
                claim.alive() if claim is not None else contextlib.nullcontext(),
            ):
                result = run_crawl(
                    kind,
                    slug=slug,
                    base_url=opts["base_url"],
                    limit=opts["limit"],
                    max_age=opts["max_age"],
                    dry_run=opts["dry_run"],
                    progress=printer,
                    run=claim.run if claim is not None else None,
                    should_stop=claim.stop_reason if claim is not None else runs.stop_requested,
                )
        except KeyboardInterrupt:
            printer.close()
            self.stderr.write("interrupted: the run is marked interrupted; no anime half-written")
            sys.exit(130)
        except CrawlStopped as exc:
            printer.close()
            self.stderr.write(
                f"interrupted ({exc}): the run is marked interrupted; no anime half-written"
            )
            sys.exit(143)
        except (CrawlError, ValueError) as exc:
            printer.close()
            raise CommandError(str(exc)) from exc
        printer.close()
        for line in result.changes if opts["dry_run"] else ():
            self.stdout.write(f"would change {line}")
        self.stdout.write(
            f"{'dry run: ' if opts['dry_run'] else ''}{result.kind} {result.status}: "
            f"{result.pages_fetched} pages, {result.requests_made} requests, "
            f"{result.created} created, {result.updated} updated, "
            f"{result.unchanged} unchanged, {result.error_count} errors"
        )
        if result.errors:
            self.stderr.write(result.errors)
        if result.status == ScrapeRun.Status.PARTIAL:
            sys.exit(EXIT_PARTIAL)

    def _claim(self, kind: str, slug: str | None, opts: dict[str, Any]) -> runs.Claim:
        arguments = {"slug": slug, "limit": opts["limit"]}
        if opts["max_age"] is not None:
            arguments["max_age"] = opts["max_age"].total_seconds()
        claim = runs.claim(
            kind,
            lock=runs.lock_name(kind, slug),
            arguments={k: v for k, v in arguments.items() if v is not None},
            base_url=opts["base_url"] or "",
            slug=slug,
            force=opts["force"],
        )
        if claim.run is None:
            message = skip_message(kind, claim.blocker or "")
            hint = "" if claim.blocker and "stopping" in claim.blocker else "; --force runs anyway"
            raise CommandError(message + hint, returncode=EXIT_SKIPPED)
        if claim.forced_past:
            self.stderr.write(f"--force: running although {claim.forced_past}")
        return claim
