"""Every text the site shows in Indonesian has its English line in locale/en, so a viewer who
switches to English never meets a sentence left in Indonesian (or an old, changed one).

makemessages runs on a copy of the code so the repository's catalogue is never rewritten by
a test; msgmerge then marks what the committed catalogue lacks (empty) or only guesses
(fuzzy, a msgid that changed since it was translated)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("manage.py", "catalog", "scraper", "otakusite", "templates", "locale")

pytestmark = pytest.mark.skipif(
    shutil.which("xgettext") is None or shutil.which("msgattrib") is None,
    reason="GNU gettext is not installed (.ci/run installs it)",
)


def entries(po: Path, flag: str) -> list[str]:
    out = subprocess.run(
        ["msgattrib", flag, "--no-wrap", str(po)], capture_output=True, text=True, check=True
    ).stdout
    found = [line[len("msgid ") :] for line in out.splitlines() if line.startswith("msgid ")]
    return [m for m in found if m != '""']  # the header


def test_every_message_has_an_english_translation(tmp_path: Path) -> None:
    for name in SOURCES:
        source = ROOT / name
        target = tmp_path / name
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, target)
    env = {**os.environ, "DEBUG": "1", "DJANGO_SETTINGS_MODULE": "otakusite.settings"}
    subprocess.run(
        [sys.executable, "manage.py", "makemessages", "-l", "en", "--no-location", "-v0"],
        cwd=tmp_path,
        env=env,
        check=True,
    )
    po = tmp_path / "locale/en/LC_MESSAGES/django.po"
    assert entries(po, "--untranslated") == [], "msgids without English in locale/en"
    assert entries(po, "--only-fuzzy") == [], "English lines of changed msgids (fuzzy)"
