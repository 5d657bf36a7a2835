"""Model fields shared by the catalogue."""

from __future__ import annotations

from typing import Any

from django.db import models


class SlugKeyField(models.CharField):
    """A path-relative slug used as a natural key.

    On MySQL/MariaDB the column gets the binary collation so `Abc` and `abc` (or `é` and
    `e`) are different rows, like the origin's URLs. SQLite compares bytes already. The
    collation is chosen per connection, not written into migrations, so one migration
    works on both backends.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 255)
        super().__init__(*args, **kwargs)

    def db_parameters(self, connection: Any) -> dict[str, Any]:
        params = super().db_parameters(connection)
        if connection.vendor == "mysql":
            params["collation"] = "utf8mb4_bin"
        return params
