"""Production settings plus one view that fails, for tests/test_sentry.py's gunicorn."""

from otakusite.settings import *  # noqa: F403

ROOT_URLCONF = "tests.sentry_urls"
