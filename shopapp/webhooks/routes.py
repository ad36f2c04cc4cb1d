"""POST /webhooks (the receiving endpoint). Filled in by the webhooks issue."""
from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("webhooks", __name__)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
