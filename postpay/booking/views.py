"""Booking for the mini-program (R15): hospitals and their slots, appointments for oneself or a
bound relative (binding permission ``book``)."""

import datetime as dt

from flask import Blueprint, g, jsonify, request

from postpay import authz
from postpay.accounts.models import Patient
from postpay.api import BOOL, INT, NULLABLE_STR, RELATIONSHIP, STR, iso, loose, obj, route
from postpay.billing.models import Bill, BillStatus
from postpay.booking import service
from postpay.booking.models import Appointment, AppointmentStatus, Slot
from postpay.clock import today
from postpay.errors import BadRequest, Invalid
from postpay.extensions import db
from postpay.hospitals.models import Hospital
from postpay.security import mask_name

bp = Blueprint("booking", __name__)

ID = {"type": "string", "minLength": 1, "maxLength": 64}
SLOT = loose(
    his_slot_id=STR, department=STR, doctor=STR, start=STR, end=STR, capacity=INT, free=INT, fee_fen=INT, bookable=BOOL
)
APPOINTMENT = loose(
    id=STR,
    status={"type": "string", "enum": [s.value for s in AppointmentStatus]},
    patient=loose(id=STR, name=STR, relationship=RELATIONSHIP),  # the name masked for a relative
    hospital=loose(id=STR, name=STR),
    slot=SLOT,
    fee_fen=INT,
    bill_id=STR,
    hold_until=STR,
    visit_id=NULLABLE_STR,
)


def slot_json(slot, now):
    return {
        "his_slot_id": slot.his_slot_id,
        "department": slot.department,
        "doctor": slot.doctor,
        "start": iso(slot.start_at),
        "end": iso(slot.end_at),
        "capacity": slot.capacity,
        "free": slot.capacity - slot.taken,
        "fee_fen": slot.fee_fen,
        "bookable": slot.start_at > now and slot.taken < slot.capacity,
    }


def appointment_json(a, slot, hospital_name, patient_name, bill_status, relationship, now):
    """``bill_status``: a held appointment whose fee is paid reads as booked before the sweep books it."""
    status = a.status
    if status == AppointmentStatus.held and bill_status == BillStatus.paid:
        status = AppointmentStatus.booked
    return {
        "id": a.id,
        "status": status.value,
        "patient": {
            "id": a.patient_id,
            "name": patient_name if relationship == "self" else mask_name(patient_name),
            "relationship": relationship,
        },
        "hospital": {"id": a.hospital_id, "name": hospital_name},
        "slot": slot_json(slot, now),
        "fee_fen": a.fee_fen,
        "bill_id": a.bill_id,
        "hold_until": iso(a.hold_until),
        "visit_id": a.visit_id,
        "created_at": iso(a.created_at),
        "paid_at": iso(a.paid_at),
        "ended_at": iso(a.ended_at),
    }


#: One query for any number of appointments: each with its slot, hospital name, patient name, bill status.
_ROWS = (
    db.select(Appointment, Slot, Hospital.name, Patient.name, Bill.status)
    .join(Slot, Slot.id == Appointment.slot_id)
    .join(Hospital, Hospital.id == Appointment.hospital_id)
    .join(Patient, Patient.id == Appointment.patient_id)
    .join(Bill, Bill.id == Appointment.bill_id)
)


def _one(appointment_id, now):
    found = authz.relationships(g.user)
    row = db.session.execute(_ROWS.where(Appointment.id == appointment_id)).one()
    return appointment_json(*row, found[row[0].patient_id][0], now)


@route(
    bp,
    "/api/v1/hospitals",
    ["GET"],
    "The hospitals on the hub (R15: where one can book)",
    answers={200: loose(hospitals={"type": "array", "items": loose(id=STR, code=STR, name=STR)})},
    read_only=True,
)
def hospitals():
    rows = db.session.execute(db.select(Hospital.id, Hospital.code, Hospital.name).order_by(Hospital.code)).all()
    return jsonify({"hospitals": [{"id": r.id, "code": r.code, "name": r.name} for r in rows]})


@route(
    bp,
    "/api/v1/hospitals/<hospital_id>/schedules",
    ["GET"],
    "A hospital's slots on a day, with the places still free (R15)",
    query={"date": STR},
    answers={200: loose(hospital=loose(id=STR, code=STR, name=STR), date=STR, slots={"type": "array", "items": SLOT})},
    read_only=True,
    errors={404: ("HOSPITAL_NOT_FOUND",), 422: ("INVALID_DATE",)},
)
def schedules(hospital_id):
    text = request.args.get("date")
    try:
        day = dt.date.fromisoformat(text) if text else today()
    except ValueError:
        raise Invalid("date 应为 YYYY-MM-DD", code="INVALID_DATE") from None
    hospital = service.hospital(hospital_id)
    now = dt.datetime.now(dt.timezone.utc)
    return jsonify(
        {
            "hospital": {"id": hospital.id, "code": hospital.code, "name": hospital.name},
            "date": day.isoformat(),
            "slots": [slot_json(s, now) for s in service.slots_on(hospital.id, day)],
        }
    )


@route(
    bp,
    "/api/v1/appointments",
    ["POST"],
    "Hold a place for oneself or a relative bound with book (R15); the fee bill is payable at once",
    body=obj(["patient_id", "hospital_id", "his_slot_id"], patient_id=ID, hospital_id=ID, his_slot_id=ID),
    answers={201: loose(appointment=APPOINTMENT)},
    errors={
        400: ("IDEMPOTENCY_KEY_REQUIRED",),
        403: ("PERMISSION_DENIED",),
        404: ("SLOT_NOT_FOUND",),
        409: ("ALREADY_BOOKED", "BUSY", "IDEMPOTENCY_KEY_REUSED", "SLOT_FULL", "SLOT_STARTED"),
    },
)
def create():
    key = request.headers.get("Idempotency-Key", "")
    if not 8 <= len(key) <= 128:
        raise BadRequest("请求头Idempotency-Key必填（8-128个字符）", code="IDEMPOTENCY_KEY_REQUIRED")
    b, now = g.body, dt.datetime.now(dt.timezone.utc)
    appointment = service.book(g.user, b["patient_id"], b["hospital_id"], b["his_slot_id"], key, now)
    db.session.flush()
    return jsonify({"appointment": _one(appointment.id, now)}), 201


@route(
    bp,
    "/api/v1/appointments",
    ["GET"],
    "The appointments of the account's own patient and of relatives it may view or book for",
    answers={200: loose(appointments={"type": "array", "items": APPOINTMENT})},
    read_only=True,
)
def list_appointments():
    found, now = authz.relationships(g.user), dt.datetime.now(dt.timezone.utc)
    ids = [pid for pid, (_, granted) in found.items() if granted & {"view", "book"}]
    rows = db.session.execute(
        _ROWS.where(Appointment.patient_id.in_(ids)).order_by(Slot.start_at.desc(), Appointment.id).limit(200)
    ).all()
    return jsonify({"appointments": [appointment_json(*row, found[row[0].patient_id][0], now) for row in rows]})


@route(
    bp,
    "/api/v1/appointments/<appointment_id>",
    ["GET"],
    "One appointment (R15)",
    answers={200: loose(appointment=APPOINTMENT)},
    read_only=True,
    errors={403: ("PERMISSION_DENIED",)},
)
def show(appointment_id):
    service.appointment_for(g.user, appointment_id, "see")
    return jsonify({"appointment": _one(appointment_id, dt.datetime.now(dt.timezone.utc))})


@route(
    bp,
    "/api/v1/appointments/<appointment_id>",
    ["DELETE"],
    "Cancel before the slot starts; a paid fee is refunded (R15)",
    answers={
        200: loose(
            appointment=APPOINTMENT, refund={"anyOf": [loose(id=STR, amount_fen=INT, status=STR), {"type": "null"}]}
        )
    },
    errors={403: ("PERMISSION_DENIED",), 409: ("APPOINTMENT_STATE", "PAYMENT_PENDING", "SLOT_STARTED")},
)
def cancel(appointment_id):
    now = dt.datetime.now(dt.timezone.utc)
    refund = service.cancel(g.user, appointment_id, now)
    db.session.flush()
    owed = None if refund is None else {"id": refund.id, "amount_fen": refund.amount_fen, "status": refund.status.value}
    return jsonify({"appointment": _one(appointment_id, now), "refund": owed})
