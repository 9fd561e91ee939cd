"""Toru Steering Center: a self-hosted control panel for one Linux server."""

__version__ = "0.1.0"
