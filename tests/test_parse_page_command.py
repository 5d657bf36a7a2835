"""`manage.py parse_page`: JSON on stdout, one line on stderr and status 1 on ParseError."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from .parser_pages.builders import ORIGIN, detail_body, wrap

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def detail_file(tmp_path: Path) -> Path:
    rows = [("Judul", "Kumo no Shitateya"), ("Japanese", "雲の仕立て屋"), ("Skor", "7.91")]
    path = tmp_path / "detail.html"
    path.write_text(wrap(detail_body(rows=rows)), encoding="utf-8")
    return path


def test_prints_detail_json_utf8(detail_file: Path) -> None:
    out = io.StringIO()
    call_command(
        "parse_page", "detail", str(detail_file), url=f"{ORIGIN}/anime/kumo-sub-indo/", stdout=out
    )
    text = out.getvalue()
    assert "雲の仕立て屋" in text  # not \\u-escaped
    data = json.loads(text)
    assert data["slug"] == "kumo-sub-indo"
    assert data["title_japanese"] == "雲の仕立て屋"
    assert data["episodes"][0]["published_on"] == "2025-12-21"


def test_reads_standard_input(monkeypatch: pytest.MonkeyPatch, detail_file: Path) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(detail_file.read_text(encoding="utf-8")))
    out = io.StringIO()
    call_command("parse_page", "detail", "-", stdout=out)
    assert json.loads(out.getvalue())["score"] == 7.91


def test_parse_error_is_a_command_error_naming_kind(detail_file: Path) -> None:
    with pytest.raises(CommandError) as caught:
        call_command("parse_page", "episode", str(detail_file), url="/episode/x/")
    assert caught.value.returncode == 1
    assert "episode" in str(caught.value)
    assert "/episode/x/" in str(caught.value)


def test_cli_exit_status_and_single_stderr_line(detail_file: Path) -> None:
    manage = REPO / "manage.py"
    if not manage.exists():
        pytest.skip("manage.py not present yet")
    # The test settings supply SECRET_KEY; an ASCII stdout must still get UTF-8 JSON.
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "PYTHONIOENCODING": "ascii"}
    ok = subprocess.run(
        [sys.executable, str(manage), "parse_page", "detail", str(detail_file)],
        capture_output=True,
        cwd=REPO,
        check=False,
        env=env,
    )
    assert ok.returncode == 0, ok.stderr
    assert "雲の仕立て屋" in ok.stdout.decode("utf-8")
    bad = subprocess.run(
        [sys.executable, str(manage), "parse_page", "home", str(detail_file)],
        capture_output=True,
        cwd=REPO,
        check=False,
        env=env,
    )
    assert bad.returncode == 1
    assert bad.stdout == b""
    lines = bad.stderr.decode().strip().splitlines()
    assert len(lines) == 1
    assert "home" in lines[0]
