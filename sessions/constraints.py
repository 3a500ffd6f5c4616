"""Database constraints that only PostgreSQL can enforce."""

from __future__ import annotations

from typing import Any

from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import DateTimeRangeField, RangeBoundary, RangeOperators
from django.db.models import Func


class TsTzRange(Func):
    """``tstzrange(start, end, '[)')``: half-open, so 18:00-19:30 and 19:30-21:00 touch only."""

    function = "TSTZRANGE"
    output_field = DateTimeRangeField()

    def __init__(self, start: str, end: str) -> None:
        super().__init__(start, end, RangeBoundary(inclusive_lower=True, inclusive_upper=False))


class PostgresExclusionConstraint(ExclusionConstraint):
    """An exclusion constraint on PostgreSQL and nothing elsewhere.

    The embedded SQLite default has no GiST indexes; there the services' own checks are the
    only guard, which is enough for one laptop and one user at a time.
    """

    def constraint_sql(self, model: Any, schema_editor: Any) -> Any:
        if schema_editor.connection.vendor != "postgresql":
            return None
        return super().constraint_sql(model, schema_editor)

    def create_sql(self, model: Any, schema_editor: Any) -> Any:
        if schema_editor.connection.vendor != "postgresql":
            return None
        return super().create_sql(model, schema_editor)

    def remove_sql(self, model: Any, schema_editor: Any) -> Any:
        if schema_editor.connection.vendor != "postgresql":
            return None
        return super().remove_sql(model, schema_editor)

    def validate(self, model: Any, instance: Any, exclude: Any = None, using: Any = None) -> None:
        # The services check overlaps with a clear message before the database is asked.
        return None


OVERLAPS = RangeOperators.OVERLAPS
EQUAL = RangeOperators.EQUAL
