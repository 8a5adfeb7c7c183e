"""Day bills (R11), totals, finalising, holds (R14), voids and the outstanding list."""

import datetime as dt
import logging

from flask import current_app

from postpay import authz
from postpay.billing import privacy
from postpay.billing.models import UNPAID, Bill, BillStatus, Item
from postpay.clock import SHANGHAI, utcnow
from postpay.extensions import db
from postpay.payments.refunds import request_for_item

log = logging.getLogger(__name__)

DUE_AFTER = dt.timedelta(hours=24)  # R11
HOLD_REASON = "住院期间门诊诊后付费用暂不能使用医保结算，出院后可结算"  # R14


def has_unpaid_bills(patient_id):
    """True while any post-pay bill of the patient is unpaid (R10)."""
    query = db.select(Bill.id).where(Bill.patient_id == patient_id, Bill.status.in_(UNPAID)).limit(1)
    return db.session.execute(query).first() is not None


def open_bill_for(patient_id, hospital_id, day):
    """The day's open bill for a new post-pay visit, created (as a new part after a finalised one) if needed."""
    bills = (
        db.session.execute(
            db.select(Bill)
            .where(Bill.patient_id == patient_id, Bill.hospital_id == hospital_id, Bill.visit_day == day)
            .order_by(Bill.part.desc())
            .with_for_update()
        )
        .scalars()
        .all()
    )
    if bills and bills[0].status == BillStatus.open:
        return bills[0]
    bill = Bill(patient_id=patient_id, hospital_id=hospital_id, visit_day=day, part=(bills[0].part + 1 if bills else 1))
    db.session.add(bill)
    db.session.flush()
    return bill


def recompute_total(bill):
    """The bill's total from its deferred, unvoided items: the only source of a bill's amount."""
    total = db.session.execute(
        db.select(db.func.coalesce(db.func.sum(Item.amount_fen), 0)).where(
            Item.bill_id == bill.id, Item.deferred.is_(True), Item.voided_at.is_(None)
        )
    ).scalar_one()
    bill.total_fen = int(total)
    return bill.total_fen


def finalise(bill, at):
    """Close the visit day (R11): due 24 h later, or closed when nothing is owed."""
    if bill.status != BillStatus.open:
        return
    recompute_total(bill)
    bill.finalised_at = at
    if bill.total_fen == 0:
        bill.transition(BillStatus.closed)
    else:
        bill.transition(BillStatus.due)
        bill.due_at = at + DUE_AFTER
        bill.next_reminder_at = bill.due_at  # R17: the first reminder as soon as it is overdue
    db.session.flush()
    log.info("bill %s finalised: %s fen due %s", bill.id, bill.total_fen, bill.due_at)


def finalise_if_all_visits_finished(bill, at):
    if bill.status == BillStatus.open and all(v.finished_at is not None for v in bill.visits):
        finalise(bill, at)


def finalise_day_end(before_day, now):
    """The day-end job: finalise every open bill of a visit day before ``before_day``. Returns how many."""
    bills = db.session.execute(
        db.select(Bill).where(Bill.status == BillStatus.open, Bill.visit_day < before_day).with_for_update()
    ).scalars()
    count = 0
    for bill in bills:
        finalise(bill, now)
        count += 1
    return count


def set_hold(patient_id, held, at):
    """R14: hold (admitted) or release (discharged) the patient's unpaid post-pay bills. While held,
    a bill's clock stops (no reminder, no arrears day, R17/R18); a due bill released at discharge
    ``at`` is due 24 h later, and its reminder stages start again from then."""
    bills = db.session.execute(
        db.select(Bill).where(Bill.patient_id == patient_id, Bill.status.in_(UNPAID)).with_for_update()
    ).scalars()
    for bill in bills:
        if held and bill.hold_reason is None:
            bill.hold_reason, bill.hold_since = HOLD_REASON, at
        elif not held and bill.hold_reason is not None:
            if bill.status == BillStatus.due:
                bill.due_at = bill.next_reminder_at = at + DUE_AFTER
            bill.hold_reason, bill.hold_since = None, None
    db.session.flush()


def void_item(item, reason):
    """Take an item off its bill (R12). On a paid bill, a refund of the item is requested."""
    if item.voided_at is not None:
        return None
    item.voided_at, item.void_reason = utcnow(), reason
    bill = item.bill
    refund = None
    if bill is not None and item.deferred:
        if bill.status == BillStatus.paid:
            recompute_total(bill)
            refund = request_for_item(bill, item, privacy.refund_reason(item.sensitive, reason))  # R19
        else:
            recompute_total(bill)
            if bill.status == BillStatus.due and bill.total_fen == 0:
                bill.transition(BillStatus.closed)
    db.session.flush()
    log.info("item %s voided (%s)", item.id, "refund requested" if refund else "bill recomputed")
    return refund


def bill_for(user, bill_id, permission):
    """A bill of a patient ``user`` may ``permission`` for. Raises NotFound, Forbidden."""
    return authz.owned(user, Bill, bill_id, permission, "未找到该账单")


def day_end(now):
    """The day-end sweep: finalise the open bills of visit days that are over (R11): every earlier
    day, and today once the local day-end time (``POSTPAY_DAY_END``, 23:59 Asia/Shanghai) has come.
    Commits; returns how many bills it finalised."""
    local = now.astimezone(SHANGHAI)
    hour, minute = (int(p) for p in current_app.config["POSTPAY_DAY_END"].split(":"))
    cutoff = local.date() + dt.timedelta(days=1 if (local.hour, local.minute) >= (hour, minute) else 0)
    count = finalise_day_end(cutoff, now)
    db.session.commit()
    return count
