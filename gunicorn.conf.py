"""gunicorn settings for the web process (HTTP and websockets together), read from the environment.

The gevent worker was chosen by measurement (README, Performance): it holds many idle sockets cheaply and
delivered the highest fan-out rate. Do not use --preload with it.
"""
import os
import sys

# gevent keeps each greenlet's spawning stack by default (a dozen frame records per websocket); not needed.
os.environ.setdefault("GEVENT_TRACK_GREENLET_TREE", "0")


def _bind_host() -> str:
    # BIND_HOST, else loopback in dev mode (SHOPAPP_DEV=1, or no Shopify credentials: shopapp.config's rule,
    # not imported here, see _metrics) and every interface in production, where platforms route traffic to
    # the container's address. `make run` always passes BIND_HOST (default 127.0.0.1).
    dev = os.environ.get("SHOPAPP_DEV", "").strip().lower() in ("1", "true", "yes", "on")
    credentials = os.environ.get("SHOPIFY_API_KEY") and os.environ.get("SHOPIFY_API_SECRET")
    host = os.environ.get("BIND_HOST", "").strip() or ("127.0.0.1" if dev or not credentials else "0.0.0.0")
    return f"[{host}]" if ":" in host else host  # an IPv6 address in brackets


bind = f"{_bind_host()}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gevent")
worker_connections = int(os.environ.get("GUNICORN_WORKER_CONNECTIONS", "20000"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "10"))
keepalive = 5
accesslog = None
# If an access log is turned on, its lines never carry the query string or the Referer: /ws/jobs takes the
# session token in `?id_token=`, and the embedded page's URL (the Referer) carries one too.
access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(L)s'
# gunicorn 27 opens a control socket at one fixed path per user; several servers on one machine (tests,
# scale-out) would fight over it, and nothing here uses it.
control_socket_disable = True
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()


def _load(name, *path):
    # A shopapp module loaded by path: importing the shopapp package here would pull Flask and SQLAlchemy
    # into the master before gevent patches the workers it forks.
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        name, os.path.join(os.path.dirname(os.path.abspath(__file__)), "shopapp", *path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _metrics():
    return _load("shopapp_metrics_setup", "metrics", "multiprocess.py")


# gunicorn's own lines (gunicorn.error, gunicorn.access, the master) in the app's form: JSON lines, or plain
# ones in a terminal and in dev mode (LOG_FORMAT; `make run` passes the form it chose to its children).
_logs = _load("shopapp_logs_setup", "logs.py")
_dev = os.environ.get("SHOPAPP_DEV", "").strip().lower() in ("1", "true", "yes", "on")
logconfig_dict = _logs.gunicorn_logconfig(
    _logs.use_json_lines(os.environ.get("LOG_FORMAT", "auto").strip().lower(), _dev, sys.stderr), loglevel)


def on_starting(server):
    # Prometheus multiprocess mode: every worker of this master writes into one fresh directory (README).
    _metrics().prepare_process("web")


def child_exit(server, worker):
    _metrics().process_exited(worker.pid)


def post_worker_init(worker):
    # SIGTERM (graceful stop): close every websocket with 1001 at once, so clients reconnect elsewhere
    # and the worker need not wait graceful_timeout for sockets that would never end by themselves.
    import gc
    import signal
    import threading

    # Responses in one send, and no access-log work unless `accesslog` asks for it (shopapp/gunicorn_seam.py).
    from shopapp import gunicorn_seam

    gunicorn_seam.install(worker)

    # The app's own objects live as long as the worker: keep them out of every full collection, whose
    # pause (tens of ms per 100,000 objects) every socket of the worker waits through.
    gc.collect()
    gc.freeze()

    stop_accepting = worker.handle_exit

    def handle_exit(sig, frame):
        stop_accepting(sig, frame)
        # No blocking in a signal handler (under gevent it runs in the event loop): close from a greenlet
        # or a thread.
        if worker_class.startswith("gevent"):
            import gevent

            gevent.spawn(_close_websockets)
        else:
            threading.Thread(target=_close_websockets, daemon=True).start()

    signal.signal(signal.SIGTERM, handle_exit)


def worker_int(worker):
    # SIGINT/SIGQUIT (quick stop): the worker exits right after this hook, so close the sockets now.
    _close_websockets(wait=1.0)


def _close_websockets(wait: float = 0.0):
    from shopapp.realtime import shutdown_all

    shutdown_all(wait=wait)


# --- Malformed and oversized requests (README "Security", "What a delivery is bound to") -----------------

# A request body the app answers without reading whole (413 over WEBHOOK_MAX_BYTES, a refusal before the
# body, a chunked body cut off at the limit) is drained by gunicorn afterwards, with no limit, before the
# connection can serve another request: a 2 GB Content-Length stalled a gevent worker until the arbiter
# killed it. Such connections are closed after the answer instead. The threshold is fixed, so that this
# file reads no setting (and never imports shopapp): most deliveries are a few KB, and one over 64 KiB
# only costs the sender a new connection.
_KEEP_ALIVE_MAX_BODY_BYTES = 64 * 1024


def pre_request(worker, req):
    worker.log.debug("%s %s", req.method, req.path)  # gunicorn's default pre_request
    if _closes_after_answer(req):
        req.force_close()


def _closes_after_answer(req) -> bool:
    for name, value in req.headers:  # gunicorn has already refused conflicting or malformed framing headers
        if name == "TRANSFER-ENCODING" and "chunked" in value.lower():
            return True
        if name == "CONTENT-LENGTH" and value.isdigit() and int(value) > _KEEP_ALIVE_MAX_BODY_BYTES:
            return True
    return False


def _quiet_invalid_requests_logger():
    # gunicorn logs every request its parser refuses ("Invalid request from ip=...: ...", answered 400) at
    # WARNING: anyone can send them, so they are the sender's fault, logged at INFO like the app's own refusals.
    from gunicorn.glogging import Logger

    class RefusalsAtInfoLogger(Logger):
        def warning(self, msg, *args, **kwargs):
            if isinstance(msg, str) and msg.startswith("Invalid request from ip="):
                self.info(msg, *args, **kwargs)
            else:
                super().warning(msg, *args, **kwargs)

    return RefusalsAtInfoLogger


logger_class = _quiet_invalid_requests_logger()
