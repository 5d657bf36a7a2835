"""Test settings: production settings with test-only defaults for what the environment lacks.

Everything else (DATABASE_URL, REDIS_URL, ...) comes from the environment as in production,
so `make test` on MariaDB + Redis (CI) exercises the real configuration.
"""

import os

os.environ.setdefault("SECRET_KEY", "tests-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")
# Every test client is 127.0.0.1: the suite's API requests would share one budget of 120 a
# minute. The rate limit's own tests set a low limit (tests/test_api_edge.py).
os.environ.setdefault("API_RATE_LIMIT", "1000000")

from otakusite.settings import *  # noqa: F403

# The hashed manifest only exists after collectstatic; tests render templates without it.
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Tests write the catalogue with the ORM directly, without announcing it; the near cache is
# switched on only by its own tests (tests/test_near_cache.py).
NEAR_CACHE = False
