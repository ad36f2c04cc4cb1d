"""Whether this process runs under gevent: gunicorn's gevent worker monkey-patches the standard library.

Several parts behave differently there: the ingest writer batches deliveries in a greenlet, SQLite
checkpoints move to an OS thread, and no greenlet reads a websocket until its handler does.
"""
from __future__ import annotations

try:
    from gevent import monkey as _monkey
except ImportError:  # gevent is a production dependency, but the app also runs without it
    _monkey = None


def under_gevent() -> bool:
    """True in a process gevent monkey-patched (the web processes under gunicorn's gevent worker)."""
    return _monkey is not None and _monkey.is_module_patched("socket")
