"""Kiosk fixtures: the console's staff, for settling a kiosk micropay left unknown."""

from tests.console.conftest import staff  # noqa: F401
