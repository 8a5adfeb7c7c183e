"""The HIS API (``/his/v1``): signed server-to-server calls from each hospital."""

from flask import Blueprint, g, jsonify, request

from postpay.api import BOOL, INT, NULLABLE_STR, STR, authenticator, iso, loose, obj, parse_time, route
from postpay.billing import receipts
from postpay.billing.models import CATEGORIES
from postpay.booking import service as booking
from postpay.errors import Invalid
from postpay.his import settlements
from postpay.his.service import voided_since
from postpay.his.signing import signed_caller
from postpay.hospitals.models import Hospital
from postpay.visits import service
from postpay.visits.models import EVENT_TYPES

bp = Blueprint("his", __name__, url_prefix="/his/v1")

NO = {"type": "string", "minLength": 1, "maxLength": 64, "pattern": "^[A-Za-z0-9._:-]+$"}
TIME = {"type": "string", "minLength": 10, "maxLength": 40}
FEN = {"type": "integer", "minimum": 0, "maximum": 100_000_000}
EXCLUSION = {"type": "string", "maxLength": 32}
ITEM_IN = obj(
    ["his_item_no", "category", "name", "quantity", "unit_price_fen", "amount_fen"],
    his_item_no=NO,
    category={"type": "string", "enum": list(CATEGORIES)},
    name={"type": "string", "minLength": 1, "maxLength": 128},
    quantity={"type": "number", "exclusiveMinimum": 0, "maximum": 10000},
    unit_price_fen=FEN,
    amount_fen=FEN,
    exclusion=EXCLUSION,
    paid=BOOL,
    sensitive=BOOL,
)
VISIT_OUT = loose(
    visit_id=STR,
    his_visit_no=STR,
    postpay=BOOL,
    reasons={"type": "array", "items": loose(code=STR, message=STR)},
    bill_id=NULLABLE_STR,
)
ITEM_OUT = loose(his_item_no=STR, item_id=STR, deferred=BOOL, pay_now_reason={"type": ["string", "null"]})


@authenticator("his", "hospital")
def signed_hospital():
    return signed_caller(Hospital, "X-Hospital-Id", "his", "his_secret")


def visit_json(visit):
    """What the HIS reads of a visit (its registration's answer, and GET)."""
    return {
        "visit_id": visit.id,
        "his_visit_no": visit.his_visit_no,
        "postpay": visit.postpay,
        "reasons": visit.reasons,
        "bill_id": visit.bill_id,
    }


def item_json(item):
    return {
        "his_item_no": item.his_item_no,
        "item_id": item.id,
        "deferred": item.deferred,
        "pay_now_reason": item.pay_now_reason,
        "voided": item.voided_at is not None,
    }


@route(
    bp,
    "/visits",
    ["POST"],
    "Register a visit: is it post-pay (R9)?",
    auth="his",
    body=obj(
        ["his_visit_no", "patient", "department", "doctor", "registered_at"],
        his_visit_no=NO,
        patient=obj(
            ["name", "id_number"],
            name={"type": "string", "minLength": 1, "maxLength": 64},
            id_number={"type": "string", "minLength": 18, "maxLength": 18},
        ),
        department={"type": "string", "minLength": 1, "maxLength": 64},
        doctor={"type": "string", "minLength": 1, "maxLength": 64},
        registered_at=TIME,
        exclusion=EXCLUSION,
        appointment_id={"type": "string", "minLength": 1, "maxLength": 64},
    ),
    answers={200: VISIT_OUT},
    errors={
        409: ("APPOINTMENT_LINKED", "APPOINTMENT_PATIENT_MISMATCH", "APPOINTMENT_STATE", "VISIT_CONFLICT"),
        422: ("INVALID_ID_NUMBER", "INVALID_TIME", "UNKNOWN_APPOINTMENT", "UNKNOWN_EXCLUSION"),
    },
)
def register():
    data = dict(g.body, registered_at=parse_time(g.body["registered_at"]))
    visit = service.register_visit(g.hospital, data)
    if data.get("appointment_id"):  # R15: the visit of a booked appointment
        booking.link_visit(g.hospital, visit, data["appointment_id"])
    return jsonify(visit_json(visit))


@route(
    bp,
    "/visits/<his_visit_no>",
    ["GET"],
    "A visit as it stands: post-pay or not (R9; R6 auto jump after signing that day)",
    auth="his",
    answers={200: VISIT_OUT},
    errors={404: ("VISIT_NOT_FOUND",)},
)
def visit(his_visit_no):
    found = service.his_visit(g.hospital, his_visit_no)
    return jsonify(visit_json(found))


@route(
    bp,
    "/visits/<his_visit_no>/items",
    ["POST"],
    "Report charges; each answer says deferred or pay now",
    auth="his",
    body=obj(["items"], items={"type": "array", "minItems": 1, "maxItems": 200, "items": ITEM_IN}),
    answers={200: loose(items={"type": "array", "items": ITEM_OUT})},
    errors={
        404: ("VISIT_NOT_FOUND",),
        409: ("ITEM_CONFLICT",),
        422: ("AMOUNT_MISMATCH", "INVALID_QUANTITY", "UNKNOWN_EXCLUSION"),
    },
)
def items(his_visit_no):
    found = service.add_items(g.hospital, his_visit_no, g.body["items"])
    return jsonify({"items": [item_json(i) for i in found]})


@route(
    bp,
    "/visits/<his_visit_no>/events",
    ["POST"],
    "Report a visit event (any order; ordered by at)",
    auth="his",
    body=obj(
        ["type", "at"],
        type={"type": "string", "enum": list(EVENT_TYPES)},
        at=TIME,
        detail={"type": "object", "maxProperties": 20, "additionalProperties": True},  # free-form, shown as sent
    ),
    answers={200: loose(event_id=STR, seq=INT)},
    errors={404: ("VISIT_NOT_FOUND",), 422: ("INVALID_TIME",)},
)
def events(his_visit_no):
    b = g.body
    event, _ = service.add_event(g.hospital, his_visit_no, b["type"], parse_time(b["at"]), b.get("detail"))
    return jsonify({"event_id": event.id, "seq": event.seq, "type": event.type, "at": iso(event.at)})


@route(
    bp,
    "/visits/<his_visit_no>/items/<his_item_no>/void",
    ["POST"],
    "Void an item (R12)",
    auth="his",
    body=obj(["reason"], reason={"type": "string", "minLength": 1, "maxLength": 200}),
    answers={200: loose(item=ITEM_OUT)},
    errors={404: ("ITEM_NOT_FOUND", "VISIT_NOT_FOUND")},
)
def void(his_visit_no, his_item_no):
    item = service.void(g.hospital, his_visit_no, his_item_no, g.body["reason"])
    return jsonify({"item": item_json(item)})


VOID_OUT = loose(
    his_visit_no=STR, his_item_no=STR, item_id=STR, amount_fen=INT, reason=NULLABLE_STR, voided_at=STR, paid=BOOL
)


@route(
    bp,
    "/voids",
    ["GET"],
    "Items voided on our side since a cursor (R12: confirmed at the window), oldest first",
    auth="his",
    query={"cursor": STR, "limit": INT},
    answers={200: loose(voids={"type": "array", "items": VOID_OUT}, next_cursor=NULLABLE_STR, cursor=NULLABLE_STR)},
    errors={422: ("BAD_CURSOR",)},
)
def voids():
    rows, cursor = voided_since(g.hospital, request.args.get("cursor"), _limit(200))
    return jsonify(
        {
            "voids": [
                {
                    "his_visit_no": visit.his_visit_no,
                    "his_item_no": item.his_item_no,
                    "item_id": item.id,
                    "amount_fen": item.amount_fen,
                    "reason": item.void_reason,
                    "voided_at": iso(item.voided_at),
                    "paid": paid,
                }
                for item, visit, paid in rows
            ],
            # ``next_cursor`` as every other feed and list says; ``cursor`` kept for HIS already reading it.
            "next_cursor": cursor,
            "cursor": cursor,
        }
    )


def _limit(default, most=500):
    """A feed's ``limit``: ``default`` when not given, at most ``most``."""
    try:
        return max(1, min(int(request.args.get("limit", default)), most))
    except ValueError:
        raise Invalid("limit 应为整数", code="VALIDATION_ERROR") from None


SETTLEMENT_REFUND = loose(seq=INT, refund_id=STR, channel=STR, amount_fen=INT, cash_fen=INT, fund_fen=INT)
AMOUNTS = loose(amount_fen=INT, cash_fen=INT, fund_fen=INT, account_fen=INT)
SETTLEMENT = loose(
    seq=INT,
    type={"type": "string", "enum": ["paid", "refund"]},
    bill_id=STR,
    his_visit_nos={"type": "array", "items": STR},
    channel=STR,
    payment_id=NULLABLE_STR,
    refund_id=NULLABLE_STR,
    amounts=AMOUNTS,
    transaction_ids={"type": "array", "items": STR},
    paid_at=NULLABLE_STR,
    refunded_at=NULLABLE_STR,
    refunds={"type": "array", "items": SETTLEMENT_REFUND},
)


@route(
    bp,
    "/settlements",
    ["GET"],
    "Every payment and succeeded refund of this hospital's bills after a cursor, in order (issue 18)",
    auth="his",
    query={"cursor": STR, "limit": INT},
    answers={200: loose(entries={"type": "array", "items": SETTLEMENT}, next_cursor=NULLABLE_STR)},
    errors={422: ("BAD_CURSOR",)},
)
def settlement_feed():
    entries, cursor = settlements.page(g.hospital, request.args.get("cursor"), _limit(100))
    return jsonify({"entries": entries, "next_cursor": cursor})


RECEIPT_IN = obj(
    ["receipt_no", "url", "issued_at", "amount_fen"],
    receipt_no={"type": "string", "minLength": 1, "maxLength": 32, "pattern": "^[A-Za-z0-9._:-]+$"},
    url={"type": "string", "maxLength": 512, "pattern": "^https://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[!-~]*)?$"},
    issued_at=TIME,
    amount_fen=FEN,
)


@route(
    bp,
    "/bills/<bill_id>/receipt",
    ["POST"],
    "The fiscal e-receipt (医疗收费电子票据) issued for a paid bill; the same receipt again changes nothing",
    auth="his",
    body=RECEIPT_IN,
    answers={200: loose(bill_id=STR, receipt=receipts.RECEIPT)},
    errors={409: ("BILL_NOT_PAID", "RECEIPT_AMOUNT_MISMATCH", "RECEIPT_EXISTS"), 422: ("INVALID_TIME",)},
)
def receipt(bill_id):
    b = g.body
    found = receipts.record(g.hospital, bill_id, b["receipt_no"], b["url"], parse_time(b["issued_at"]), b["amount_fen"])
    return jsonify({"bill_id": bill_id, "receipt": receipts.receipt_json(found)})
