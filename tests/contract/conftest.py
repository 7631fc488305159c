"""Fixtures that several contract modules share."""

from ..support.simple_jar import clock

__all__ = ["clock"]
