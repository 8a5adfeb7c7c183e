"""Lost and expired orders: close what expired, ask WeChat about what never got a notification."""

import datetime as dt
import logging

import requests

from postpay import authz, clients, pushes
from postpay.accounts.models import User
from postpay.errors import Forbidden, NotFound
from postpay.extensions import db
from postpay.payments.models import Payment, PaymentBill, PaymentKind, PaymentStatus
from postpay.payments.service import refresh
from wechat.pay import PayError

log = logging.getLogger(__name__)

#: A notification normally arrives within seconds; after this, ask WeChat.
QUERY_AFTER = dt.timedelta(minutes=3)


def close_expired(now, batch=200):
    """Close pending payments past time_expire (a combine order with all its sub-orders) and free
    their bills. An order WeChat reports paid is applied instead. Returns how many were closed."""
    due = (
        db.session.execute(
            db.select(Payment.id)
            .where(Payment.status == PaymentStatus.pending, Payment.kind == PaymentKind.cash, Payment.expires_at < now)
            .limit(batch)
        )
        .scalars()
        .all()
    )
    closed = 0
    for payment_id in due:
        payment = db.session.get(Payment, payment_id, with_for_update=True)
        if payment.status == PaymentStatus.pending:
            closed += close(payment, now)
    return closed


def close_unauthorised(payer_user_id, now):
    """Close the payer's pending cash payments that name a patient the payer may no longer pay
    for (a binding revoked, R15), so that the bills are free for the patient or another payer.

    A payment covering bills of several patients (one combine order) is closed whole when the
    payer lost ``pay`` for any one of them: the other patients' bills are freed too, and the
    payer pays those anew. authz decides, at the time this runs: a binding consented again
    since keeps its payments. Commits per payment; returns how many were closed.
    """
    payer = db.session.get(User, payer_user_id)
    pending = (
        db.session.execute(
            db.select(Payment.id).where(
                Payment.payer_user_id == payer_user_id,
                Payment.status == PaymentStatus.pending,
                Payment.kind == PaymentKind.cash,  # settlements: insurance.service.close_unauthorised
            )
        )
        .scalars()
        .all()
    )
    closed = 0
    for payment_id in pending:
        payment = db.session.get(Payment, payment_id, with_for_update=True)
        if payment.status != PaymentStatus.pending or _may_pay(payer, payment):
            db.session.rollback()
            continue
        closed += close(payment, now)
        log.info("payment %s closed: its payer may no longer pay for it", payment_id)
    return closed


def _may_pay(payer, payment):
    if payer is None:
        return False
    try:
        authz.require_all(payer, {share.bill.patient_id for share in payment.bills}, "pay")
    except (NotFound, Forbidden):
        return False
    return True


def close(payment, now):
    """Close a pending payment (locked by the caller) at WeChat and free its bills; commits.

    Safe to repeat: WeChat closes a closed order again, and one it never got needs no closing.
    An order WeChat reports paid is applied as paid instead (never lose money). Returns True
    when the payment was closed; a failure is logged, rolled back and left to the next sweep.
    """
    try:
        _close_at_wechat(payment)
    except PayError as e:
        if e.code in ("ORDERPAID", "ORDER_PAID"):  # WeChat's close answers ORDERPAID
            refresh(payment)
            db.session.commit()
            return False
        if e.code != "ORDER_NOT_EXIST":
            log.error("closing %s failed: %s", payment.out_trade_no, e)
            db.session.rollback()
            return False
    except requests.RequestException as e:
        log.error("closing %s failed: %s", payment.out_trade_no, e)
        db.session.rollback()
        return False
    payment.transition(PaymentStatus.closed)
    payment.closed_at = now
    db.session.execute(db.update(PaymentBill).where(PaymentBill.payment_id == payment.id).values(live=False))
    db.session.commit()
    pushes.flush()
    return True


def _close_at_wechat(payment):
    client = clients.wechat_pay()
    if payment.prepay_id is None:
        return  # never placed at WeChat
    if payment.combined:
        client.combine_close(
            payment.out_trade_no, [{"mchid": o.mchid, "out_trade_no": o.out_trade_no} for o in payment.orders]
        )
    else:
        client.close(payment.out_trade_no, payment.orders[0].mchid)


def query_pending(now, batch=200):
    """Pending payments with no notification after a few minutes: apply what WeChat says. Returns how many paid."""
    stale = (
        db.session.execute(
            db.select(Payment.id)
            .where(
                Payment.status == PaymentStatus.pending,
                Payment.kind == PaymentKind.cash,  # medical-insurance settlements poll on their own (insurance.settle)
                Payment.created_at < now - QUERY_AFTER,
                Payment.prepay_id.isnot(None),
            )
            .limit(batch)
        )
        .scalars()
        .all()
    )
    paid = 0
    for payment_id in stale:
        payment = refresh(db.session.get(Payment, payment_id))
        db.session.commit()
        pushes.flush()
        paid += payment.status == PaymentStatus.paid
    return paid
