"""Refunds through WeChat Pay (``/v3/refund/domestic/refunds``): requested, processing,
then succeeded or failed by the refund notification. Each has its own out_refund_no."""

import logging

import requests
from flask import current_app

from postpay import clients, pushes, queue
from postpay.clock import utcnow
from postpay.extensions import db
from postpay.insurance.refunds import request_for_item as insurance_parts
from postpay.payments.alerts import alert
from postpay.payments.models import LedgerEntry, PaymentBill, PaymentKind, PaymentOrder, Refund, RefundStatus
from wechat.pay import PayError

log = logging.getLogger(__name__)


def request_for_item(bill, item, reason):
    """A voided item of a paid bill (R12): refund its amount through the order that paid the bill."""
    share = db.session.execute(
        db.select(PaymentBill).where(PaymentBill.bill_id == bill.id, PaymentBill.live.is_(True))
    ).scalar_one_or_none()
    if share is not None and share.payment.kind == PaymentKind.medins:  # each part through its own channel
        return insurance_parts(bill, item, reason, share)[1]
    refund = Refund(
        bill_id=bill.id,
        item_id=item.id,
        amount_fen=item.amount_fen,
        reason=reason,
        order_id=share.order_id if share else None,
    )
    db.session.add(refund)
    db.session.flush()
    if share is not None:
        pushes.after_commit(queue.enqueue, "postpay.payments.refunds.send_job", refund.id)
    return refund


def send(refund_id):
    """Ask WeChat for the refund (a job). Safe to run twice: the same out_refund_no is one refund."""
    refund = db.session.get(Refund, refund_id, with_for_update=True)
    if (
        refund is None
        or refund.status not in (RefundStatus.requested, RefundStatus.processing)
        or refund.order_id is None
    ):
        return
    order = db.session.get(PaymentOrder, refund.order_id)
    body = {
        "out_trade_no": order.out_trade_no,
        "out_refund_no": refund.out_refund_no,
        "reason": refund.reason[:80],
        "notify_url": current_app.config["WECHATPAY_NOTIFY_URL"],
        "amount": {"refund": refund.amount_fen, "total": order.amount_fen, "currency": "CNY"},
    }
    try:
        answer = clients.wechat_pay().refund(body)
    except (PayError, requests.RequestException) as e:
        log.error("refund %s not accepted: %s", refund.id, e)
        raise
    refund.refund_id = answer.get("refund_id")
    if refund.status == RefundStatus.requested:  # sent again while processing: the same refund
        refund.transition(RefundStatus.processing)
    db.session.flush()


def send_job(refund_id):
    """The job: carry a requested refund to WeChat Pay."""
    send(refund_id)
    db.session.commit()


def apply_notification(resource):
    """REFUND.SUCCESS books the refund; ABNORMAL or CLOSED marks it failed for people to handle."""
    refund = db.session.execute(
        db.select(Refund).where(Refund.out_refund_no == resource.get("out_refund_no")).with_for_update()
    ).scalar_one_or_none()
    if refund is None or refund.status in (RefundStatus.succeeded, RefundStatus.failed):
        return
    if resource.get("refund_status") == "SUCCESS":
        refund.transition(RefundStatus.succeeded)
        refund.settled_at = utcnow()
        db.session.add(
            LedgerEntry(
                bill_id=refund.bill_id,
                kind="refund",
                channel="wechat",
                amount_fen=-refund.amount_fen,
                reference=resource.get("refund_id") or refund.id,
            )
        )
    else:
        refund.transition(RefundStatus.failed)
        alert("REFUND_FAILED", refund=refund.id, status=resource.get("refund_status"))
    db.session.flush()
