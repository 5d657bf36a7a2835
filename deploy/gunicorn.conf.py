"""gunicorn settings for the `web` container (`gunicorn -c deploy/gunicorn.conf.py`).

Every value can be overridden from the environment (GUNICORN_* below) so the same image
fits a small VPS and a larger host.
"""

import multiprocessing
import os
import signal
from typing import Any

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
# Sync workers + threads: pages are database-bound and short; threads keep memory low.
workers = int(os.environ.get("WEB_CONCURRENCY", str(min(2 * multiprocessing.cpu_count() + 1, 8))))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
worker_class = "gthread"
# nginx gives up after 60 s; a request still running after 30 s is stuck, not slow.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 20
keepalive = 5
# Recycling. A worker restarted after N requests closes the keep-alive connections it
# holds, and viewers whose next request was already on the way get a socket error: with
# the old max_requests = 2000, wrk -c32 saw 112 restarts in 2 minutes and 150 read errors
# per 30 s. So no recycling by count (0, unless GUNICORN_MAX_REQUESTS asks for it); the
# memory guard below recycles a worker only when it really grew, and drains it first.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "0"))
max_requests_jitter = int(os.environ.get("GUNICORN_MAX_REQUESTS_JITTER", str(max_requests // 10)))
# Resident memory (MB) above which a worker is recycled; 0 turns the guard off.
MAX_WORKER_MB = int(os.environ.get("GUNICORN_MAX_WORKER_MB", "512"))
# Reading /proc costs ~10 us: once every this many requests of a worker is plenty.
MEMORY_CHECK_EVERY = 100
# Heartbeat files in memory: /tmp may be a slow overlay in containers.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108, PTH112
# gunicorn >= 25 opens a control socket for gunicornc at one path per user
# ($HOME/.gunicorn/gunicorn.ctl): every gunicorn of that user on a host takes the same
# path, and the first to stop removes the others'. Nothing here uses it (operators signal
# the master: HUP, TERM, TTIN/TTOU); GUNICORN_CONTROL_SOCKET=<path> opens one there.
control_socket_disable = not os.environ.get("GUNICORN_CONTROL_SOCKET")
if not control_socket_disable:
    control_socket = os.environ["GUNICORN_CONTROL_SOCKET"]
# Only nginx talks to gunicorn (a private Compose network), so its X-Forwarded-* are trusted.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "*")
accesslog: str | None = "-"
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s"'
if os.environ.get("LOG_FORMAT", "").strip().lower() == "json":
    # The site writes each request's JSON line itself (otakusite/logs.py, with its request
    # id); gunicorn's plain access line would repeat it, and its own messages become JSON.
    accesslog = None
    logconfig_dict = {
        "formatters": {"json": {"()": "otakusite.logs.JsonFormatter"}},
        "handlers": {
            "error_console": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"level": loglevel.upper(), "handlers": []},
        "loggers": {
            "gunicorn.error": {
                "level": loglevel.upper(),
                "handlers": ["error_console"],
                "propagate": False,
                "qualname": "gunicorn.error",
            },
            # With a logging config gunicorn always logs access lines: silenced here.
            "gunicorn.access": {"level": "CRITICAL", "handlers": [], "propagate": False},
        },
    }


def _rss_mb() -> float:
    """This process's resident memory in MB (Linux /proc; the peak elsewhere)."""
    try:
        with open("/proc/self/statm") as statm:  # noqa: PTH123
            pages = int(statm.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def post_worker_init(worker: Any) -> None:
    worker.otakusite_draining = False


def pre_request(worker: Any, req: Any) -> None:
    worker.log.debug("%s %s", req.method, req.path)
    if getattr(worker, "otakusite_draining", False):
        # "Connection: close" on every answer: clients open their next connection to
        # another worker instead of finding this one gone.
        req.must_close = True


def post_request(worker: Any, req: Any, environ: Any, resp: Any) -> None:
    if MAX_WORKER_MB <= 0 or getattr(worker, "otakusite_draining", True):
        return
    if worker.nr % MEMORY_CHECK_EVERY:
        return
    rss = _rss_mb()
    if rss >= MAX_WORKER_MB:
        worker.log.warning(
            "Worker %s uses %.0f MB (GUNICORN_MAX_WORKER_MB=%s): recycling it once its "
            "open connections are done",
            worker.pid,
            rss,
            MAX_WORKER_MB,
        )
        _drain(worker)


def worker_exit(server: Any, worker: Any) -> None:
    if getattr(worker, "otakusite_draining", False):
        worker.log.info("Worker %s drained: recycling it now", worker.pid)


def _drain(worker: Any) -> None:
    """Stop the worker the documented graceful way (SIGTERM to itself); the arbiter starts
    a fresh one. Since gunicorn 27.0.1 a stopping gthread worker stops accepting, keeps its
    kept-alive connections up to 2 s and answers a request arriving on one with
    "Connection: close", then exits once its requests are done: the drain this guard needs,
    without reaching into the worker's internals."""
    worker.otakusite_draining = True
    os.kill(worker.pid, signal.SIGTERM)
