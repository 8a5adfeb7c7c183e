"""Bills for the mini-program: the outstanding list (R11), one bill, disputes (R12)."""

import datetime as dt

from flask import Blueprint, g, jsonify, request

from postpay import authz, examples
from postpay.api import INT, NULLABLE_STR, RELATIONSHIP, STR, iso, loose, obj, route
from postpay.billing import disputes, receipts, service
from postpay.billing.outstanding import outstanding as outstanding_list
from postpay.errors import Invalid
from postpay.payments import history
from postpay.payments.views import REFUND, page_limit
from postpay.security import mask_id_number
from postpay.visits.views import ITEM, item_json

bp = Blueprint("billing", __name__, url_prefix="/api/v1/bills")

BILL = loose(
    id=STR,
    patient=loose(id=STR, name=STR, id_number=STR, relationship=RELATIONSHIP),  # id_number masked
    hospital_id=STR,
    visit_id={"type": ["string", "null"]},
    amount_fen=INT,
    due_at={"type": ["string", "null"]},
    status=STR,
    items={"type": "array", "items": ITEM},
)


def bill_json(bill, relationship, now, disputes_by_item=None, reveal=True):
    disputes_by_item = disputes_by_item or {}
    return {
        "id": bill.id,
        "patient": {
            "id": bill.patient.id,
            "name": bill.patient.name,
            "id_number": mask_id_number(bill.patient.id_number),
            "relationship": relationship,
        },
        "hospital_id": bill.hospital_id,
        "hospital": {"code": bill.hospital.code, "name": bill.hospital.name},
        "visit_id": bill.visits[0].id if bill.visits else None,
        "visit_ids": [v.id for v in bill.visits],
        "visit_day": bill.visit_day.isoformat(),
        "amount_fen": bill.total_fen,
        "due_at": iso(bill.due_at),
        "overdue": bool(bill.due_at and bill.due_at < now),
        "status": bill.status.value,
        "hold": {"reason": bill.hold_reason, "since": iso(bill.hold_since)} if bill.hold_reason else None,
        "items": [
            item_json(i, reveal) | {"dispute": _dispute_shown(disputes_by_item.get(i.id), i, reveal)}
            for i in bill.all_items
        ],
    }


@route(
    bp,
    "/outstanding",
    ["GET"],
    "Unpaid bills of the account and of relatives it may pay, overdue first",
    examples=examples.OUTSTANDING,
    answers={200: loose(bills={"type": "array", "items": BILL})},
    read_only=True,
)
def outstanding():
    return jsonify({"bills": outstanding_list(g.user, dt.datetime.now(dt.timezone.utc))})


PAID_BILL = loose(
    id=STR,
    patient=loose(id=STR, name=STR),
    hospital=loose(id=STR, name=STR),
    visit_day=STR,
    amount_fen=INT,
    paid_at=NULLABLE_STR,
)


@route(
    bp,
    "",
    ["GET"],
    "Paid bills of the account's patient and of relatives it may view, newest paid first",
    query={
        "status": {"type": "string", "enum": ["paid"]},
        "patient_id": STR,
        "cursor": STR,
        "limit": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
    },
    answers={200: loose(bills={"type": "array", "items": PAID_BILL}, next_cursor=NULLABLE_STR)},
    read_only=True,
    errors={403: ("PERMISSION_DENIED",), 422: ("BAD_CURSOR",)},
)
def list_bills():
    if request.args.get("status", "paid") != "paid":
        raise Invalid("status 目前只支持 paid", code="VALIDATION_ERROR")
    args = request.args
    bills, next_cursor = history.paid_bills(g.user, args.get("patient_id"), args.get("cursor"), page_limit())
    return jsonify({"bills": bills, "next_cursor": next_cursor})


BILL_PAYMENT = loose(
    id=STR,
    channel={"type": "string", "enum": ["wechat", "medins", "micropay"]},
    status=STR,
    amount_fen=INT,
    paid_at=NULLABLE_STR,
)


@route(
    bp,
    "/<bill_id>",
    ["GET"],
    "One bill with its items and their disputes, its payments, refunds and receipt",
    examples=examples.SHOW_BILL,
    answers={
        200: loose(
            bill=BILL
            | {
                "properties": BILL["properties"]
                | {
                    "payments": {"type": "array", "items": BILL_PAYMENT},
                    "refunds": {"type": "array", "items": REFUND},
                    "receipt": receipts.RECEIPT | {"type": ["object", "null"]},
                }
            }
        )
    },
    errors={403: ("PERMISSION_DENIED",)},
)
def show(bill_id):
    bill = service.bill_for(g.user, bill_id, "view")
    now = dt.datetime.now(dt.timezone.utc)
    found = {d.item_id: dispute_json(d) for d in disputes.for_bill(bill.id)}
    relationship, reveal = "self", True
    if bill.patient_id != g.user.patient_id:  # the binding's word (issue 20), not "relative"
        bound, revealed = authz.bound(g.user)
        relationship, reveal = bound[bill.patient_id][0], bill.patient_id in revealed
    payments, refunds = history.of_bill(bill.id)
    shown = bill_json(bill, relationship, now, found, reveal) | {
        "payments": payments,
        "refunds": refunds,
        "receipt": receipts.of_bill(bill.id),
    }
    return jsonify({"bill": shown})


def _dispute_shown(dispute, item, reveal):
    """R19: the reasons written about a sensitive item (the patient's, the window's) may name it."""
    if dispute is None or reveal or not item.sensitive:
        return dispute
    return dispute | {"reason": None, "decision_reason": None}


def dispute_json(dispute):
    return {
        "id": dispute.id,
        "item_id": dispute.item_id,
        "status": dispute.status.value,
        "reason": dispute.reason,
        "decision_reason": dispute.decision_reason,
    }


@route(
    bp,
    "/<bill_id>/disputes",
    ["POST"],
    "Flag items given up during the visit for the window to confirm (R12)",
    body=obj(
        ["item_ids", "reason"],
        item_ids={"type": "array", "minItems": 1, "maxItems": 50, "items": {"type": "string", "maxLength": 64}},
        reason={"type": "string", "minLength": 1, "maxLength": 200},
    ),
    answers={201: loose(disputes={"type": "array", "items": loose(id=STR, item_id=STR, status=STR)})},
    errors={403: ("PERMISSION_DENIED",), 409: ("ALREADY_DISPUTED", "BILL_SETTLED"), 422: ("UNKNOWN_ITEM",)},
)
def dispute(bill_id):
    bill = service.bill_for(g.user, bill_id, "pay")
    raised = disputes.raise_disputes(g.user, bill, g.body["item_ids"], g.body["reason"])
    return jsonify({"disputes": [dispute_json(d) for d in raised]}), 201
