"""The one transition that marks a bill paid, and the money book behind it."""

import logging

from postpay.billing.models import Bill, BillStatus, pay_due
from postpay.clock import utcnow
from postpay.credit.service import repair_if_clear
from postpay.extensions import db
from postpay.insurance.models import InsuranceRefund, InsuranceRefundStatus
from postpay.payments.models import LedgerEntry, PaymentBill, Refund, RefundStatus

log = logging.getLogger(__name__)


def _sum(column, *where):
    return int(db.session.execute(db.select(db.func.coalesce(db.func.sum(column), 0)).where(*where)).scalar_one())


def paid(bill_id, channel=None):
    """Money paid for a bill, through one channel or all."""
    where = [LedgerEntry.bill_id == bill_id, LedgerEntry.kind == "paid"]
    return _sum(LedgerEntry.amount_fen, *where, *([LedgerEntry.channel == channel] if channel else []))


def owed_wechat(bill_id):
    """Refunds through WeChat Pay owed or made for a bill (failed ones excluded)."""
    return _sum(Refund.amount_fen, Refund.bill_id == bill_id, Refund.status != RefundStatus.failed)


def owed_medins(bill_id):
    """Refunds through the insurance platform (6203) owed or made for a bill (failed ones excluded)."""
    return _sum(
        InsuranceRefund.amount_fen,
        InsuranceRefund.bill_id == bill_id,
        InsuranceRefund.status != InsuranceRefundStatus.failed,
    )


def balance(bill_id):
    """Money kept for a bill: paid minus refunds owed or made, WeChat and insurance (failed ones excluded)."""
    return paid(bill_id) - owed_wechat(bill_id) - owed_medins(bill_id)


def book_refund(bill_id, channel, amount_fen, reference):
    """A refund that went through: a negative ledger row."""
    db.session.add(
        LedgerEntry(bill_id=bill_id, kind="refund", channel=channel, amount_fen=-amount_fen, reference=reference)
    )


def mark_paid(
    bill, amount_fen, channel, reference, payment_id=None, order_id=None, at=None, first=False, out_trade_no=None
):
    """Book ``amount_fen`` for ``bill`` and mark it paid (once). Whatever was paid beyond the
    bill's total, by a second payment or after a void, is refunded through ``order_id``.
    ``out_trade_no``: a micropay's order number at WeChat, kept for the reconciliation.

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
            out_trade_no=out_trade_no,
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


def book_order(order_id, channel, reference, payment_id, at):
    """Book every bill share of a paid order; returns the ids of the refunds owed.

    A share that pays a due bill exactly and on time (the case of nearly every payment) is
    booked in bulk: one guarded UPDATE (``billing.models.pay_due``) moves those bills due ->
    paid, one INSERT books them.
    Every other share (a bill paid already, overdue, in arrears, or changed) goes through
    ``mark_paid``. The bills are locked first, so what is read here is what gets written.
    """
    shares = db.session.execute(
        db.select(
            PaymentBill.bill_id, PaymentBill.amount_fen, Bill.status, Bill.total_fen, Bill.in_arrears, Bill.due_at
        )
        .join(Bill, Bill.id == PaymentBill.bill_id)
        .where(PaymentBill.order_id == order_id)
        .with_for_update()
    ).all()
    now, plain, rest = utcnow(), [], {}
    for s in shares:
        if s.status == BillStatus.due and s.amount_fen == s.total_fen and not s.in_arrears and s.due_at >= now:
            plain.append(s)
        else:
            rest[s.bill_id] = s.amount_fen
    if plain:
        ids = [s.bill_id for s in plain]
        if pay_due(ids, at) != len(ids):  # changed under us (SQLite does not lock rows): fail, WeChat retries
            raise RuntimeError("bills of order %s changed while booking" % order_id)
        db.session.execute(
            LedgerEntry.__table__.insert(),
            [
                dict(
                    bill_id=s.bill_id,
                    kind="paid",
                    channel=channel,
                    amount_fen=s.amount_fen,
                    reference=reference,
                    payment_id=payment_id,
                )
                for s in plain
            ],
        )
    refunds = []
    if rest:
        for bill in db.session.execute(db.select(Bill).where(Bill.id.in_(rest))).scalars():
            refund = mark_paid(bill, rest[bill.id], channel, reference, payment_id, order_id, at, first=True)
            if refund is not None:
                refunds.append(refund.id)
    return refunds
