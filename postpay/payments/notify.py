"""WeChat Pay notifications (DESIGN 7), one handler for both notify URLs: verify the signature
(and its age), decrypt, then hand the resource to its channel by event type:
``TRANSACTION.*`` and ``REFUND.*`` to the WeChat channel, ``MEDICAL_INSURANCE.*`` to the
medical-insurance channel. Each channel checks the resource against the order and applies it once."""

import logging

from postpay import clients, counters
from postpay.payments.channels import medins, wechat
from wechat.pay import NotificationError

log = logging.getLogger(__name__)


def handle(headers, body):
    """Process one delivery. Returns the HTTP status WeChat should get (it decides on the status)."""
    try:
        event, resource = clients.wechat_pay().verify_notification(headers, body)
    except NotificationError as e:
        log.warning("notification refused: %s", e)
        counters.count("notifications", outcome="refused")
        return 401
    kind = event.get("event_type", "")
    if kind.startswith("REFUND."):
        wechat.apply_refund(resource)
    elif kind == "TRANSACTION.SUCCESS":
        wechat.apply(resource)
    elif kind.startswith("MEDICAL_INSURANCE."):
        medins.apply(resource)
    else:
        log.info("notification %s ignored", kind)
    return 200
