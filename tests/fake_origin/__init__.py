"""A fake otakudesu origin for tests and demos (issue 5).

``FakeOrigin(seed, size)`` generates a deterministic made-up catalogue (``.truth``) and
serves it over real HTTP on 127.0.0.1 in otakudesu's markup, at otakudesu's paths,
including search, pagination, the admin-ajax mirror protocol and embed pages on a second
host name (``localhost``). It logs every request and can misbehave on demand: faults,
a domain move, a changed layout, a Cloudflare-style JS challenge and catalogue changes.

    from tests.fake_origin import FakeOrigin
    with FakeOrigin(seed=1, size=50) as origin:
        origin.base_url       # "http://127.0.0.1:<port>"
        origin.truth.anime    # slug -> Anime

Run standalone: ``python -m tests.fake_origin --port 8001 --seed 1 --size 300``.
"""

from .catalog import (
    DEFAULT_NOW,
    WIB,
    Anime,
    Batch,
    Catalog,
    Download,
    Episode,
    Genre,
    Lengkap,
    Mirror,
    generate_catalog,
    mirror_token,
)
from .markup import GENRE_PAGE_SIZE, LIST_PAGE_SIZE
from .server import (
    FAULT_KINDS,
    PAGE_KINDS,
    FakeOrigin,
    FaultEvent,
    LoggedRequest,
    challenge_token,
    iter_pages,
)

__all__ = [
    "DEFAULT_NOW",
    "FAULT_KINDS",
    "GENRE_PAGE_SIZE",
    "LIST_PAGE_SIZE",
    "PAGE_KINDS",
    "WIB",
    "Anime",
    "Batch",
    "Catalog",
    "Download",
    "Episode",
    "FakeOrigin",
    "FaultEvent",
    "Genre",
    "Lengkap",
    "LoggedRequest",
    "Mirror",
    "challenge_token",
    "generate_catalog",
    "iter_pages",
    "mirror_token",
]
