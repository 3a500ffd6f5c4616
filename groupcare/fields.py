"""Model fields every app may use."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from django.core.exceptions import FieldError
from django.db import models
from django.db.models.functions import Cast
from django.db.models.lookups import Exact, In, IsNull

from groupcare import crypto


class EncryptedLookupError(FieldError):
    """A query tried to search or compare encrypted text."""

    def __init__(self, field: models.Field[Any, Any], lookup: str) -> None:
        super().__init__(
            f"{_label(field)} is encrypted at rest, so it cannot be searched, compared or "
            f"transformed in the database (lookup '{lookup}'). Only `={''!r}`, `__in=[{''!r}]` "
            "and `__isnull` work; filter on another field and read the text in Python."
        )


def _label(field: models.Field[Any, Any]) -> str:
    model = getattr(field, "model", None)
    return f"{model.__name__}.{field.name}" if model is not None else f"Field {field.name!r}"


class _EmptyOnlyExact(Exact):
    def get_prep_lookup(self) -> Any:
        if self.rhs not in ("", None):
            raise EncryptedLookupError(self.lhs.output_field, "exact")
        return super().get_prep_lookup()


class _EmptyOnlyIn(In):
    def get_prep_lookup(self) -> Any:
        rhs = self.rhs
        if (
            hasattr(rhs, "resolve_expression")
            or isinstance(rhs, str)
            or not isinstance(rhs, Iterable)
            or any(value != "" for value in rhs)
        ):
            raise EncryptedLookupError(self.lhs.output_field, "in")
        return super().get_prep_lookup()


class EncryptedTextField(models.TextField):
    """Free text stored as a Fernet token (``groupcare.crypto``), read back as ``str``.

    For clinical notes: a database dump, a backup or a stray ``SELECT`` shows no text. The
    empty string is stored as it is, so a blank note costs nothing and ``note=""`` still
    filters. Any other lookup raises EncryptedLookupError: the same text never encrypts
    the same way twice, so the database cannot search, compare or order it. ``max_length``,
    when given, limits the form field only, as on any TextField.
    """

    description = "Text encrypted at rest"

    _ALLOWED_LOOKUPS = {"exact": _EmptyOnlyExact, "in": _EmptyOnlyIn, "isnull": IsNull}

    def get_lookup(self, lookup_name: str) -> Any:
        return self._ALLOWED_LOOKUPS.get(lookup_name)

    def get_transform(self, lookup_name: str) -> Any:
        # Reached when get_lookup found nothing: name the real reason instead of Django's
        # "Unsupported lookup".
        raise EncryptedLookupError(self, lookup_name)

    def deconstruct(self) -> tuple[str, str, list[Any], dict[str, Any]]:
        # A stable import path for the migrations that use it, wherever the class moves.
        name, _path, args, kwargs = super().deconstruct()
        return name, "groupcare.fields.EncryptedTextField", args, kwargs

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> str | None:
        if not value:
            return value
        return crypto.decrypt(value, what=f"A value of {_label(self)}")

    def to_python(self, value: Any) -> str | None:
        if value is None or isinstance(value, str):
            return value
        return str(value)

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if not value:
            return value
        return crypto.encrypt(value)


# Reading and writing the stored tokens themselves, past from_db_value/get_prep_value: for
# the migration that encrypts existing rows and for ``manage.py encryption_rotate``.


def stored_page(
    queryset: models.QuerySet[Any], field_name: str, *, after: Any, batch_size: int
) -> list[tuple[Any, str]]:
    """The next ``batch_size`` non-empty stored values of ``field_name`` with a primary key
    above ``after`` (None: from the start), as (pk, stored text) in pk order.

    Paging by key keeps every query short: no cursor stays open over a table that is being
    rewritten (SQLite gives no isolation between the queries of one connection), and memory
    holds one page. Pass ``queryset.select_for_update()`` to lock the page's rows.
    """
    rows = (
        queryset.exclude(**{field_name: ""})
        .exclude(**{f"{field_name}__isnull": True})
        .annotate(_stored=Cast(field_name, output_field=models.TextField()))
        .order_by("pk")
    )
    if after is not None:
        rows = rows.filter(pk__gt=after)
    return list(rows.values_list("pk", "_stored")[:batch_size].iterator(chunk_size=batch_size))


def stored_values(
    queryset: models.QuerySet[Any], field_name: str, *, batch_size: int
) -> Iterator[list[tuple[Any, str]]]:
    """Every page of :func:`stored_page`, in turn."""
    after = None
    while page := stored_page(queryset, field_name, after=after, batch_size=batch_size):
        yield page
        after = page[-1][0]


def store_values(
    model: type[models.Model], field_name: str, values: Mapping[Any, str], *, batch_size: int
) -> None:
    """Write ``values`` (pk → text to store as it is) into ``field_name``, in batches."""
    objects = []
    for pk, stored in values.items():
        obj = model(pk=pk)
        # An expression is written as it is, not through get_prep_value (no second encryption).
        setattr(obj, field_name, models.Value(stored, output_field=models.TextField()))
        objects.append(obj)
    model._default_manager.bulk_update(objects, [field_name], batch_size=batch_size)
