"""Logs an operator can ship and search: with ``LOG_FORMAT=json`` one JSON object a line.

Every line carries its time, level, logger and message, the request id of the request it
was written for (or the task's name and id inside a django-q2 task), and whatever fields
the caller passed with ``extra=`` (a crawl's run id and counts, a request's status...).
With the default ``LOG_FORMAT=plain`` the same records are plain text lines.

The request id comes from nginx (``X-Request-ID``, when it is well formed) or is made
here; it goes back to the client in the response's ``X-Request-ID`` header, so a viewer's
error report, the nginx access log and these lines can be matched.
"""

from __future__ import annotations

import contextvars
import datetime
import json
import logging
import re
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.conf import settings

if TYPE_CHECKING:  # settings.py imports this module: no Django machinery at import time
    from django.http import HttpRequest, HttpResponse

REQUEST_ID_HEADER = "X-Request-ID"
# nginx's $request_id is 32 hex digits; other proxies send UUIDs. Anything else (too long,
# spaces, quotes, control characters) could forge or break log lines: a new id replaces it.
_WELL_FORMED_ID = re.compile(r"[A-Za-z0-9._-]{8,128}")

# Who the current line is written for: set per request by RequestLogMiddleware and per
# task by the django-q2 signal receivers below, read by JsonFormatter.
_context: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "otakusite_log_context", default=None
)

request_log = logging.getLogger("otakusite.request")
task_log = logging.getLogger("otakusite.task")

# What a LogRecord has of its own; every other attribute came from ``extra=``.
_RECORD_FIELDS = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys() | {"message", "asctime"}
)


def current_context() -> dict[str, Any]:
    return dict(_context.get() or {})


def request_id_from(request: HttpRequest) -> str:
    incoming = request.headers.get(REQUEST_ID_HEADER, "")
    if _WELL_FORMED_ID.fullmatch(incoming):
        return incoming
    return uuid.uuid4().hex


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    return str(value)


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (newlines in messages are escaped)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.datetime.fromtimestamp(record.created, tz=datetime.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update(current_context())
        for key, value in vars(record).items():
            if key not in _RECORD_FIELDS and not key.startswith("_"):
                line[key] = _jsonable(value)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False)


class RequestLogMiddleware:
    """First in MIDDLEWARE: gives each request its id (also in the response header) and,
    with ``LOG_FORMAT=json``, writes its line (gunicorn's access log says the same in plain
    text otherwise)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.log_requests = settings.LOG_FORMAT == "json"

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = request_id_from(request)
        # Kept until the response is closed (request_finished): Django logs "Not Found" and
        # server errors after the middleware returns, and those lines need the id too.
        _context.set({"request_id": request_id})
        started = time.perf_counter()
        response = self.get_response(request)
        response[REQUEST_ID_HEADER] = request_id
        if self.log_requests:
            self._log(request, response.status_code, started)
        return response

    @staticmethod
    def _log(request: HttpRequest, status: int, started: float) -> None:
        # A 5xx is a warning, not an error: the error itself is logged (and sent to Sentry)
        # by Django with its traceback; this line must not make it a second event.
        request_log.log(
            logging.WARNING if status >= 500 else logging.INFO,
            "%s %s %s",
            request.method,
            request.path,
            status,
            extra={
                "event": "request",
                "method": request.method,
                "path": request.path,
                "status": status,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                "user_agent": request.headers.get("User-Agent", "")[:200],
            },
        )


# --------------------------------------------------------------------------- tasks
# django-q2 sends pre_execute and post_execute_in_worker in the worker process around the
# task's function (also in sync mode), so lines the task writes carry its name and id.


def task_started(sender: Any = None, func: Any = None, task: dict[str, Any] | None = None,
                 **kwargs: Any) -> None:  # fmt: skip
    task = task or {}
    # Kept to put back the outer context at the end: in sync mode a task that queues another
    # runs it inline, and the inner task's end must not wipe the outer task's name and id.
    task["_otakusite_token"] = _context.set(_task_fields(task))
    task["_otakusite_started"] = time.perf_counter()


def _task_fields(task: dict[str, Any]) -> dict[str, Any]:
    return {"task_name": task.get("name"), "task_id": task.get("id"), "func": _func_name(task)}


def task_finished(sender: Any = None, func: Any = None, task: dict[str, Any] | None = None,
                  **kwargs: Any) -> None:  # fmt: skip
    task = task or {}
    started = task.pop("_otakusite_started", None)
    # In sync mode a failing task signals before django-q2 records its result, then raises.
    success = bool(task.get("success", False))
    token = task.pop("_otakusite_token", None)
    fields: dict[str, Any] = {
        **_task_fields(task),
        "event": "task",
        "success": success,
        "duration_ms": (
            round((time.perf_counter() - started) * 1000, 1) if started is not None else None
        ),
    }
    run_id = task_run_id(task)
    if run_id is not None:
        fields["run_id"] = run_id
    task_log.log(
        logging.INFO if success else logging.WARNING,
        "task %s (%s) %s",
        task.get("name"),
        _func_name(task),
        "succeeded" if success else "failed",
        extra=fields,
    )
    if token is None:
        _context.set(None)
    else:
        _context.reset(token)


def _func_name(task: dict[str, Any]) -> str:
    func = task.get("func")
    if isinstance(func, str):
        return func
    return f"{getattr(func, '__module__', '?')}.{getattr(func, '__qualname__', func)}"


def task_run_id(task: dict[str, Any]) -> int | None:
    """The ScrapeRun a scraper task recorded: scraper.tasks functions return its id."""
    result = task.get("result")
    scraper_task = _func_name(task).startswith("scraper.tasks.")
    if task.get("success") and scraper_task and type(result) is not bool:
        return int(result) if isinstance(result, int) else None
    return None


def request_done(**kwargs: Any) -> None:
    _context.set(None)


def connect_signals() -> None:
    from django.core.signals import request_finished
    from django_q.signals import post_execute_in_worker, pre_execute

    request_finished.connect(request_done, dispatch_uid="otakusite.logs.request_done")
    pre_execute.connect(task_started, dispatch_uid="otakusite.logs.task_started")
    post_execute_in_worker.connect(task_finished, dispatch_uid="otakusite.logs.task_finished")


def logging_config(log_format: str, level: str) -> dict[str, Any]:
    """settings.LOGGING for ``LOG_FORMAT`` (plain or json) and ``LOG_LEVEL``."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
            "json": {"()": "otakusite.logs.JsonFormatter"},
        },
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": log_format}},
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            "django.db.backends": {"level": "WARNING"},
            # One line per request is the crawl's own job (progress); httpx would double it.
            "httpx": {"level": "WARNING"},
            "httpcore": {"level": "WARNING"},
            # runserver's own request lines: ours say the same in JSON.
            **({"django.server": {"level": "WARNING"}} if log_format == "json" else {}),
        },
    }
