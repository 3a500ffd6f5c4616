"""The permission matrix of the API, one module per area.

Each module defines ``CASES``: a list of :class:`Case`, one per route and method, saying
which status each persona gets. ``tests/api/test_persona_matrix.py`` runs every case for
every persona and fails when a route of the URL conf has no case.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.api.world import PERSONAS, World

OK, CREATED, NO_CONTENT = 200, 201, 204
UNAUTHENTICATED, FORBIDDEN, NOT_FOUND = 401, 403, 404


@dataclass(frozen=True)
class Case:
    """``route``: the URL name; ``method``: lower case; ``url``: the path for the world;
    ``body``: the request body (JSON) for the world; ``expect``: status per persona
    (every persona of :data:`PERSONAS` must be listed)."""

    route: str
    method: str
    url: Callable[[World], str]
    expect: dict[str, int]
    body: Callable[[World], Any] | None = None
    query: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        missing = set(PERSONAS) - set(self.expect)
        if missing:
            raise ValueError(f"{self.route} {self.method}: no expectation for {sorted(missing)}")

    @property
    def id(self) -> str:
        return f"{self.route}-{self.method}"


def expect(**statuses: int) -> dict[str, int]:
    """Expected statuses; ``anonymous`` defaults to 401."""
    return {"anonymous": UNAUTHENTICATED, **statuses}


# --- the profiles most routes share -----------------------------------------------------------


def everyone(status: int = OK) -> dict[str, int]:
    """Anyone signed in gets ``status`` (each sees their own scope)."""
    return expect(
        admin=status,
        facilitator=status,
        other_facilitator=status,
        member=status,
        other_member=status,
        other_clinic_admin=status,
    )


def group_viewers(status: int = OK) -> dict[str, int]:
    """The group's staff and its member get ``status``; nobody else knows it exists."""
    return expect(
        admin=status,
        facilitator=status,
        other_facilitator=NOT_FOUND,
        member=status,
        other_member=NOT_FOUND,
        other_clinic_admin=NOT_FOUND,
    )


def group_managers(status: int) -> dict[str, int]:
    """Staff who run the group get ``status``; its member sees it but may not (403)."""
    return expect(
        admin=status,
        facilitator=status,
        other_facilitator=NOT_FOUND,
        member=FORBIDDEN,
        other_member=NOT_FOUND,
        other_clinic_admin=NOT_FOUND,
    )


def staff_anywhere(status: int = OK) -> dict[str, int]:
    """Admins and facilitators of any clinic get ``status`` (in their own); members 403."""
    return expect(
        admin=status,
        facilitator=status,
        other_facilitator=status,
        member=FORBIDDEN,
        other_member=FORBIDDEN,
        other_clinic_admin=status,
    )
