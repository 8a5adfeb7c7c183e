"""gunicorn settings. `gunicorn -c gunicorn.conf.py 'app:create_app()'`

Worker class gthread: an idle SSE stream (live accompany, R16) holds one thread,
for at most POSTPAY_SSE_MAX_SECONDS (300 s by default) before the client
reconnects with Last-Event-ID. The limit of open streams per instance is
workers x threads (default 2 x 64 = 128): raise GUNICORN_THREADS for more; the
threads mostly wait on Redis pub/sub, so hundreds per worker are cheap.
With the in-process Redis of development, keep one worker.
"""

import os
import tempfile

#: Prometheus metrics of every worker, added up at /metrics (prometheus-client's multiprocess
#: mode): a fresh folder per server unless the operator names one (then empty it at each start).
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="postpay-metrics-"))

PORT = os.environ.get("PORT", "8000")
bind = "%s:%s" % (os.environ.get("HOST", "127.0.0.1"), PORT)
worker_class = "gthread"
workers = int(os.environ.get("GUNICORN_WORKERS", "2" if os.environ.get("REDIS_URL") else "1"))
threads = int(os.environ.get("GUNICORN_THREADS", "64"))
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
