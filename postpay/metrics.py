"""Prometheus metrics at ``GET /metrics``, for operators (not part of the mini-program API).

Two kinds, said in each metric's help:
- **per instance** (prometheus-client, multiprocess mode under gunicorn): requests by
  route, method and status with their latency, and the open live streams. Scrape every
  instance and sum.
- **cluster-wide**, read from Redis at scrape time: counters every process adds to
  (notifications applied, duplicated and refused; reminders sent; payment alerts), queue
  depth and failed jobs per RQ queue. Every instance reports the same value: use ``max``.

The endpoint needs ``Authorization: Bearer <POSTPAY_METRICS_TOKEN>``; without a token
configured it answers only requests from the loopback address (a scraper on the host).
"""

import hmac
import logging
import os
import time

from flask import Blueprint, current_app, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from rq import Queue
from rq.registry import FailedJobRegistry

from postpay import queue as jobs
from postpay.api import route
from postpay.counters import COUNTED, COUNTERS
from postpay.errors import NotFound
from postpay.extensions import redis
from postpay.payments.alerts import ALERTS

log = logging.getLogger(__name__)
bp = Blueprint("metrics", __name__)

REQUESTS = Histogram(
    "postpay_http_request_duration_seconds",
    "Requests by route, method and status, with their latency (per instance)",
    ["route", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


class ClusterCollector:
    """The Redis-held figures, read at each scrape."""

    def __init__(self, connection):
        self.redis = connection

    def collect(self):
        families = {
            name: CounterMetricFamily("postpay_%s" % name, help_, labels=list(labels))
            for name, (help_, labels) in COUNTED.items()
        }
        for field, value in sorted(self.redis.hgetall(COUNTERS).items()):
            name, *pairs = field.decode().split("|")
            if name in families:
                families[name].add_metric([p.split("=", 1)[1] for p in pairs], int(value))
        yield from families.values()
        depth = GaugeMetricFamily("postpay_queue_depth", "Jobs waiting per RQ queue (cluster-wide)", labels=["queue"])
        failed = GaugeMetricFamily(
            "postpay_queue_failed", "Failed jobs kept per RQ queue (cluster-wide)", labels=["queue"]
        )
        for name in (jobs.PUSHES, jobs.SWEEPS):
            q = Queue(name, connection=self.redis)
            depth.add_metric([name], q.count)
            failed.add_metric([name], FailedJobRegistry(queue=q).count)
        yield depth
        yield failed
        alerts = GaugeMetricFamily("postpay_payment_alerts", "Money anomalies kept for review (cluster-wide)")
        alerts.add_metric([], self.redis.llen(ALERTS))
        yield alerts


def _allowed():
    token = current_app.config.get("POSTPAY_METRICS_TOKEN") or ""
    if token:
        given = request.headers.get("Authorization", "")
        return hmac.compare_digest(given.encode(), ("Bearer " + token).encode())
    # Loopback only when no proxy forwarded the request: behind nginx on the same host every
    # request comes from 127.0.0.1 unless POSTPAY_PROXY_HOPS makes the client's address known.
    forwarded = "HTTP_X_FORWARDED_FOR" in request.environ or "HTTP_FORWARDED" in request.environ
    return request.remote_addr in ("127.0.0.1", "::1") and not forwarded


@route(
    bp,
    "/metrics",
    ["GET"],
    "Prometheus metrics for operators: a bearer POSTPAY_METRICS_TOKEN, or loopback when none is set",
    auth=None,
    answers={200: "text/plain"},
)
def metrics():
    if not _allowed():
        raise NotFound()  # nothing here for anyone else
    registry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):  # gunicorn's workers: add up every worker's files
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    body = generate_latest(registry)
    cluster = CollectorRegistry()
    cluster.register(ClusterCollector(redis._get_current_object()))
    body += generate_latest(cluster)
    return current_app.response_class(body, mimetype=CONTENT_TYPE_LATEST.split(";")[0])


def observe(response, elapsed):
    """One request into the per-instance histogram (called by postpay.lifecycle)."""
    rule = request.url_rule.rule if request.url_rule is not None else "unmatched"
    REQUESTS.labels(rule, request.method, str(response.status_code)).observe(elapsed)


def init_app(app):
    @app.after_request
    def _observe(response):
        started = g.get("started")
        if started is not None:
            observe(response, time.perf_counter() - started)
        return response
