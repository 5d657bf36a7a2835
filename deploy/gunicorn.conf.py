"""gunicorn settings for the `web` container (`gunicorn -c deploy/gunicorn.conf.py`).

Every value can be overridden from the environment (GUNICORN_* below) so the same image
fits a small VPS and a larger host.
"""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
# Sync workers + threads: pages are database-bound and short; threads keep memory low.
workers = int(os.environ.get("WEB_CONCURRENCY", str(min(2 * multiprocessing.cpu_count() + 1, 8))))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
worker_class = "gthread"
# nginx gives up after 60 s; a request still running after 30 s is stuck, not slow.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 20
keepalive = 5
# Recycle workers now and then so a slow leak never becomes an outage.
max_requests = 2000
max_requests_jitter = 200
# Heartbeat files in memory: /tmp may be a slow overlay in containers.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108, PTH112
# Only nginx talks to gunicorn (a private Compose network), so its X-Forwarded-* are trusted.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "*")
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s"'
