"""Per-request plumbing: the request id in every log line and in ``X-Request-Id``,
identity numbers and phones masked in every log line, one access-log line per request,
and the headers every answer carries (nosniff, no-store)."""

import logging
import re
import time
import uuid

from flask import g, has_request_context, request

from postpay.security import mask_text

log = logging.getLogger("postpay.access")
_INCOMING_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class RequestContextFilter(logging.Filter):
    """Adds ``request_id`` to every record and masks personal numbers in the message."""

    def filter(self, record):
        record.request_id = g.get("request_id", "-") if has_request_context() else "-"
        message = record.getMessage()
        masked = mask_text(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def configure_logging(level):
    root = logging.getLogger()
    if not any(isinstance(f, RequestContextFilter) for h in root.handlers for f in h.filters):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"))
        handler.addFilter(RequestContextFilter())
        root.addHandler(handler)
    root.setLevel(level)


def init_app(app):
    configure_logging(app.config["LOG_LEVEL"])

    @app.before_request
    def start():
        incoming = request.headers.get("X-Request-Id", "")
        g.request_id = incoming if _INCOMING_ID.match(incoming) else uuid.uuid4().hex
        g.started = time.perf_counter()

    @app.after_request
    def finish(response):
        response.headers["X-Request-Id"] = g.get("request_id", "-")
        # Answers carry personal data: no caching anywhere, no content sniffing (a route that
        # chose its own Cache-Control, as the SSE stream's no-cache, keeps it).
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Cache-Control", "no-store")
        elapsed = (time.perf_counter() - g.get("started", time.perf_counter())) * 1000
        log.info("%s %s %s %.1fms", request.method, request.path, response.status_code, elapsed)
        return response
