"""The HIS's settlement feed (``GET /his/v1/settlements``): every payment of a hospital's bills and
every refund that went through, by the hospital's entry number, in three queries a page.

The ledger writes the entries with the money they tell of; numbers of one hospital commit in order
(``payments.ledger.announce``), so reading on from the last number seen never skips or repeats one.
"""

import re
from collections import defaultdict

from postpay.api import iso
from postpay.billing.models import Bill
from postpay.errors import Invalid
from postpay.extensions import db
from postpay.payments.feed_models import SettlementEntry
from postpay.visits.models import Visit

CURSOR = re.compile(r"[0-9]{1,18}")


def page(hospital, cursor, limit):
    """Entries after ``cursor`` (the last number read), oldest first: ``(entries as JSON, next cursor)``.
    The next cursor is the last number on the page, or ``cursor`` itself when nothing is new.

    Raises Invalid (BAD_CURSOR)."""
    if cursor is not None and not CURSOR.fullmatch(cursor):
        raise Invalid("cursor 无效", code="BAD_CURSOR")
    rows = db.session.execute(
        db.select(SettlementEntry, Bill.paid_at)
        .join(Bill, Bill.id == SettlementEntry.bill_id)
        .where(SettlementEntry.hospital_id == hospital.id, SettlementEntry.seq > int(cursor or 0))
        .order_by(SettlementEntry.seq)
        .limit(limit)
    ).all()
    if not rows:
        return [], cursor
    bill_ids, last = {e.bill_id for e, _ in rows}, rows[-1][0].seq
    visits = defaultdict(list)
    for bill_id, no in db.session.execute(
        db.select(Visit.bill_id, Visit.his_visit_no).where(Visit.bill_id.in_(bill_ids)).order_by(Visit.his_visit_no)
    ):
        visits[bill_id].append(no)
    refunds = defaultdict(list)
    for refund in db.session.execute(
        db.select(SettlementEntry)
        .where(
            SettlementEntry.hospital_id == hospital.id,
            SettlementEntry.bill_id.in_(bill_ids),
            SettlementEntry.kind == "refund",
            SettlementEntry.seq <= last,
        )
        .order_by(SettlementEntry.seq)
    ).scalars():
        refunds[refund.bill_id].append(refund)
    entries = [
        entry_json(e, paid_at, visits[e.bill_id], [refund_json(r) for r in refunds[e.bill_id] if r.seq <= e.seq])
        for e, paid_at in rows
    ]
    return entries, str(last)


def _amounts(entry):
    return {
        "amount_fen": entry.cash_fen + entry.fund_fen + entry.account_fen,
        "cash_fen": entry.cash_fen,
        "fund_fen": entry.fund_fen,
        "account_fen": entry.account_fen,
    }


def refund_json(entry):
    return (
        {"seq": entry.seq, "refund_id": entry.refund_id, "channel": entry.channel}
        | _amounts(entry)
        | {
            "transaction_ids": entry.transaction_ids,
            "refunded_at": iso(entry.at),
        }
    )


def entry_json(entry, bill_paid_at, his_visit_nos, refunds):
    """A paid entry: what this payment brought for the bill. A refund entry: what this refund gave back
    (``refund_id``). Either way ``refunds``: the bill's refunds so far, this one included."""
    paid = entry.kind == "paid"
    return {
        "seq": entry.seq,
        "type": entry.kind,
        "bill_id": entry.bill_id,
        "his_visit_nos": his_visit_nos,
        "channel": entry.channel,
        "payment_id": entry.payment_id,
        "refund_id": entry.refund_id,
        "amounts": _amounts(entry),
        "transaction_ids": entry.transaction_ids,
        "paid_at": iso(entry.at if paid else bill_paid_at),
        "refunded_at": None if paid else iso(entry.at),
        "refunds": refunds,
    }
