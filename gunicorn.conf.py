"""gunicorn settings for the web process (HTTP and websockets together), read from the environment.

The gevent worker was chosen by measurement (README, Performance): it holds many idle sockets cheaply and
delivered the highest fan-out rate. Do not use --preload with it.
"""
import os

bind = f"{os.environ.get('BIND_HOST', '0.0.0.0')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gevent")
worker_connections = int(os.environ.get("GUNICORN_WORKER_CONNECTIONS", "20000"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "10"))
keepalive = 5
accesslog = None
# gunicorn 27 opens a control socket at one fixed path per user; several servers on one machine (tests,
# scale-out) would fight over it, and nothing here uses it.
control_socket_disable = True
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()


def _metrics():
    # shopapp/metrics.py loaded by path: importing the shopapp package here would pull Flask and SQLAlchemy
    # into the master before gevent patches the workers it forks.
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "shopapp_metrics_setup", os.path.join(os.path.dirname(os.path.abspath(__file__)), "shopapp", "metrics.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def on_starting(server):
    # Prometheus multiprocess mode: every worker of this master writes into one fresh directory (README).
    _metrics().prepare_process("web")


def child_exit(server, worker):
    _metrics().process_exited(worker.pid)
