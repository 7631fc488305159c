"""Helpers the test modules share: real servers, apps and sessions by hand,
session backends, the Redis proxy and apps, the reference model."""
