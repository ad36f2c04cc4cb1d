"""The authorization-code install flow (/auth, /auth/callback). Filled in by the auth issue."""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the OAuth routes."""
