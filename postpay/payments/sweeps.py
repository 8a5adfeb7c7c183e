"""Lost and expired orders: close what expired, ask WeChat about what never got a notification."""

import datetime as dt
import logging

import requests

from postpay import clients, pushes
from postpay.extensions import db
from postpay.payments.models import Payment, PaymentBill, PaymentStatus
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
            .where(Payment.status == PaymentStatus.pending, Payment.kind == "cash", Payment.expires_at < now)
            .limit(batch)
        )
        .scalars()
        .all()
    )
    closed = 0
    for payment_id in due:
        payment = db.session.get(Payment, payment_id, with_for_update=True)
        if payment.status != PaymentStatus.pending:
            continue
        try:
            _close_at_wechat(payment)
        except PayError as e:
            if e.code == "ORDER_PAID":
                refresh(payment)
                db.session.commit()
                continue
            if e.code != "ORDER_NOT_EXIST":
                log.error("closing %s failed: %s", payment.out_trade_no, e)
                db.session.rollback()
                continue
        except requests.RequestException as e:
            log.error("closing %s failed: %s", payment.out_trade_no, e)
            db.session.rollback()
            continue
        payment.transition(PaymentStatus.closed)
        payment.closed_at = now
        db.session.execute(db.update(PaymentBill).where(PaymentBill.payment_id == payment.id).values(live=False))
        db.session.commit()
        pushes.flush()
        closed += 1
    return closed


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
                Payment.kind == "cash",  # medical-insurance settlements poll on their own (insurance.settle)
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
