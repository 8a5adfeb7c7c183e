"""What the code counts for /metrics (postpay.metrics). Cluster-wide counters: every process,
web or job worker, adds to one Redis hash, so a count does not depend on which process did
the work. Per-instance gauges: prometheus-client's, added up over gunicorn's workers."""

import logging

from prometheus_client import Gauge

from postpay.extensions import redis

log = logging.getLogger(__name__)
STREAMS = Gauge("postpay_open_streams", "Open live-accompany streams (per instance)", multiprocess_mode="livesum")

#: Redis hash of the cluster-wide counters: field "name|label=value" -> count.
COUNTERS = "metrics:counters"
#: name -> (help, label names) of the cluster-wide counters.
COUNTED = {
    "notifications": ("WeChat Pay notifications and query answers by outcome (cluster-wide)", ("outcome",)),
    "reminders_sent": ("Arrears reminders sent, by stage and channel (cluster-wide)", ("stage", "channel")),
}


def count(name, **labels):
    """Add one to a cluster-wide counter; a Redis failure costs the count, never the caller's work."""
    field = "|".join([name] + ["%s=%s" % (k, labels[k]) for k in COUNTED[name][1]])
    try:
        redis.hincrby(COUNTERS, field, 1)
    except Exception:  # noqa: BLE001  (metrics never break money or messages)
        log.warning("metric %s not counted", field)
