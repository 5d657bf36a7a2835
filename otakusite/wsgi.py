"""WSGI entry point (gunicorn otakusite.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "otakusite.settings")

application = get_wsgi_application()
