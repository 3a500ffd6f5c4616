"""Fixtures of the security tests: the page tests' persona world and signed-in clients."""

from tests.web.conftest import client_as, world

__all__ = ["client_as", "world"]
