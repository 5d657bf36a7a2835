"""How a crawl shows its progress: a bar on a terminal, one log line per page otherwise."""

from __future__ import annotations

import shutil
from typing import TextIO

from scraper.crawl import ProgressEvent


class ProgressPrinter:
    def __init__(self, stream: TextIO, *, tty: bool | None = None) -> None:
        self.stream = stream
        self.tty = stream.isatty() if tty is None else tty
        self.pages = 0

    def __call__(self, event: ProgressEvent) -> None:
        if event.note != "anime":
            self.pages += 1
        c = event.counts
        total = f"/{event.total}" if event.total else ""
        status = f"anime {event.done}{total} | pages {self.pages} | +{c.created} ~{c.updated}"
        if not self.tty:
            if event.note != "anime":
                self.stream.write(f"{status} | {event.url}\n")
            return
        width = shutil.get_terminal_size((100, 20)).columns
        bar = ""
        if event.total:
            filled = int(20 * event.done / event.total)
            bar = "[" + "#" * filled + "." * (20 - filled) + "] "
        line = (bar + status)[: width - 1]
        self.stream.write("\r" + line.ljust(width - 1))
        self.stream.flush()

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")
