"""gunicorn settings. `gunicorn -c gunicorn.conf.py 'app:create_app()'`

Worker class gevent: every request is a greenlet, so an idle SSE stream (live accompany,
R16) costs a socket and a few tens of KiB, not a thread, for at most
POSTPAY_SSE_MAX_SECONDS (300 s) before the client reconnects with Last-Event-ID. One
gunicorn serves everything (API, HIS, notifications, console and streams), as `make run`
does; production runs this file twice per instance (docs/operations.md, "Production layout"):
an API one with GUNICORN_WORKER_CLASS=gthread and a stream one with gevent, the proxy sending
the streams to the latter (bench P4' split: with 10,000 streams open, HIS POST and
notification tails within 1.14x of their value with none, against 1.42x and 1.61x for one
gevent gunicorn serving both). gevent patches
the standard library before the app is loaded; psycopg 3 (>= 3.1.14) notices the patched
``select`` and waits cooperatively, redis-py and requests use the patched sockets.

- workers (GUNICORN_WORKERS): 2 with a real Redis (one per core), 1 with the in-process
  Redis of development (it lives in that one worker).
- worker_connections (GUNICORN_WORKER_CONNECTIONS, 10000): open connections per worker,
  streams included. Each is a file descriptor: `ulimit -n` must exceed it (systemd
  LimitNOFILE=65536).
- GUNICORN_WORKER_CLASS=gthread (with GUNICORN_THREADS) brings back one thread per request;
  streams then hold a thread each (workers x threads streams at most).
"""

import os
import tempfile

#: Prometheus metrics of every worker, added up at /metrics (prometheus-client's multiprocess
#: mode): a fresh folder per server unless the operator names one (then empty it at each start).
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="postpay-metrics-"))

PORT = os.environ.get("PORT", "8000")
bind = "%s:%s" % (os.environ.get("HOST", "127.0.0.1"), PORT)
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gevent")
workers = int(os.environ.get("GUNICORN_WORKERS", "2" if os.environ.get("REDIS_URL") else "1"))
worker_connections = int(os.environ.get("GUNICORN_WORKER_CONNECTIONS", "10000"))
threads = int(os.environ.get("GUNICORN_THREADS", "64"))  # gthread only
timeout = 60
graceful_timeout = 10
keepalive = 5
#: No access log of gunicorn's own: the app writes one JSON line per request (postpay.lifecycle:
#: method, route, path without its query, status, latency, request id), and gunicorn's own lines
#: (start, stop, worker errors) are JSON objects through the same masking formatter.
accesslog = None
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "postpay.lifecycle.MaskingFormatter"}},
    "handlers": {"json": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}},
    "loggers": {"gunicorn.error": {"level": "INFO", "handlers": ["json"], "propagate": False}},
    "root": {"level": "INFO", "handlers": []},  # the app puts its own handler there
}


def post_worker_init(worker):
    """Identity numbers and phones masked in gunicorn's own log lines too (its error log names
    the request's URI when a request fails). Development without REDIS_URL: work the job queue
    on a thread of this (single) worker."""
    from postpay.lifecycle import mask_handlers

    mask_handlers(worker.log.error_log, worker.log.access_log)
    app = worker.wsgi
    if not app.config.get("REDIS_URL") and app.config.get("POSTPAY_INPROCESS_WORKER"):
        from postpay.schedule import start_inprocess_worker

        start_inprocess_worker(app)


def _sandbox():  # as postpay.config reads the variable
    return os.environ.get("POSTPAY_SANDBOX", "").strip().lower() in ("1", "true", "yes", "on")


def _dev_port_file():
    from postpay.config import DEV_PORT_FILE

    instance = os.environ.get("POSTPAY_INSTANCE_PATH") or os.path.join(os.path.dirname(__file__), "instance")
    return os.path.join(instance, DEV_PORT_FILE)


def when_ready(server):
    """With the sandbox on (development only), note the port in the instance folder: commands
    run in another shell then reach this server's sandbox without being given PORT."""
    if _sandbox():
        with open(_dev_port_file(), "w") as f:
            f.write(PORT)


def on_exit(server):
    if _sandbox():
        try:
            os.remove(_dev_port_file())
        except OSError:
            pass


def child_exit(server, worker):
    """A worker that ended: its live gauges (open streams) stop counting."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
