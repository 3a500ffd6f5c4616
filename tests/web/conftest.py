"""Fixtures of the page tests: the persona world (the same one the API matrix uses) and a
browser-like client signed in as any of its personas."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client

from tests.api.world import PERSONAS, World, build_world

__all__ = ["PERSONAS"]


@pytest.fixture
def world() -> World:
    return build_world()


@pytest.fixture
def client_as(world: World) -> Callable[[str], Client]:
    """``client_as("facilitator")``: a test client signed in as that persona of ``world``
    (``"anonymous"``: not signed in)."""

    def _client(persona: str) -> Client:
        client = Client()
        user = world.users[persona]
        if user is not None:
            client.force_login(user)
        return client

    return _client
