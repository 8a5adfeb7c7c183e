"""The outstanding list (R11), the mini-program's busiest read: a payer opens it for
every relative at once. It reads columns, not ORM objects, in a fixed number of
queries (the account's bindings, the bills with their patients and hospitals, the
bills' visits with their items) and builds the answer straight from the rows."""

import datetime as dt
from collections import defaultdict

from postpay import authz
from postpay.accounts.models import Patient
from postpay.api import iso
from postpay.billing import privacy
from postpay.billing.models import UNPAID, Bill, Item
from postpay.extensions import db
from postpay.hospitals.models import Hospital
from postpay.security import mask_id_number
from postpay.visits.models import Visit

BILL_COLUMNS = (
    Bill.id,
    Bill.patient_id,
    Patient.name,
    Patient.id_number,
    Bill.hospital_id,
    Hospital.code,
    Hospital.name,
    Bill.visit_day,
    Bill.total_fen,
    Bill.due_at,
    Bill.status,
    Bill.hold_reason,
    Bill.hold_since,
    Bill.created_at,
)
ITEM_COLUMNS = (
    Visit.bill_id,
    Visit.id,
    Item.id,
    Item.his_item_no,
    Item.name,
    Item.category,
    Item.quantity_milli,
    Item.unit_price_fen,
    Item.amount_fen,
    Item.deferred,
    Item.pay_now_reason,
    Item.voided_at,
    Item.void_reason,
    Item.sensitive,
)
FAR = dt.datetime.max.replace(tzinfo=dt.timezone.utc)
#: Built once: composing a statement costs more than running it here.
BILLS = (
    db.select(*BILL_COLUMNS)
    .join(Patient, Patient.id == Bill.patient_id)
    .join(Hospital, Hospital.id == Bill.hospital_id)
    .where(Bill.patient_id.in_(db.bindparam("patients", expanding=True)), Bill.status.in_(UNPAID))
)
ITEMS = (
    db.select(*ITEM_COLUMNS)
    .outerjoin(Item, Item.visit_id == Visit.id)
    .where(Visit.bill_id.in_(db.bindparam("bills", expanding=True)))
    .order_by(Visit.registered_at, Visit.id, Item.created_at, Item.id)
)
#: The items of bills with no visit (a registration fee, R15): asked only when such a bill is listed.
BARE_ITEMS = (
    db.select(Item.bill_id, db.null(), *ITEM_COLUMNS[2:])
    .where(Item.bill_id.in_(db.bindparam("bills", expanding=True)), Item.visit_id.is_(None))
    .order_by(Item.created_at, Item.id)
)


def outstanding(user, now):
    """Unpaid post-pay bills of the account's own patient and of relatives it may pay, overdue
    first, as JSON-ready dicts (the shape of ``GET /api/v1/bills/{id}``). Raises nothing."""
    found, reveal = authz.bound(user)
    payable = {pid: rel for pid, (rel, perms) in found.items() if "pay" in perms}
    if not payable:
        return []
    bills = db.session.execute(BILLS, {"patients": list(payable)}).all()
    if not bills:
        return []
    visits, items = defaultdict(list), defaultdict(list)
    patient_of = {b[0]: b[1] for b in bills}
    rows = db.session.execute(ITEMS, {"bills": [b[0] for b in bills]}).all()
    bare = [b[0] for b in bills if b[0] not in {row[0] for row in rows}]
    if bare:
        rows += db.session.execute(BARE_ITEMS, {"bills": bare}).all()
    for bill_id, visit_id, *item in rows:
        if visit_id is not None and visit_id not in visits[bill_id]:
            visits[bill_id].append(visit_id)
        if item[0] is not None:
            items[bill_id].append(_item(item, patient_of[bill_id] in reveal))
    masked = {}
    answer = []
    for b in sorted(bills, key=lambda b: (_due(b) >= now, _due(b), b[13])):
        bill_id, patient_id = b[0], b[1]
        if patient_id not in masked:
            masked[patient_id] = mask_id_number(b[3])
        answer.append(
            {
                "id": bill_id,
                "patient": {
                    "id": patient_id,
                    "name": b[2],
                    "id_number": masked[patient_id],
                    "relationship": payable[patient_id],
                },
                "hospital_id": b[4],
                "hospital": {"code": b[5], "name": b[6]},
                "visit_id": visits[bill_id][0] if visits[bill_id] else None,
                "visit_ids": visits[bill_id],
                "visit_day": b[7].isoformat(),
                "amount_fen": b[8],
                "due_at": iso(b[9]),
                "overdue": bool(b[9] and b[9] < now),
                "status": b[10].value,
                "hold": {"reason": b[11], "since": iso(b[12])} if b[11] else None,
                "items": items[bill_id],
            }
        )
    return answer


def _due(row):
    return row[9] or FAR


def _item(i, reveal):
    item_id, his_item_no, name, category, quantity_milli, unit_price_fen, amount_fen, deferred = i[:8]
    pay_now_reason, voided_at, void_reason, sensitive = i[8:]
    data = {
        "id": item_id,
        "his_item_no": his_item_no,
        "name": name,
        "category": category,
        "quantity": quantity_milli / 1000,
        "unit_price_fen": unit_price_fen,
        "amount_fen": amount_fen,
        "deferred": deferred,
        "pay_now_reason": pay_now_reason,
        "status": "voided" if voided_at else "active",
        "void_reason": void_reason,
        "dispute": None,
    }
    return privacy.shown(data, sensitive, reveal)
