"""The one transition that marks a bill paid, and the money book behind it."""

import logging

from postpay.accounts.models import utcnow
from postpay.billing.models import BillStatus
from postpay.credit.service import repair_if_clear
from postpay.extensions import db
from postpay.insurance.models import InsuranceRefund
from postpay.payments.models import LedgerEntry, Refund

log = logging.getLogger(__name__)


def balance(bill_id):
    """Money kept for a bill: paid minus refunds owed or made, WeChat and insurance (failed ones excluded)."""
    paid = db.session.execute(
        db.select(db.func.coalesce(db.func.sum(LedgerEntry.amount_fen), 0)).where(
            LedgerEntry.bill_id == bill_id, LedgerEntry.kind == "paid"
        )
    ).scalar_one()
    owed = db.session.execute(
        db.select(db.func.coalesce(db.func.sum(Refund.amount_fen), 0)).where(
            Refund.bill_id == bill_id, Refund.status != "failed"
        )
    ).scalar_one()
    insurance = db.session.execute(
        db.select(db.func.coalesce(db.func.sum(InsuranceRefund.amount_fen), 0)).where(
            InsuranceRefund.bill_id == bill_id, InsuranceRefund.status != "failed"
        )
    ).scalar_one()
    return int(paid) - int(owed) - int(insurance)


def mark_paid(bill, amount_fen, channel, reference, payment_id=None, order_id=None, at=None, first=False):
    """Book ``amount_fen`` for ``bill`` and mark it paid (once). Whatever was paid beyond the
    bill's total, by a second payment or after a void, is refunded through ``order_id``.

    Returns the Refund owed, if any. A repeated (kind, reference) books nothing twice.
    """
    if not first:  # unless the caller already ruled out a second booking of this reference
        exists = db.session.execute(
            db.select(LedgerEntry.id).where(
                LedgerEntry.kind == "paid", LedgerEntry.reference == reference, LedgerEntry.bill_id == bill.id
            )
        ).first()
        if exists:
            return None
    was_due = bill.status == BillStatus.due
    db.session.add(
        LedgerEntry(
            bill_id=bill.id,
            kind="paid",
            channel=channel,
            amount_fen=amount_fen,
            reference=reference,
            payment_id=payment_id,
        )
    )
    if bill.status == BillStatus.due:
        bill.transition(BillStatus.paid)
        bill.paid_at = at or utcnow()
        if bill.in_arrears or bill.due_at < utcnow():
            repair_if_clear(bill.patient_id, utcnow())  # R18: paying every overdue bill lifts the suspension
    if was_due and amount_fen == bill.total_fen:
        return None  # the plain case: exactly the bill, once
    db.session.flush()
    excess = balance(bill.id) - bill.total_fen
    if excess > 0 and order_id is not None:
        refund = Refund(bill_id=bill.id, order_id=order_id, amount_fen=excess, reason="重复支付或金额调整，自动退款")
        db.session.add(refund)
        db.session.flush()
        log.warning("bill %s overpaid by %s fen: refund %s", bill.id, excess, refund.id)
        return refund
    return None
