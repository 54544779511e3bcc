"""Fixtures for testing code that talks to CKAN, backed by the embedded server."""
