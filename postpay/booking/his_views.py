"""Booking on the HIS API (R15): the HIS publishes its slots and reads the appointment changes."""

import datetime as dt

from flask import Blueprint, current_app, g, jsonify, request

from postpay.api import INT, NULLABLE_STR, STR, iso, loose, obj, parse_time, route
from postpay.booking import feed, service
from postpay.errors import Invalid
from postpay.security import mask_id_number

bp = Blueprint("his_booking", __name__, url_prefix="/his/v1")

NO = {"type": "string", "minLength": 1, "maxLength": 64, "pattern": "^[A-Za-z0-9._:-]+$"}
NAME = {"type": "string", "minLength": 1, "maxLength": 64}
TIME = {"type": "string", "minLength": 10, "maxLength": 40}
SLOT_IN = obj(
    ["his_slot_id", "start", "end", "capacity", "fee_fen"],
    his_slot_id=NO,
    start=TIME,
    end=TIME,
    capacity={"type": "integer", "minimum": 0, "maximum": 10000},
    fee_fen={"type": "integer", "minimum": 1, "maximum": 10_000_000},
)
CHANGE = loose(
    appointment_id=STR,
    kind={"type": "string", "enum": ["booked", "paid", "cancelled"]},
    reason=NULLABLE_STR,
    at=STR,
    his_slot_id=STR,
    patient=loose(name=STR, id_number=STR),  # the identity number masked
    status=STR,
    fee_fen=INT,
)


@route(
    bp,
    "/schedules",
    ["POST"],
    "Publish or republish a doctor's slots of a day (R15); capacity never below the places taken",
    auth="his",
    body=obj(
        ["department", "doctor", "date", "slots"],
        department=NAME,
        doctor=NAME,
        date={"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"},
        slots={"type": "array", "minItems": 1, "maxItems": 200, "items": SLOT_IN},
    ),
    answers={200: loose(slots={"type": "array", "items": loose(his_slot_id=STR, capacity=INT, free=INT)})},
    errors={
        409: ("CAPACITY_BELOW_TAKEN", "SLOT_IN_USE"),
        422: ("DUPLICATE_SLOT", "INVALID_DATE", "INVALID_TIME", "SLOT_TIME"),
    },
)
def publish():
    b = g.body
    try:
        day = dt.date.fromisoformat(b["date"])
    except ValueError:
        raise Invalid("date 应为 YYYY-MM-DD", code="INVALID_DATE") from None
    slots = [s | {"start": parse_time(s["start"]), "end": parse_time(s["end"])} for s in b["slots"]]
    found = service.publish(g.hospital, b["department"], b["doctor"], day, slots)
    return jsonify(
        {
            "slots": [
                {"his_slot_id": s.his_slot_id, "capacity": s.capacity, "taken": s.taken, "free": s.capacity - s.taken}
                for s in found
            ]
        }
    )


@route(
    bp,
    "/appointments",
    ["GET"],
    "Appointment changes (booked, paid, cancelled) since a cursor, oldest first, settled ones only (R15)",
    auth="his",
    query={"cursor": STR, "limit": INT},
    answers={200: loose(changes={"type": "array", "items": CHANGE}, next_cursor=NULLABLE_STR)},
    read_only=True,
    errors={422: ("BAD_CURSOR",)},
)
def changes():
    try:
        limit = max(1, min(int(request.args.get("limit", 200)), 500))
    except ValueError:
        raise Invalid("limit 应为整数", code="VALIDATION_ERROR") from None
    until = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=current_app.config["POSTPAY_FEED_LAG_SECONDS"])
    rows, cursor = feed.changes_since(g.hospital, request.args.get("cursor"), limit, until)
    return jsonify(
        {
            "changes": [
                {
                    "id": change.id,
                    "appointment_id": appointment.id,
                    "kind": change.kind,
                    "reason": change.reason,
                    "at": iso(change.at),
                    "his_slot_id": slot.his_slot_id,
                    "department": slot.department,
                    "doctor": slot.doctor,
                    "start": iso(slot.start_at),
                    "patient": {"name": patient.name, "id_number": mask_id_number(patient.id_number)},
                    "status": appointment.status.value,
                    "fee_fen": appointment.fee_fen,
                    "visit_id": appointment.visit_id,
                }
                for change, appointment, slot, patient in rows
            ],
            "next_cursor": cursor,
        }
    )
