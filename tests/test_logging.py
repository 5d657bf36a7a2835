"""Issue 13, logs: with LOG_FORMAT=json every request, worker task and crawl summary is one
JSON line an operator's log shipper can parse (time, level, request id, path, status,
duration, task and run ids); the request id comes from nginx's X-Request-ID when well
formed and goes back in the response; plain text stays the default.

In process (the project's LOGGING built for json, its stream captured), then through a
real gunicorn with deploy/gunicorn.conf.py, where every line of its output must parse.
"""

from __future__ import annotations

import datetime
import io
import json
import logging
import logging.config
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client, override_settings
from django_q.conf import Conf
from django_q.models import Task
from django_q.tasks import async_task

from catalog.models import ScrapeRun
from otakusite.logs import logging_config
from tests.fake_origin import FakeOrigin
from tests.procs import prepare_site, running, site_env, start_gunicorn

HEX_ID = re.compile(r"[0-9a-f]{32}")


class Captured:
    def __init__(self, stream: io.StringIO) -> None:
        self.stream = stream

    def lines(self) -> list[str]:
        return [line for line in self.stream.getvalue().splitlines() if line.strip()]

    def records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.lines()]

    def events(self, event: str) -> list[dict[str, Any]]:
        return [r for r in self.records() if r.get("event") == event]


def _capture(log_format: str) -> Iterator[Captured]:
    """The project's logging configured for ``log_format``, its console stream captured;
    the test settings' logging is put back afterwards."""
    logging.config.dictConfig(logging_config(log_format, "INFO"))
    stream = io.StringIO()
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)
    try:
        with override_settings(LOG_FORMAT=log_format):
            yield Captured(stream)
    finally:
        logging.config.dictConfig(settings.LOGGING)


@pytest.fixture
def json_logs() -> Iterator[Captured]:
    yield from _capture("json")


@pytest.fixture
def plain_logs() -> Iterator[Captured]:
    yield from _capture("plain")


def _is_recent(stamp: str) -> bool:
    moment = datetime.datetime.fromisoformat(stamp)
    return abs(datetime.datetime.now(tz=datetime.UTC) - moment) < datetime.timedelta(minutes=5)


# --------------------------------------------------------------------------- requests


@pytest.mark.django_db
def test_a_request_is_one_json_line_with_its_fields_and_the_incoming_request_id(
    json_logs: Captured, sample: Any
) -> None:
    response = Client().get("/", HTTP_X_REQUEST_ID="nginx-0123456789abcdef", HTTP_USER_AGENT="UA/1")

    assert response.status_code == 200
    assert response["X-Request-ID"] == "nginx-0123456789abcdef"
    lines = json_logs.events("request")
    assert len(lines) == 1, json_logs.lines()
    line = lines[0]
    assert line["request_id"] == "nginx-0123456789abcdef"
    assert (line["method"], line["path"], line["status"]) == ("GET", "/", 200)
    assert line["level"] == "INFO"
    assert _is_recent(line["time"])
    assert isinstance(line["duration_ms"], float)
    assert line["duration_ms"] >= 0
    assert line["user_agent"] == "UA/1"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "incoming",
    ["", "short", 'evil" id', "x" * 200, "a\nb-0123456789", "id with spaces 123"],
)
def test_a_missing_or_malformed_request_id_is_replaced_by_a_new_one(
    json_logs: Captured, incoming: str
) -> None:
    headers = {"HTTP_X_REQUEST_ID": incoming} if incoming else {}
    first = Client().get("/healthz/live", **headers)
    second = Client().get("/healthz/live", **headers)

    ids = [first["X-Request-ID"], second["X-Request-ID"]]
    assert all(HEX_ID.fullmatch(i) for i in ids), ids
    assert ids[0] != ids[1]
    assert [line["request_id"] for line in json_logs.events("request")] == ids


@pytest.mark.django_db
def test_lines_written_during_a_request_carry_its_id(json_logs: Captured) -> None:
    response = Client().get("/anime/no-such-anime-here/", HTTP_X_REQUEST_ID="req-404-0123456789")

    assert response.status_code == 404
    records = json_logs.records()
    not_found = [r for r in records if r["logger"] == "django.request"]
    assert not_found, records
    assert all(r["request_id"] == "req-404-0123456789" for r in not_found)
    assert json_logs.events("request")[0]["status"] == 404


@pytest.mark.django_db
def test_plain_format_is_text_and_still_returns_a_request_id(plain_logs: Captured) -> None:
    response = Client().get("/anime/no-such-anime-here/")

    assert HEX_ID.fullmatch(response["X-Request-ID"])
    lines = plain_logs.lines()
    assert lines, "the 404 warning was not logged"
    for line in lines:
        assert not line.startswith("{"), line
        assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ (INFO|WARNING|ERROR) ", line), line


# --------------------------------------------------------------------------- tasks


@pytest.fixture
def sync_tasks(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """django-q2 on the ORM broker running each task inline, as tests/test_tasks.py does."""
    q_cluster = {**settings.Q_CLUSTER, "sync": True, "orm": "default"}
    q_cluster.pop("redis", None)
    monkeypatch.setattr(Conf, "SYNC", True)
    monkeypatch.setattr(Conf, "ORM", "default")
    with override_settings(
        Q_CLUSTER=q_cluster,
        SCRAPER_RATE_LIMIT=0,
        SCRAPER_RETRIES=1,
        SCRAPER_COOKIE_PATH=tmp_path / "cookies.json",
    ):
        yield


@pytest.mark.django_db(transaction=True)
def test_a_crawl_task_logs_its_task_line_and_the_crawl_summary_with_the_run_id(
    json_logs: Captured, sync_tasks: None
) -> None:
    with FakeOrigin(seed=5, size=4) as origin:
        task_id = async_task("scraper.tasks.crawl_task", "full", base_url=origin.base_url)

    task = Task.objects.get(id=task_id)
    run = ScrapeRun.objects.get(pk=task.result)
    # The crawl may queue follow-up tasks (posters, notifications): its own line is the one.
    [line] = [e for e in json_logs.events("task") if e.get("task_id") == task_id]
    assert line["task_name"] == task.name
    assert line["func"] == "scraper.tasks.crawl_task"
    assert line["success"] is True
    assert line["run_id"] == run.pk
    assert line["duration_ms"] > 0
    assert _is_recent(line["time"])
    [summary] = json_logs.events("crawl")
    assert summary["run_id"] == run.pk
    assert summary["status"] == run.status
    assert summary["kind"] == "full"
    assert summary["task_id"] == task_id  # written inside the task
    counts = ("pages_fetched", "requests_made", "created", "updated", "unchanged", "error_count")
    assert summary["counts"] == {k: getattr(run, k) for k in counts}
    assert summary["counts"]["created"] > 0


@pytest.mark.django_db(transaction=True)
def test_a_failing_task_logs_a_failed_task_line(json_logs: Captured, sync_tasks: None) -> None:
    # A crawl of one anime without its slug: the task raises (sync mode re-raises it).
    with pytest.raises(ValueError, match="needs a slug"):
        async_task("scraper.tasks.crawl_task", "anime")

    [line] = json_logs.events("task")
    assert line["success"] is False
    assert line["level"] == "WARNING"
    assert line["func"] == "scraper.tasks.crawl_task"
    assert "run_id" not in line


# --------------------------------------------------------------------------- gunicorn


@pytest.mark.operation
def test_gunicorn_with_log_format_json_writes_only_json_lines(tmp_path: Path) -> None:
    env = site_env(
        tmp_path, database_url=f"sqlite:///{tmp_path / 'site.sqlite3'}", LOG_FORMAT="json"
    )
    prepare_site(env)
    web = start_gunicorn(env, tmp_path, workers=1)
    with running(web):
        home = web.get("/", headers={"X-Request-ID": "edge-abcdef0123456789"})
        missing = web.get("/anime/not-here/")
    web.stop()

    assert home.headers["X-Request-ID"] == "edge-abcdef0123456789"
    assert HEX_ID.fullmatch(missing.headers["X-Request-ID"])
    lines = [line for line in web.log_text().splitlines() if line.strip()]
    records = []
    for line in lines:
        try:
            records.append(json.loads(line))
        except ValueError:
            pytest.fail(f"not a JSON line in gunicorn's output: {line!r}")
    requests = {r["request_id"]: r for r in records if r.get("event") == "request"}
    assert requests["edge-abcdef0123456789"]["path"] == "/"
    assert requests["edge-abcdef0123456789"]["status"] == home.status_code
    assert requests[missing.headers["X-Request-ID"]]["status"] == 404
    # gunicorn's own messages (workers booting, shutting down) are JSON lines too.
    assert any(r["logger"] == "gunicorn.error" for r in records)
