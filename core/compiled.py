"""ORM queries compiled once, for the hottest reads.

Building and compiling a Django query costs more CPU than running a primary-key read. A ``CompiledQuery`` builds the
ORM's own query once per database, with sentinel integers where the ids go, and hands back its SQL with the real
ids in place of the sentinels: the SQL is exactly the ORM's, only not rebuilt on every request. Sentinels must be
integers no id can be (e.g. below ``-2**62``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django.db import models


class CompiledQuery:
    def __init__(self, model: type[models.Model], build: Callable[[], models.QuerySet]) -> None:
        self.model = model
        self.build = build  # the queryset, filtered on the sentinels
        self._compiled: dict[str, tuple[str, tuple[Any, ...]]] = {}

    def sql(self, values: Mapping[int, object]) -> tuple[str, str, list[Any]]:
        """The database alias, the SQL and its parameters, each sentinel replaced by its value in ``values``."""
        alias = self.model._default_manager.db
        if alias not in self._compiled:
            sql, params = self.build().query.sql_with_params()
            self._compiled[alias] = (sql, tuple(params))
        sql, template = self._compiled[alias]
        return alias, sql, [values.get(param, param) if isinstance(param, int) else param for param in template]
