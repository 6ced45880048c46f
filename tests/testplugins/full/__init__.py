"""A test plugin that uses every extension point of the contract."""

from tests.testplugins.full import plugin

__all__ = ["plugin"]
