"""The one transition that marks a bill paid, and the money book behind it; with every booking, the
entry the HIS reads in its settlement feed (``GET /his/v1/settlements``), in the same transaction."""

import logging

from sqlalchemy.dialects import postgresql, sqlite

from postpay.billing.models import Bill, BillStatus, pay_due
from postpay.clock import utcnow
from postpay.credit.service import repair_if_clear
from postpay.extensions import db
from postpay.insurance.models import InsuranceRefund, InsuranceRefundStatus
from postpay.payments.feed_models import SettlementCounter, SettlementEntry
from postpay.payments.models import (
    LedgerEntry,
    PaymentBill,
    Refund,
    RefundStatus,
)

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


def book_refund(bill_id, channel, amount_fen, reference, refund_id, at, fund_fen=0, account_fen=0):
    """A refund that went through: a negative ledger row, and its entry in the HIS's feed (the
    insurance part split as 6203 gave it back: ``fund_fen`` and ``account_fen``)."""
    db.session.add(
        LedgerEntry(bill_id=bill_id, kind="refund", channel=channel, amount_fen=-amount_fen, reference=reference)
    )
    hospital_id = db.session.execute(db.select(Bill.hospital_id).where(Bill.id == bill_id)).scalar_one()
    cash = amount_fen - fund_fen - account_fen
    entry = _entry(bill_id, "refund", channel, [reference], None, at, cash, fund_fen, account_fen, refund_id)
    announce(hospital_id, [entry])


def _entry(bill_id, kind, channel, references, payment_id, at, cash_fen, fund_fen=0, account_fen=0, refund_id=None):
    return dict(
        bill_id=bill_id,
        kind=kind,
        channel=channel,
        cash_fen=cash_fen,
        fund_fen=fund_fen,
        account_fen=account_fen,
        transaction_ids=references,
        payment_id=payment_id,
        refund_id=refund_id,
        at=at,
    )


def announce(hospital_id, entries):
    """Append ``entries`` to the hospital's settlement feed, numbered after its counter row. The upsert
    locks that row until the commit: another booking at this hospital waits here, then takes the
    next numbers, so numbers commit in order and a reader never passes one that commits later."""
    n, counter = len(entries), SettlementCounter.__table__
    insert = postgresql.insert if db.session.get_bind().dialect.name == "postgresql" else sqlite.insert
    last = db.session.execute(
        insert(counter)
        .values(hospital_id=hospital_id, last_seq=n)
        .on_conflict_do_update(index_elements=[counter.c.hospital_id], set_={"last_seq": counter.c.last_seq + n})
        .returning(counter.c.last_seq)
    ).scalar_one()
    rows = [dict(e, hospital_id=hospital_id, seq=last - n + k + 1) for k, e in enumerate(entries)]
    db.session.execute(SettlementEntry.__table__.insert(), rows)


def mark_paid(
    bill, amount_fen, channel, reference, payment_id=None, order_id=None, at=None, first=False, out_trade_no=None
):
    """Book ``amount_fen`` for ``bill`` and mark it paid (once), with its entry in the HIS's feed.
    Whatever was paid beyond the bill's total, by a second payment or after a void, is refunded
    through ``order_id``. ``out_trade_no``: a micropay's order number at WeChat, kept for the
    reconciliation.

    Returns the Refund owed, if any. A repeated (kind, reference) books nothing twice.
    """
    at = at or utcnow()
    booked, refund = _book_paid(bill, amount_fen, channel, reference, payment_id, order_id, at, first, out_trade_no)
    if booked:
        announce(bill.hospital_id, [_entry(bill.id, "paid", channel, [reference], payment_id, at, amount_fen)])
    return refund


def mark_settled(bill, payment_id, at, insurance, cash):
    """A bill's share of an insurance settlement: ``insurance`` = (fund, personal accounts, payOrdId)
    booked as ``medins``, ``cash`` = (amount, WeChat transaction id, cash order id) as ``wechat``;
    one feed entry for both."""
    fund, accounts, pay_ord_id = insurance
    cash_fen, cash_tx, cash_order_id = cash
    parts = [(fund + accounts, "medins", pay_ord_id, None), (cash_fen, "wechat", cash_tx, cash_order_id)]
    booked = [
        reference
        for amount, channel, reference, order_id in parts
        if amount and _book_paid(bill, amount, channel, reference, payment_id, order_id, at)[0]
    ]
    if booked:
        parts = (cash_fen if cash_tx in booked else 0, *((fund, accounts) if pay_ord_id in booked else (0, 0)))
        announce(bill.hospital_id, [_entry(bill.id, "paid", "medins", booked, payment_id, at, *parts)])


def _book_paid(bill, amount_fen, channel, reference, payment_id, order_id, at, first=False, out_trade_no=None):
    """``mark_paid`` without the feed entry: ``(booked, refund owed or None)``."""
    if not first:  # unless the caller already ruled out a second booking of this reference
        exists = db.session.execute(
            db.select(LedgerEntry.id).where(
                LedgerEntry.kind == "paid", LedgerEntry.reference == reference, LedgerEntry.bill_id == bill.id
            )
        ).first()
        if exists:
            return False, None
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
        bill.paid_at = at
        if bill.in_arrears or bill.due_at < utcnow():
            repair_if_clear(bill.patient_id, utcnow())  # R18: paying every overdue bill lifts the suspension
    if was_due and amount_fen == bill.total_fen:
        return True, None  # the plain case: exactly the bill, once
    db.session.flush()
    excess = balance(bill.id) - bill.total_fen
    if excess > 0 and order_id is not None:
        refund = Refund(bill_id=bill.id, order_id=order_id, amount_fen=excess, reason="重复支付或金额调整，自动退款")
        db.session.add(refund)
        db.session.flush()
        log.warning("bill %s overpaid by %s fen: refund %s", bill.id, excess, refund.id)
        return True, refund
    return True, None


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
        .add_columns(Bill.hospital_id)
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
        entries = [_entry(s.bill_id, "paid", channel, [reference], payment_id, at, s.amount_fen) for s in plain]
        announce(plain[0].hospital_id, entries)  # an order is one hospital's
    refunds = []
    if rest:
        for bill in db.session.execute(db.select(Bill).where(Bill.id.in_(rest))).scalars():
            refund = mark_paid(bill, rest[bill.id], channel, reference, payment_id, order_id, at, first=True)
            if refund is not None:
                refunds.append(refund.id)
    return refunds
