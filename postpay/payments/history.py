"""What was paid (issue 18): the payments this account made, newest first, each with its bills
and refunds; the paid bills of the patients it may view; one bill's payments and refunds.
Columns, not ORM objects, in a fixed number of queries whatever the page size."""

from collections import defaultdict

from postpay import authz, cursors
from postpay.accounts.models import Patient
from postpay.api import iso
from postpay.billing.models import Bill, BillStatus
from postpay.extensions import db
from postpay.hospitals.models import Hospital
from postpay.insurance.models import InsuranceRefund, InsuranceSettlement
from postpay.payments.models import Payment, PaymentBill, PaymentKind, PaymentOrder, Refund
from postpay.security import mask_name

#: The payer reads a refund as processing, succeeded or failed.
REFUND_STATUS = {"requested": "processing", "processing": "processing", "succeeded": "succeeded", "failed": "failed"}
CHANNEL = {PaymentKind.cash: "wechat", PaymentKind.medins: "medins", PaymentKind.micropay: "micropay"}


def page(user, cursor, limit):
    """One page of ``user``'s payments, newest first: ``(payments as JSON, next cursor or None)``."""
    query = db.select(Payment.id, Payment.kind, Payment.status, Payment.total_fen, Payment.created_at, Payment.paid_at)
    query = query.where(Payment.payer_user_id == user.id)
    if cursor is not None:
        query = cursors.after(query, cursor, Payment.created_at, Payment.id, newest_first=True)
    rows = db.session.execute(query.order_by(Payment.created_at.desc(), Payment.id.desc()).limit(limit + 1)).all()
    more, rows = len(rows) > limit, rows[:limit]
    ids = [r.id for r in rows]
    bills, refunds = _bills(ids), _refunds(ids)
    payments = [
        {
            "id": r.id,
            "channel": CHANNEL[r.kind],
            "status": r.status.value,
            "total_fen": r.total_fen,
            "created_at": iso(r.created_at),
            "paid_at": iso(r.paid_at),
            "bills": bills[r.id],
            "refunds": refunds[r.id],
        }
        for r in rows
    ]
    last = rows[-1] if more else None
    next_cursor = None if last is None else cursors.of(last.created_at, last.id)
    return payments, next_cursor


def _bills(payment_ids):
    found = defaultdict(list)
    rows = db.session.execute(
        db.select(PaymentBill.payment_id, Bill.id, Patient.id, Patient.name, Hospital.id, Hospital.name)
        .add_columns(PaymentBill.amount_fen)
        .join(Bill, Bill.id == PaymentBill.bill_id)
        .join(Patient, Patient.id == Bill.patient_id)
        .join(Hospital, Hospital.id == Bill.hospital_id)
        .where(PaymentBill.payment_id.in_(payment_ids))
        .order_by(Bill.id)
    ).all()
    for payment_id, bill_id, patient_id, name, hospital_id, hospital, amount in rows:
        found[payment_id].append(
            {
                "id": bill_id,
                "patient": {"id": patient_id, "name": mask_name(name)},
                "hospital": {"id": hospital_id, "name": hospital},
                "amount_fen": amount,
            }
        )
    return found


def _refunds(payment_ids=None, bill_id=None):
    """WeChat refunds (through the payments' orders) and insurance refunds (6203), by payment id:
    of ``payment_ids``, or of the one bill ``bill_id``."""
    found = defaultdict(list)
    cash = (
        db.select(PaymentOrder.payment_id, Refund.id, Refund.amount_fen, Refund.status, Refund.reason)
        .add_columns(Refund.created_at, Refund.settled_at)
        .join(PaymentOrder, PaymentOrder.id == Refund.order_id)
    )
    insured = (
        db.select(InsuranceSettlement.payment_id, InsuranceRefund.id, InsuranceRefund.amount_fen)
        .add_columns(InsuranceRefund.status, InsuranceRefund.reason, InsuranceRefund.created_at)
        .add_columns(InsuranceRefund.settled_at)
        .join(InsuranceSettlement, InsuranceSettlement.id == InsuranceRefund.settlement_id)
    )
    if bill_id is None:
        cash = cash.where(PaymentOrder.payment_id.in_(payment_ids))
        insured = insured.where(InsuranceSettlement.payment_id.in_(payment_ids))
    else:
        cash, insured = cash.where(Refund.bill_id == bill_id), insured.where(InsuranceRefund.bill_id == bill_id)
    cash, insured = db.session.execute(cash).all(), db.session.execute(insured).all()
    for payment_id, refund_id, amount, status, reason, created, settled in sorted(
        cash + insured, key=lambda r: (r[5], r[1])
    ):
        found[payment_id].append(
            {
                "id": refund_id,
                "amount_fen": amount,
                "status": REFUND_STATUS[status.value],
                "reason": reason,
                "created_at": iso(created),
                "succeeded_at": iso(settled) if status.value == "succeeded" else None,
            }
        )
    return found


def of_bill(bill_id):
    """A bill's payments (paid or refunded, oldest first: ``{"id", "channel", "status", "amount_fen",
    "paid_at"}``, the bill's share) and its refunds; three queries."""
    rows = db.session.execute(
        db.select(Payment.id, Payment.kind, Payment.status, PaymentBill.amount_fen, Payment.paid_at)
        .join(PaymentBill, PaymentBill.payment_id == Payment.id)
        .where(PaymentBill.bill_id == bill_id, Payment.paid_at.isnot(None))
        .order_by(Payment.paid_at)
    ).all()
    payments = [
        {"id": r.id, "channel": CHANNEL[r.kind], "status": r.status.value, "amount_fen": r.amount_fen}
        | {"paid_at": iso(r.paid_at)}
        for r in rows
    ]
    refunds = [refund for found in _refunds(bill_id=bill_id).values() for refund in found]
    return payments, sorted(refunds, key=lambda r: (r["created_at"], r["id"]))


def paid_bills(user, patient_id, cursor, limit):
    """One page of paid bills, newest paid first, of ``patient_id`` or of every patient ``user``
    may view: ``(bills as JSON, next cursor or None)``. Raises NotFound, Forbidden, Invalid."""
    if patient_id is not None:
        patient_ids = [authz.patient_for(user, patient_id, "view").id]
    else:
        patient_ids = [p for p, (_, granted) in authz.relationships(user).items() if "view" in granted]
    query = (
        db.select(Bill.id, Bill.patient_id, Patient.name, Hospital.id.label("hospital_id"), Hospital.name)
        .add_columns(Bill.visit_day, Bill.total_fen, Bill.paid_at)
        .join(Patient, Patient.id == Bill.patient_id)
        .join(Hospital, Hospital.id == Bill.hospital_id)
        .where(Bill.patient_id.in_(patient_ids), Bill.status == BillStatus.paid)
    )
    if cursor is not None:
        query = cursors.after(query, cursor, Bill.paid_at, Bill.id, newest_first=True)
    rows = db.session.execute(query.order_by(Bill.paid_at.desc(), Bill.id.desc()).limit(limit + 1)).all()
    more, rows = len(rows) > limit, rows[:limit]
    bills = [
        {
            "id": r[0],
            "patient": {"id": r[1], "name": mask_name(r[2])},
            "hospital": {"id": r[3], "name": r[4]},
            "visit_day": r[5].isoformat(),
            "amount_fen": r[6],
            "paid_at": iso(r[7]),
        }
        for r in rows
    ]
    return bills, (cursors.of(rows[-1][7], rows[-1][0]) if more else None)
