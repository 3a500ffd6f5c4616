"""The base of every domain error: a refusal that names the rule, never a 500."""

from __future__ import annotations


class DomainError(Exception):
    """A rule of the clinic refused the request.

    ``code`` is a stable machine name (the API returns it); ``conflict_id`` is the id of the
    object that stands in the way, when there is one (the session that is double-booked).
    The API turns these into 409 (or 400 for ``status=400`` subclasses) and the pages into
    a form message.
    """

    code = "domain_error"
    status = 409

    def __init__(self, message: str, *, conflict_id: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.conflict_id = conflict_id

    def __str__(self) -> str:
        return self.message
