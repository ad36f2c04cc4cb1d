"""Live job status: the per-process Redis subscriber, the socket registry and the /ws/jobs route."""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register /ws/jobs and the per-process subscriber. Filled in by the realtime issue."""
