"""A patient's credit as people see it (R18, issue 19): normal or suspended, the open
malicious-arrears records with the bills that caused them, and past records with their
repair times. Read as columns in two queries however many records and bills there are."""

from collections import defaultdict

from postpay.api import iso
from postpay.billing.models import Bill
from postpay.credit.models import CreditRecord
from postpay.extensions import db
from postpay.hospitals.models import Hospital

#: Built once: the records of one patient, oldest first.
RECORDS = (
    db.select(CreditRecord.id, CreditRecord.kind, CreditRecord.bill_ids, CreditRecord.created_at)
    .add_columns(CreditRecord.repaired_at)
    .where(CreditRecord.patient_id == db.bindparam("patient_id"))
    .order_by(CreditRecord.created_at, CreditRecord.id)
)
BILLS = (
    db.select(Bill.id, Hospital.code, Hospital.name, Bill.visit_day, Bill.total_fen, Bill.status, Bill.due_at)
    .add_columns(Bill.paid_at)
    .join(Hospital, Hospital.id == Bill.hospital_id)
    .where(Bill.id.in_(db.bindparam("bills", expanding=True)))
)


def bill_rows(bill_ids):
    """``{bill id: bill as shown in a record}``: hospital, visit day, amount, status, due and paid
    times. No items: a record names the bills; each bill's items are at ``GET /api/v1/bills/{id}``
    (which keeps R19). One query."""
    if not bill_ids:
        return {}
    found = {}
    for bill_id, code, name, visit_day, total, status, due_at, paid_at in db.session.execute(
        BILLS, {"bills": sorted(bill_ids)}
    ):
        found[bill_id] = {
            "id": bill_id,
            "hospital": {"code": code, "name": name},
            "visit_day": visit_day.isoformat(),
            "amount_fen": total,
            "status": status.value,
            "due_at": iso(due_at),
            "paid_at": iso(paid_at),
        }
    return found


def standing(patient_id):
    """``{"status", "open_records", "past_records"}`` of one patient: open records oldest first,
    past (repaired) records newest first, each with its bills. Two queries. Raises nothing."""
    records = db.session.execute(RECORDS, {"patient_id": patient_id}).all()
    bills = bill_rows({b for r in records for b in r.bill_ids})
    by_state = defaultdict(list)
    for r in records:
        by_state[r.repaired_at is None].append(
            {
                "id": r.id,
                "kind": r.kind,
                "created_at": iso(r.created_at),
                "repaired_at": iso(r.repaired_at),
                "amount_fen": sum(bills[b]["amount_fen"] for b in r.bill_ids if b in bills),
                "bills": [bills[b] for b in r.bill_ids if b in bills],
            }
        )
    return {
        "status": "suspended" if by_state[True] else "normal",
        "open_records": by_state[True],
        "past_records": by_state[False][::-1],
    }
