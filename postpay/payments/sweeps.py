"""The money sweeps, for every channel: close what expired, ask about what never got a
notification, and close what a payer may no longer pay for (R15). Each payment is locked,
handed to its channel (``channels.of``), and committed on its own."""

import datetime as dt

from postpay import pushes
from postpay.accounts.models import User
from postpay.extensions import db
from postpay.insurance.models import OPEN, InsuranceSettlement, SettlementStatus
from postpay.payments import channels
from postpay.payments.models import Payment, PaymentKind, PaymentStatus

#: A notification normally arrives within seconds; after this, ask WeChat.
QUERY_AFTER = dt.timedelta(minutes=3)


def _ids(query, batch):
    return db.session.execute(query.limit(batch)).scalars().all()


def close_expired(now, batch=200):
    """Close pending WeChat payments past time_expire (a combine order with all its sub-orders)
    and free their bills. An order WeChat reports paid is applied instead. Returns how many closed.
    (An expired settlement is withdrawn by ``poll_pending``, which asks the platform first.)"""
    due = db.select(Payment.id).where(
        Payment.status == PaymentStatus.pending, Payment.kind == PaymentKind.cash, Payment.expires_at < now
    )
    closed = 0
    for payment_id in _ids(due, batch):
        payment = db.session.get(Payment, payment_id, with_for_update=True)
        if payment.status == PaymentStatus.pending:
            closed += channels.of(payment).close(payment, now)
    return closed


def query_pending(now, batch=200):
    """Pending WeChat payments with no notification after a few minutes: apply what WeChat says.
    Returns how many paid."""
    stale = db.select(Payment.id).where(
        Payment.status == PaymentStatus.pending,
        Payment.kind == PaymentKind.cash,
        Payment.created_at < now - QUERY_AFTER,
        Payment.prepay_id.isnot(None) | Payment.code_url.isnot(None),
    )
    return _query_each(_ids(stale, batch), now)


def poll_pending(now, batch=200):
    """Unsettled settlements, oldest first, that are ordered (WeChat stops notifying after ~30 s:
    ask the platform, 6301, then WeChat) or past their time (withdrawn). Returns how many paid."""
    open_ = (
        db.select(InsuranceSettlement.payment_id)
        .join(Payment, Payment.id == InsuranceSettlement.payment_id)
        .where(
            InsuranceSettlement.status.in_(OPEN),
            (InsuranceSettlement.status == SettlementStatus.ordered) | (Payment.expires_at < now),
        )
        .order_by(InsuranceSettlement.created_at)
    )
    return _query_each(_ids(open_, batch), now)


def _query_each(payment_ids, now):
    paid = 0
    for payment_id in payment_ids:
        payment = db.session.get(Payment, payment_id)
        payment = channels.of(payment).query(payment, now)
        db.session.commit()
        pushes.flush()
        paid += payment.status == PaymentStatus.paid
    return paid


def close_unauthorised(payer_user_id, now):
    """Close the payer's pending payments and open settlements that name a patient the payer may
    no longer pay for, or a 共济 account whose holder's grant is gone (a binding revoked, R15), so
    that the bills are free for the patient or another payer. authz decides, at the time this
    runs: a binding consented again since keeps its payments. A payment covering bills of several
    patients is closed whole. Commits per payment; returns how many were closed.
    """
    payer = db.session.get(User, payer_user_id)
    pending = db.select(Payment.id).where(
        Payment.payer_user_id == payer_user_id, Payment.status == PaymentStatus.pending
    )
    closed = 0
    for payment_id in db.session.execute(pending.order_by(Payment.created_at)).scalars().all():
        payment = db.session.get(Payment, payment_id, with_for_update=True)
        channel = channels.of(payment)
        if payment.status != PaymentStatus.pending or (payer is not None and channel.may_go_on(payer, payment)):
            db.session.rollback()
            continue
        closed += channel.close(payment, now)
    return closed
