"""Money anomalies for people to look at: an amount, merchant or appid that does not match, money
after a close, a second transaction for one order. Every channel raises them here."""

import json
import logging

from postpay.extensions import redis

log = logging.getLogger("postpay.payments.notify")  # the logger name operators already watch

#: The Redis list that keeps every alert, newest first.
ALERTS = "alerts:payments"


def alert(kind, **facts):
    """A money anomaly: logged at ERROR (``PAYMENT ALERT ...``) and kept in Redis."""
    log.error("PAYMENT ALERT %s %s", kind, facts)
    redis.lpush(ALERTS, json.dumps({"kind": kind, **facts}, ensure_ascii=False, default=str))
