"""WSGI entry point for gunicorn: `gunicorn -c gunicorn.conf.py wsgi:app`."""
import sys

from shopapp import create_app
from shopapp.config import ConfigError

try:
    app = create_app()
except ConfigError as exc:  # one clear line instead of a traceback deep in a worker boot
    print(f"shopapp: configuration error: {exc}", file=sys.stderr)
    raise SystemExit(2) from None
