"""otakusite settings: one module, every knob read from the environment.

See README.md ("Settings") for the list of variables. Defaults give a working
development site on SQLite with an in-process cache and django-q2's ORM broker.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP
from django.utils.translation import gettext_lazy as _

from otakusite.logs import logging_config
from otakusite.observability import init_sentry

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("OTAKUSITE_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG")

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        # A guessable key would let anyone forge sessions and admin logins in production.
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off (see README.md).")
    SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production"  # noqa: S105

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    # django-ninja: its docs page then uses its own static Swagger UI (no CDN, fits the CSP).
    "ninja",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.sitemaps",
    "django.contrib.humanize",
    "otakusite",
    "catalog",
    # Before django_q: its `qcluster` command replaces django-q2's (a crawl stops on SIGTERM).
    "scraper",
    "django_q",
]

MIDDLEWARE = [
    # First: the request id (X-Request-ID) and, with LOG_FORMAT=json, the request's log line.
    "otakusite.logs.RequestLogMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # /api/v1/ only: rate limit per client before any work, CORS, errors as JSON
    # (otakusite/api_edge.py); outside the others, so it sees every answer they give.
    "otakusite.api_edge.ApiEdgeMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "otakusite.middleware.CookieLocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.http.ConditionalGetMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    # Last, so it is the first to see a view's exception: with the database unreachable it
    # answers with the page's last good copy or the 503 page (otakusite/middleware.py).
    "otakusite.middleware.DegradedMiddleware",
    # After it, so it sees a failing replica first and answers from the primary instead.
    "otakusite.replica.ReplicaReadsMiddleware",
]
# What the JSON answers of /api/v1/ go through after ApiEdgeMiddleware, instead of the
# rest of MIDDLEWARE: none of the page-only layers (otakusite/api_edge.py says why).
API_MIDDLEWARE = [
    "django.middleware.common.CommonMiddleware",
    "django.middleware.http.ConditionalGetMiddleware",
    "otakusite.middleware.DegradedMiddleware",
    "otakusite.replica.ReplicaReadsMiddleware",
]

ROOT_URLCONF = "otakusite.urls"
WSGI_APPLICATION = "otakusite.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------
VAR_DIR.mkdir(parents=True, exist_ok=True)
DATABASE_URL = os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'otakusite.sqlite3'}"
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
# Seconds to wait for the database before giving up: a frozen or unreachable server then
# costs a request this long (it gets a stale page or the 503 page), never minutes. The read
# timeout also bounds one query: raise it for long one-off work (a big migration).
DB_CONNECT_TIMEOUT = int(os.environ.get("DB_CONNECT_TIMEOUT", "2"))
DB_READ_TIMEOUT = int(os.environ.get("DB_READ_TIMEOUT", "3"))
DB_WRITE_TIMEOUT = int(os.environ.get("DB_WRITE_TIMEOUT", "3"))
if DATABASES["default"]["ENGINE"] == "django.db.backends.mysql":
    DATABASES["default"]["OPTIONS"] = {
        # utf8mb4 so Japanese titles and emoji round-trip; strict mode so bad data errors
        # instead of being silently truncated.
        "charset": "utf8mb4",
        "init_command": "SET sql_mode='STRICT_TRANS_TABLES'",
        "isolation_level": "read committed",
        "connect_timeout": DB_CONNECT_TIMEOUT,
        "read_timeout": DB_READ_TIMEOUT,
        "write_timeout": DB_WRITE_TIMEOUT,
    }
    DATABASES["default"]["TEST"] = {"CHARSET": "utf8mb4", "COLLATION": "utf8mb4_unicode_ci"}
    # django-q2's Task model declares a partial index; MariaDB ignores the condition and the
    # index still works, so the warning is noise (README.md, "check --deploy").
    SILENCED_SYSTEM_CHECKS = ["models.W037"]
elif DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets the site read while the background crawl writes.
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }

# A MariaDB replica for viewers' reads (optional; README.md, "Read replica"). The router and
# the middleware of otakusite/replica.py decide what may read from it and make sure no page
# is built from data older than the version it is cached under.
DATABASE_REPLICA_URL = os.environ.get("DATABASE_REPLICA_URL", "")
# Short, so a replica that is down costs one request about this long; then this process
# keeps away from it for REPLICA_RETRY_SECONDS (reads go to the primary).
REPLICA_CONNECT_TIMEOUT = int(os.environ.get("REPLICA_CONNECT_TIMEOUT", "1"))
REPLICA_READ_TIMEOUT = int(os.environ.get("REPLICA_READ_TIMEOUT", "2"))
REPLICA_RETRY_SECONDS = float(os.environ.get("REPLICA_RETRY_SECONDS", "10"))
# How long a page build waits for a lagging replica before reading from the primary.
REPLICA_WAIT_SECONDS = float(os.environ.get("REPLICA_WAIT_SECONDS", "0.2"))
# How long a viewer's reads after one of their writes must see that write.
REPLICA_READ_YOUR_WRITES_SECONDS = int(os.environ.get("REPLICA_READ_YOUR_WRITES_SECONDS", "30"))
# Paths that always read from the primary: the admin edits what it reads, and the health
# checks report on the primary (a replica outage costs nothing: reads fall back).
REPLICA_PRIMARY_PATHS = ("/admin/", "/healthz")
if DATABASE_REPLICA_URL:
    replica = dj_database_url.parse(DATABASE_REPLICA_URL, conn_max_age=60)
    if replica["ENGINE"] != "django.db.backends.mysql" or (
        DATABASES["default"]["ENGINE"] != "django.db.backends.mysql"
    ):
        # Lag is checked with MariaDB's GTIDs (MASTER_GTID_WAIT).
        raise ImproperlyConfigured("DATABASE_REPLICA_URL needs MariaDB for both databases.")
    replica["OPTIONS"] = {
        **DATABASES["default"]["OPTIONS"],
        "connect_timeout": REPLICA_CONNECT_TIMEOUT,
        "read_timeout": REPLICA_READ_TIMEOUT,
        "write_timeout": REPLICA_READ_TIMEOUT,
    }
    # Tests create no database on the replica: its alias points at the test database.
    replica["TEST"] = {"MIRROR": "default"}
    DATABASES["replica"] = replica
    DATABASE_ROUTERS = ["otakusite.replica.ReplicaRouter"]

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache --------------------------------------------------------------------
# Two roles, two Redis servers in docker-compose.yml: REDIS_URL holds what must never be
# evicted (django-q2's task queue, locks: the "coordination" cache below), CACHE_REDIS_URL
# the page cache, bounded by maxmemory + allkeys-lru so it can never fill up and refuse
# writes. One Redis for both (CACHE_REDIS_URL unset) still works for small setups.
REDIS_URL = os.environ.get("REDIS_URL", "")
# Seconds toward Redis (connect, then each reply), and how long a process skips Redis after
# a failure before trying again (catalog pages are then built from the database).
REDIS_CONNECT_TIMEOUT = float(os.environ.get("REDIS_CONNECT_TIMEOUT", "1"))
REDIS_TIMEOUT = float(os.environ.get("REDIS_TIMEOUT", "1"))
REDIS_RETRY_SECONDS = float(os.environ.get("REDIS_RETRY_SECONDS", "5"))
CACHE_REDIS_URL = os.environ.get("CACHE_REDIS_URL", "") or REDIS_URL
if CACHE_REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": CACHE_REDIS_URL,
            "KEY_PREFIX": os.environ.get("CACHE_KEY_PREFIX", "otakusite"),
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                # A Redis outage should degrade to uncached pages, not to 500s.
                "IGNORE_EXCEPTIONS": True,
                # ...and quickly: bounded waits, then no waiting at all for a few seconds
                # after a failure (otakusite/resilience.py), so a frozen Redis costs a
                # request about one REDIS_TIMEOUT instead of one per cache call.
                "SOCKET_CONNECT_TIMEOUT": REDIS_CONNECT_TIMEOUT,
                "SOCKET_TIMEOUT": REDIS_TIMEOUT,
                "CONNECTION_POOL_CLASS": "otakusite.resilience.FailFastConnectionPool",
                "CONNECTION_POOL_KWARGS": {"retry_seconds": REDIS_RETRY_SECONDS},
            },
        }
    }
    DJANGO_REDIS_IGNORE_EXCEPTIONS = True
    DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "otakusite",
            "OPTIONS": {"MAX_ENTRIES": 5000},
        }
    }

# Locks and other shared state that must survive memory pressure: on the broker's Redis
# (never evicts), with the page cache's options; the same store as "default" without it.
CACHES["coordination"] = (
    {**CACHES["default"], "LOCATION": REDIS_URL} if REDIS_URL else CACHES["default"]
)

# Each web process keeps its own copy of cached pages and of the versions they are keyed
# on, cleared through Redis pub/sub when the catalogue changes (catalog/nearcache.py), so a
# cached page costs no network round trip. Needs Redis: without it nothing is announced.
NEAR_CACHE = bool(CACHE_REDIS_URL) and env_bool("NEAR_CACHE", default=True)
NEAR_CACHE_MB = int(os.environ.get("NEAR_CACHE_MB", "32"))

# --- django-q2 ----------------------------------------------------------------
Q_CLUSTER = {
    "name": "otakusite",
    "workers": int(os.environ.get("Q_WORKERS", "2")),
    "timeout": int(os.environ.get("Q_TIMEOUT", str(6 * 3600))),
    "retry": int(os.environ.get("Q_TIMEOUT", str(6 * 3600))) + 600,
    "max_attempts": 1,
    "catch_up": False,
    "label": "Django Q2",
    "sync": env_bool("Q_SYNC"),
}
if REDIS_URL:
    # Bounded waits here too (a frozen broker must not hang the worker or the admin for
    # ever); the read timeout stays above the broker's 1 s blocking pop.
    Q_CLUSTER["redis"] = (
        f"{REDIS_URL}{'&' if '?' in REDIS_URL else '?'}"
        f"socket_connect_timeout={REDIS_CONNECT_TIMEOUT:g}"
        f"&socket_timeout={max(REDIS_TIMEOUT, 1.0) + 4:g}"
    )
else:
    Q_CLUSTER["orm"] = "default"

# --- Auth, i18n, static -------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "id"
LANGUAGES = [("id", _("Bahasa Indonesia")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Jakarta"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
WHITENOISE_MAX_AGE = 31536000 if not DEBUG else 0
# Posters fetched by the worker and re-encoded (catalog/posters.py, scraper/posters.py):
# served under MEDIA_URL by Django (make run) or by nginx from the same directory.
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
MEDIA_URL = "/media/"

# --- Security -----------------------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "strict-origin-when-cross-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT")
# Health checks (load balancers, orchestrators) often probe over plain HTTP: a 301 there
# would read as "down". They show no data worth protecting.
SECURE_REDIRECT_EXEMPT = [r"^healthz(/|$)"]
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", default=SECURE_SSL_REDIRECT)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "0"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS")
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD")
if env_bool("BEHIND_PROXY"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    USE_X_FORWARDED_HOST = True

# Built-in CSP (Django 6): no inline scripts; frame-src is widened per response to the
# allowed embed hosts (EMBED_HOSTS_ALLOWED or approved in the admin; catalog views add
# them), never to a host the origin merely named. Every picture is ours (posters under
# MEDIA_URL, icons under STATIC_URL; a missing poster is the CSS placeholder, never the
# origin's image host): img-src is this site alone, and data: is left out as nothing uses it.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "frame-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}

# --- Public API (/api/v1/) ------------------------------------------------------
# Requests a minute per client address (IPv6: per /64), one burst of that size allowed;
# 0 turns the limit off. Shared by every web process through the coordination Redis.
API_RATE_LIMIT = int(os.environ.get("API_RATE_LIMIT", "120"))

# --- Scraper ------------------------------------------------------------------
OTAKUDESU_BASE_URL = os.environ.get("OTAKUDESU_BASE_URL", "https://otakudesu.blog").rstrip("/")
SCRAPER_RATE_LIMIT = float(os.environ.get("SCRAPER_RATE_LIMIT", "2"))
# SCRAPER_RATE_LIMIT is one budget per origin host for web and worker together (on Redis
# when REDIS_URL is set; scraper/budget.py). Viewers' mirror requests go first; while
# viewers are around the crawl keeps this share of the budget free for them.
SCRAPER_VIEWER_SHARE = min(0.9, max(0.0, float(os.environ.get("SCRAPER_VIEWER_SHARE", "0.5"))))
# A viewer's mirror request waits at most this long (seconds) for request slots, then gets
# a quick "busy" answer (503 + Retry-After, with the embed resolved earlier if there is one).
SCRAPER_VIEWER_MAX_WAIT = float(os.environ.get("SCRAPER_VIEWER_MAX_WAIT", "2.5"))
SCRAPER_TIMEOUT = float(os.environ.get("SCRAPER_TIMEOUT", "20"))
SCRAPER_RETRIES = int(os.environ.get("SCRAPER_RETRIES", "4"))
# A run in progress writes its heartbeat (and refreshes its lock) every
# SCRAPER_HEARTBEAT_SECONDS; one silent for SCRAPER_RUN_STALE_SECONDS is dead (closed as
# interrupted, its lock free). A dead process on the same host is recognised at once.
SCRAPER_HEARTBEAT_SECONDS = float(os.environ.get("SCRAPER_HEARTBEAT_SECONDS", "15"))
SCRAPER_RUN_STALE_SECONDS = float(os.environ.get("SCRAPER_RUN_STALE_SECONDS", "120"))
SCRAPER_COOKIE_PATH = Path(os.environ.get("SCRAPER_COOKIE_PATH", VAR_DIR / "cookies.json"))
SCRAPER_UPDATE_MINUTES = int(os.environ.get("SCRAPER_UPDATE_MINUTES", "30"))
# The ongoing update's policy: "planned" (a tick every minute asks scraper/freshness.py:
# every SCRAPER_POLL_HOT_MINUTES around expected releases, every SCRAPER_POLL_QUIET_MINUTES
# otherwise) or "fixed" (every SCRAPER_UPDATE_MINUTES, as before).
SCRAPER_UPDATE_POLICY = os.environ.get("SCRAPER_UPDATE_POLICY", "planned").strip().lower()
if SCRAPER_UPDATE_POLICY not in {"planned", "fixed"}:
    raise ImproperlyConfigured(
        f"SCRAPER_UPDATE_POLICY must be planned or fixed, not {SCRAPER_UPDATE_POLICY!r}"
    )
SCRAPER_POLL_HOT_MINUTES = float(os.environ.get("SCRAPER_POLL_HOT_MINUTES", "1"))
SCRAPER_POLL_QUIET_MINUTES = float(os.environ.get("SCRAPER_POLL_QUIET_MINUTES", "8"))
CHROMIUM_PATH = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
# At most one browser solve of a Cloudflare challenge per host in this many minutes.
SOLVER_MIN_INTERVAL_MINUTES = float(os.environ.get("SOLVER_MIN_INTERVAL_MINUTES", "10"))
# Mirrors checked per run of the daily health check; newest episodes' mirrors pre-resolved.
MIRROR_CHECK_LIMIT = int(os.environ.get("MIRROR_CHECK_LIMIT", "1000"))
SCRAPER_RESOLVE_RECENT = int(os.environ.get("SCRAPER_RESOLVE_RECENT", "50"))
# Embed hosts the site frames without an admin's approval (catalog/selectors.py embed
# policy): "host", "host:port", "host:*" (any port) or "*.domain" (its subdomains). A host
# the scraper finds that is not listed waits in the admin (EmbedHost, pending) until an
# admin approves it. The default is what the real otakudesu players and mirrors use.
EMBED_HOSTS_ALLOWED = env_list(
    "EMBED_HOSTS_ALLOWED",
    "desustream.com,*.desustream.com,desustream.net,*.desustream.net,"
    "odvidhide.com,filedon.co,mega.nz",
)
# Pages say "data as of ..." once the last successful update is older than this.
STALE_AFTER_MINUTES = int(os.environ.get("STALE_AFTER_MINUTES", "180"))
# While the database is unreachable, pages are served from their last rendered copy, kept
# this long after it was rendered (catalog/pagecache.py); pages without one answer 503 with
# Retry-After: DEGRADED_RETRY_AFTER seconds.
STALE_PAGE_SECONDS = int(os.environ.get("STALE_PAGE_SECONDS", str(7 * 86400)))
DEGRADED_RETRY_AFTER = int(os.environ.get("DEGRADED_RETRY_AFTER", "30"))
# `make run` on an empty database starts the first crawl in the background.
AUTO_FIRST_CRAWL = env_bool("AUTO_FIRST_CRAWL")
# Alerts to an operator (scraper/alerts.py): a JSON POST to a Discord/Slack-compatible
# webhook and/or a Telegram bot's sendMessage; at most one per cause an hour. The origin
# counts as unreachable once no crawl has reached it for ALERT_UNREACHABLE_MINUTES.
ALERT_WEBHOOK_URL = os.environ.get("ALERT_WEBHOOK_URL", "")
TELEGRAM_BOT_TOKEN = os.environ.get("TELEGRAM_BOT_TOKEN", "")
TELEGRAM_CHAT_ID = os.environ.get("TELEGRAM_CHAT_ID", "")
TELEGRAM_API_URL = os.environ.get("TELEGRAM_API_URL", "https://api.telegram.org").rstrip("/")
ALERT_UNREACHABLE_MINUTES = float(os.environ.get("ALERT_UNREACHABLE_MINUTES", "30"))

# --- Web Push (catalog/push.py) ------------------------------------------------
# Notifications of new episodes for followed anime need a VAPID key pair (`manage.py
# generate_vapid_keys` prints one) and a contact (mailto: or https: URL) for the push
# services; without all three the site offers no notifications.
VAPID_PUBLIC_KEY = os.environ.get("VAPID_PUBLIC_KEY", "").strip()
VAPID_PRIVATE_KEY = os.environ.get("VAPID_PRIVATE_KEY", "").strip()
VAPID_SUBJECT = os.environ.get("VAPID_SUBJECT", "").strip()
# Accept push endpoints on private or loopback hosts over plain HTTP (tests only: in
# production a page could otherwise make the worker POST into our own network).
PUSH_ALLOW_LOCAL_ENDPOINTS = env_bool("PUSH_ALLOW_LOCAL_ENDPOINTS")

# --- Logs, errors, backups ---------------------------------------------------
# plain: text lines (gunicorn's access log covers requests); json: one JSON object a line
# for each request, task and crawl summary, with a request id (otakusite/logs.py).
LOG_FORMAT = os.environ.get("LOG_FORMAT", "plain").strip().lower() or "plain"
if LOG_FORMAT not in {"plain", "json"}:
    raise ImproperlyConfigured(f"LOG_FORMAT must be plain or json, not {LOG_FORMAT!r}")
LOGGING = logging_config(LOG_FORMAT, os.environ.get("LOG_LEVEL", "INFO"))
if LOG_FORMAT == "json":  # Python's warnings too, instead of bare lines on stderr
    logging.captureWarnings(True)

# Unhandled errors go to Sentry when SENTRY_DSN is set (otakusite/observability.py), and by
# e-mail to ADMINS (Django's own fallback; needs EMAIL_HOST) either way.
SENTRY_DSN = os.environ.get("SENTRY_DSN", "").strip()
SENTRY_ENVIRONMENT = os.environ.get("SENTRY_ENVIRONMENT", "production")
SENTRY_RELEASE = os.environ.get("SENTRY_RELEASE", "")
SENTRY_SAMPLE_RATE = float(os.environ.get("SENTRY_SAMPLE_RATE", "1.0"))
SENTRY_TRACES_SAMPLE_RATE = float(os.environ.get("SENTRY_TRACES_SAMPLE_RATE", "0"))
init_sentry(
    dsn=SENTRY_DSN,
    environment=SENTRY_ENVIRONMENT,
    release=SENTRY_RELEASE,
    sample_rate=SENTRY_SAMPLE_RATE,
    traces_sample_rate=SENTRY_TRACES_SAMPLE_RATE,
)
ADMINS = env_list("ADMINS")
SERVER_EMAIL = os.environ.get("SERVER_EMAIL", "root@localhost")
# Django 6.1's MAILERS (the EMAIL_* settings are deprecated); the variables keep the names
# operators know.
MAILERS = {
    "default": {
        "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "OPTIONS": {
            "host": os.environ.get("EMAIL_HOST", "localhost"),
            "port": int(os.environ.get("EMAIL_PORT", "25")),
            "username": os.environ.get("EMAIL_HOST_USER", ""),
            "password": os.environ.get("EMAIL_HOST_PASSWORD", ""),
            "use_tls": env_bool("EMAIL_USE_TLS"),
            "timeout": 10,
        },
    }
}

# Database dumps (otakusite/backups.py): `manage.py backup_db`, and daily at BACKUP_HOUR
# (site time zone) by the worker; the newest BACKUP_KEEP are kept.
BACKUP_DIR = Path(os.environ.get("BACKUP_DIR", VAR_DIR / "backups"))
BACKUP_KEEP = int(os.environ.get("BACKUP_KEEP", "7"))
if BACKUP_KEEP < 1:
    raise ImproperlyConfigured(f"BACKUP_KEEP must be at least 1, not {BACKUP_KEEP}")
BACKUP_HOUR = int(os.environ.get("BACKUP_HOUR", "4"))
if not 0 <= BACKUP_HOUR <= 23:
    raise ImproperlyConfigured(f"BACKUP_HOUR must be 0-23, not {BACKUP_HOUR}")
