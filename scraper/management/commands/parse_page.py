"""`manage.py parse_page KIND FILE [--url URL]`: print a saved otakudesu page as JSON."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from scraper.parsers import PARSERS, ParseError, to_jsonable


class Command(BaseCommand):
    help = (
        "Parse a saved otakudesu page and print it as JSON (UTF-8, dates as YYYY-MM-DD). "
        "FILE may be '-' for standard input."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("kind", choices=sorted(PARSERS), help="kind of page")
        parser.add_argument("file", help="saved HTML file, or '-' for standard input")
        parser.add_argument(
            "--url",
            default="",
            help="the page's URL (gives the slug and page number; the domain does not matter)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        html = self._read(options["file"])
        try:
            result = PARSERS[options["kind"]](html, options["url"])
        except ParseError as error:
            # CommandError prints one line on stderr and exits with status 1.
            raise CommandError(str(error), returncode=1) from error
        text = json.dumps(to_jsonable(result), ensure_ascii=False, indent=2)
        out = getattr(self.stdout, "_out", None)
        if out is sys.stdout and hasattr(out, "reconfigure"):
            # Titles are Japanese/Indonesian: never let a C locale turn them into an error.
            out.reconfigure(encoding="utf-8")
        self.stdout.write(text)

    def _read(self, name: str) -> str:
        if name == "-":
            stream = sys.stdin
            raw = stream.buffer.read() if hasattr(stream, "buffer") else stream.read()
            return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        try:
            return Path(name).read_bytes().decode("utf-8", "replace")
        except OSError as error:
            raise CommandError(f"cannot read {name}: {error.strerror or error}") from error
