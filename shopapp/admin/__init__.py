"""The embedded admin page and the JSON API it uses."""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the page and /api routes. Filled in by the UI and auth issues."""
