"""BENCHMARKS.md is shared by the bench scripts: each rewrites only its own section and
names the machine it ran on the same way."""

from __future__ import annotations

import re
from pathlib import Path

OUTPUT = Path(__file__).resolve().parents[1] / "BENCHMARKS.md"


def write_section(title: str, section: str, output: Path = OUTPUT) -> None:
    """Replace the "## {title}" section (append it when missing; create the file)."""
    text = output.read_text(encoding="utf-8") if output.exists() else "# Benchmarks\n"
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _m: section + "\n", text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    output.write_text(text.rstrip("\n") + "\n", encoding="utf-8")


def cpu_model() -> str:
    """The processor's model name, as the section headers name the machine."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"
