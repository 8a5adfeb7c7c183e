"""The WeChat channel's refunds: a voided item's refund through the bill's order, sent to
``/v3/refund/domestic/refunds``, then settled by its REFUND notification."""

import logging

import requests
from flask import current_app

from postpay import clients, pushes, queue
from postpay.clock import utcnow
from postpay.extensions import db
from postpay.payments import ledger, merchant
from postpay.payments.alerts import alert
from postpay.payments.models import (
    PaymentOrder,
    Refund,
    RefundStatus,
)
from wechat.pay import PayError

log = logging.getLogger(__name__)

REFUND_JOB = "postpay.payments.channels.wechat.refund_job"
REFUND_MESSAGE_JOB = "postpay.visits.messages.send_refund_messages"


def refund_item(bill, item, reason, share):
    """A voided item of a bill this channel paid: its amount refunded through the bill's order."""
    owed = Refund(bill_id=bill.id, item_id=item.id, amount_fen=item.amount_fen, reason=reason, order_id=share.order_id)
    db.session.add(owed)
    db.session.flush()
    pushes.after_commit(queue.enqueue, REFUND_JOB, owed.id)
    return owed


def refund(refund_id):
    """Ask WeChat for the refund. Safe to run twice: the same out_refund_no is one refund."""
    owed = db.session.get(Refund, refund_id, with_for_update=True)
    if owed is None or owed.status not in (RefundStatus.requested, RefundStatus.processing) or owed.order_id is None:
        return
    order = db.session.get(PaymentOrder, owed.order_id)
    body = {
        "out_trade_no": order.out_trade_no,
        "out_refund_no": owed.out_refund_no,
        "reason": owed.reason.encode()[:80].decode("utf-8", "ignore"),  # WeChat counts 80 bytes
        "notify_url": current_app.config["WECHATPAY_NOTIFY_URL"],
        "amount": {"refund": owed.amount_fen, "total": order.amount_fen, "currency": "CNY"},
    }
    try:
        answer = clients.wechat_pay().refund(body, merchant.sub_mchid(order.mchid))
    except (PayError, requests.RequestException) as e:
        log.error("refund %s not accepted: %s", owed.id, e)
        raise
    owed.refund_id = answer.get("refund_id")
    if owed.status == RefundStatus.requested:  # sent again while processing: the same refund
        owed.transition(RefundStatus.processing)
    db.session.flush()


def refund_job(refund_id):
    """The job: carry a requested refund to WeChat Pay."""
    refund(refund_id)
    db.session.commit()


def apply_refund(resource):
    """REFUND.SUCCESS books the refund; ABNORMAL or CLOSED marks it failed for people to handle."""
    owed = db.session.execute(
        db.select(Refund).where(Refund.out_refund_no == resource.get("out_refund_no")).with_for_update()
    ).scalar_one_or_none()
    if owed is None or owed.status in (RefundStatus.succeeded, RefundStatus.failed):
        return
    if resource.get("refund_status") == "SUCCESS":
        owed.transition(RefundStatus.succeeded)
        owed.settled_at = utcnow()
        reference = resource.get("refund_id") or owed.id
        ledger.book_refund(owed.bill_id, "wechat", owed.amount_fen, reference, owed.id, owed.settled_at)
    else:
        owed.transition(RefundStatus.failed)
        alert("REFUND_FAILED", refund=owed.id, status=resource.get("refund_status"))
    db.session.flush()
    pushes.after_commit(queue.enqueue, REFUND_MESSAGE_JOB, owed.id)  # the payer is told either way
