"""Fixtures of the API tests: the persona world and a client."""

import pytest
from rest_framework.test import APIClient

from tests.api.world import World, build_world


@pytest.fixture
def world() -> World:
    return build_world()


@pytest.fixture
def api() -> APIClient:
    return APIClient()
