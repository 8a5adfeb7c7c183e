"""Per-request plumbing: the request id in every log line and in ``X-Request-Id``,
identity numbers and phones masked in every log line, log lines as JSON objects, one
access-log line per request (method, route, path, status, latency; the path, never the
query string, which may carry personal data),
and the headers every answer carries (nosniff, no-store)."""

import logging
import re
import time
import uuid

from flask import g, has_request_context, request
from pythonjsonlogger.json import JsonFormatter

from postpay.security import mask_text

log = logging.getLogger("postpay.access")
_INCOMING_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class MaskingFilter(logging.Filter):
    """Masks identity numbers and phones in a record: its message, its exception's text and
    its stack. On the handler, so every record it writes passes here, whoever logged it."""

    def filter(self, record):
        try:
            message = record.getMessage()
        except Exception:  # a bad format: the handler reports it when it emits
            return True
        masked = mask_text(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = _PLAIN.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_text(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_text(record.stack_info)
        return True


class RequestContextFilter(MaskingFilter):
    """Adds ``request_id`` to every record and masks personal numbers in it."""

    def filter(self, record):
        record.request_id = g.get("request_id", "-") if has_request_context() else "-"
        return super().filter(record)


class MaskingFormatter(JsonFormatter):
    """One JSON object per line (time, level, logger, request_id, message, and a record's extra
    fields: the access line's method, route, path, status and latency_ms); the last net: the
    whole line, masked."""

    def __init__(self):
        super().__init__(FORMAT, rename_fields=RENAMED, json_ensure_ascii=False, timestamp=False)

    def format(self, record):
        return mask_text(super().format(record))


_PLAIN = logging.Formatter()
FORMAT = "%(asctime)s %(levelname)s %(name)s %(request_id)s %(message)s"
RENAMED = {"asctime": "time", "levelname": "level", "name": "logger"}


def configure_logging(level):
    root = logging.getLogger()
    if not any(isinstance(f, RequestContextFilter) for h in root.handlers for f in h.filters):
        handler = logging.StreamHandler()
        handler.setFormatter(MaskingFormatter())
        handler.addFilter(RequestContextFilter())
        root.addHandler(handler)
    root.setLevel(level)


def mask_handlers(*loggers):
    """Put the masking filter on the handlers of other loggers (gunicorn's error and access logs)."""
    for logger in loggers:
        for handler in logger.handlers:
            if not any(isinstance(f, MaskingFilter) for f in handler.filters):
                handler.addFilter(MaskingFilter())


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
        rule = request.url_rule.rule if request.url_rule is not None else None  # the route, not the ids in it
        fields = {"method": request.method, "route": rule, "path": request.path, "status": response.status_code}
        log.info(
            "%s %s %s %.1fms",
            request.method,
            request.path,
            response.status_code,
            elapsed,
            extra=fields | {"latency_ms": round(elapsed, 1)},
        )
        return response
