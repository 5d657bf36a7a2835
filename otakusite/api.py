"""The public API's one instance, assembled: the catalogue's reads (catalog/api.py) plus the
scraper's mirror resolution (scraper/api.py), which the catalogue may not import."""

from catalog.api import api
from scraper.api import router as mirror_router

api.add_router("", mirror_router)
urls = api.urls
