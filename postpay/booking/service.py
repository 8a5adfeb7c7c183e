"""Booking (R15): the HIS publishes slots; the patient, or a relative bound with ``book``, holds a
place; the registration fee (挂号费) is a bill paid like any other; an unpaid place goes back after
15 minutes (``jobs.py``); a cancelled paid booking is refunded through the item-void refund path.
"""

import datetime as dt
import logging

from sqlalchemy.exc import IntegrityError

from postpay import authz, pushes, queue
from postpay.accounts.models import Patient
from postpay.billing import service as billing
from postpay.billing.models import Bill, BillStatus, Item
from postpay.booking.models import (
    LIVE,
    REGISTRATION,
    REGISTRATION_NAME,
    Appointment,
    AppointmentChange,
    AppointmentStatus,
    Slot,
)
from postpay.clock import local_date
from postpay.errors import Conflict, Forbidden, Invalid, NotFound
from postpay.extensions import db
from postpay.hospitals.models import Hospital
from postpay.payments.models import PaymentBill

log = logging.getLogger(__name__)

HOLD = dt.timedelta(minutes=15)
MISSING = "未找到该预约"
ALREADY = "该就诊人已预约此号源"
#: What a slot's published fields are, beside its places.
FIXED = ("department", "doctor", "day", "start_at", "end_at")


def publish(hospital, department, doctor, day, slots):
    """Create or update the hospital's slots (idempotent on ``his_slot_id``). A slot with places taken
    keeps its time, department and doctor; its capacity may not go below the places taken; a new fee
    applies to bookings made from now on. Raises Invalid (SLOT_TIME), Conflict (CAPACITY_BELOW_TAKEN,
    SLOT_IN_USE)."""
    ids = [s["his_slot_id"] for s in slots]
    if len(set(ids)) != len(ids):
        raise Invalid("his_slot_id 重复", code="DUPLICATE_SLOT")
    existing = {
        s.his_slot_id: s
        for s in db.session.execute(
            db.select(Slot).where(Slot.hospital_id == hospital.id, Slot.his_slot_id.in_(ids)).with_for_update()
        ).scalars()
    }
    answers = []
    for data in slots:
        start, end = data["start"], data["end"]
        if end <= start or local_date(start) != day:
            raise Invalid("号源%s的时间须在%s当天且结束晚于开始" % (data["his_slot_id"], day), code="SLOT_TIME")
        fields = {"department": department, "doctor": doctor, "day": day, "start_at": start, "end_at": end}
        slot = existing.get(data["his_slot_id"])
        if slot is None:
            slot = Slot(hospital_id=hospital.id, his_slot_id=data["his_slot_id"], **fields)
            db.session.add(slot)
        elif slot.taken and any(getattr(slot, k) != v for k, v in fields.items()):
            raise Conflict("号源%s已有预约，不能改动时间或医生" % slot.his_slot_id, code="SLOT_IN_USE")
        elif data["capacity"] < slot.taken:
            raise Conflict(
                "号源%s已预约%d人，容量不能改为%d" % (slot.his_slot_id, slot.taken, data["capacity"]),
                code="CAPACITY_BELOW_TAKEN",
            )
        for key, value in fields.items():
            setattr(slot, key, value)
        slot.capacity, slot.fee_fen = data["capacity"], data["fee_fen"]
        answers.append(slot)
    db.session.flush()
    return answers


def hospital(hospital_id):
    """Raises NotFound (HOSPITAL_NOT_FOUND)."""
    found = db.session.get(Hospital, hospital_id)
    if found is None:
        raise NotFound("未找到该医院", code="HOSPITAL_NOT_FOUND")
    return found


def slots_on(hospital_id, day):
    """The hospital's slots on a local day, in time order: one query."""
    query = db.select(Slot).where(Slot.hospital_id == hospital_id, Slot.day == day)
    return db.session.execute(query.order_by(Slot.start_at, Slot.his_slot_id)).scalars().all()


def _change(appointment, kind, reason=None, at=None):
    db.session.add(
        AppointmentChange(
            appointment_id=appointment.id, hospital_id=appointment.hospital_id, kind=kind, reason=reason, at=at
        )
    )


def book(user, patient_id, hospital_id, his_slot_id, key, now):
    """Hold a place for the patient (R15) and bill the registration fee, due at once. Idempotent on
    ``key`` per account. Raises NotFound (a stranger's patient, an unknown slot), Forbidden (a relative
    without ``book``), Conflict (SLOT_STARTED, SLOT_FULL, ALREADY_BOOKED)."""
    again = db.session.execute(
        db.select(Appointment).where(Appointment.booked_by_user_id == user.id, Appointment.idempotency_key == key)
    ).scalar_one_or_none()
    if again is not None:
        if (again.patient_id, again.hospital_id, again.slot.his_slot_id) != (patient_id, hospital_id, his_slot_id):
            raise Conflict("该Idempotency-Key已用于另一预约", code="IDEMPOTENCY_KEY_REUSED")
        return again
    patient = authz.patient_for(user, patient_id, "book")
    slot = db.session.execute(
        db.select(Slot).where(Slot.hospital_id == hospital_id, Slot.his_slot_id == his_slot_id)
    ).scalar_one_or_none()
    if slot is None:
        raise NotFound("未找到该号源", code="SLOT_NOT_FOUND")
    if slot.start_at <= now:
        raise Conflict("该号源已开始就诊，不能预约", code="SLOT_STARTED")
    holding = db.select(Appointment.id).where(
        Appointment.slot_id == slot.id, Appointment.patient_id == patient.id, Appointment.status.in_(LIVE)
    )
    if db.session.execute(holding).first():  # the partial unique index settles a race of the two
        raise Conflict(ALREADY, code="ALREADY_BOOKED")
    taken = db.session.execute(  # the one guard of the places: of racing bookers, one gets the last
        db.update(Slot)
        .where(Slot.id == slot.id, Slot.taken < Slot.capacity, Slot.start_at > now)
        .values(taken=Slot.taken + 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not taken:
        raise Conflict("该号源已约满", code="SLOT_FULL")
    db.session.refresh(slot)
    bill = _fee_bill(patient.id, slot, now)
    item = Item(
        bill_id=bill.id,
        his_item_no="REG-%s" % bill.id,
        category=REGISTRATION,
        name=REGISTRATION_NAME,
        quantity_milli=1000,
        unit_price_fen=slot.fee_fen,
        amount_fen=slot.fee_fen,
        deferred=True,
    )
    db.session.add(item)
    db.session.flush()
    appointment = Appointment(
        slot_id=slot.id,
        hospital_id=slot.hospital_id,
        patient_id=patient.id,
        booked_by_user_id=user.id,
        idempotency_key=key,
        status=AppointmentStatus.held,
        bill_id=bill.id,
        item_id=item.id,
        fee_fen=slot.fee_fen,
        hold_until=now + HOLD,
        created_at=now,
    )
    try:
        with db.session.begin_nested():
            db.session.add(appointment)
    except IntegrityError:
        raise Conflict(ALREADY, code="ALREADY_BOOKED") from None
    _change(appointment, "booked", at=now)
    db.session.flush()
    log.info("appointment %s held in slot %s until %s", appointment.id, slot.id, appointment.hold_until)
    return appointment


def _fee_bill(patient_id, slot, now):
    """A registration-fee bill, a new part of the day, due at once and until the hold ends (no reminder
    stage: ``next_reminder_at`` stays empty; the sweep closes it unpaid long before any arrears). The
    patient's row lock queues the patient's own bookings; a visit's bill taking the part meanwhile
    moves this one to the next."""
    db.session.execute(db.select(Patient.id).where(Patient.id == patient_id).with_for_update())
    last = db.session.execute(
        db.select(db.func.max(Bill.part)).where(
            Bill.patient_id == patient_id, Bill.hospital_id == slot.hospital_id, Bill.visit_day == slot.day
        )
    ).scalar()
    for part in range((last or 0) + 1, (last or 0) + 6):
        bill = Bill(
            patient_id=patient_id,
            hospital_id=slot.hospital_id,
            visit_day=slot.day,
            part=part,
            status=BillStatus.due,
            total_fen=slot.fee_fen,
            finalised_at=now,
            due_at=now + HOLD,
        )
        try:
            with db.session.begin_nested():
                db.session.add(bill)
            return bill
        except IntegrityError:
            continue
    raise Conflict("请稍后重试", code="BUSY")


def appointment_for(user, appointment_id, permission):
    """An appointment of a patient ``user`` may ``permission`` for; ``"see"``: ``view`` or ``book`` (who
    booked may see what they booked). Raises NotFound (a stranger's alike), Forbidden (PERMISSION_DENIED)."""
    if permission != "see":
        return authz.owned(user, Appointment, appointment_id, permission, MISSING)
    appointment = db.session.get(Appointment, appointment_id)
    granted = authz.permissions(user, appointment.patient_id) if appointment else ()
    if not granted:
        raise NotFound(MISSING)
    if not granted & {"view", "book"}:
        raise Forbidden("亲情账户未获得该授权", code="PERMISSION_DENIED")
    return appointment


def release(appointment, status, reason, now):
    """End a live appointment: the place goes back; the fee item is voided, so an unpaid bill closes
    (no reminder, no arrears) and a paid one is refunded through the channel that paid it."""
    bill = db.session.execute(db.select(Bill).where(Bill.id == appointment.bill_id).with_for_update()).scalar_one()
    live = db.session.execute(
        db.select(PaymentBill.bill_id).where(PaymentBill.bill_id == bill.id, PaymentBill.live.is_(True))
    ).first()
    if bill.status == BillStatus.due and live:
        raise Conflict("挂号费正在支付中，请先取消或完成支付", code="PAYMENT_PENDING")
    appointment.transition(status)
    appointment.ended_at = now
    db.session.execute(
        db.update(Slot)
        .where(Slot.id == appointment.slot_id, Slot.taken > 0)
        .values(taken=Slot.taken - 1)
        .execution_options(synchronize_session=False)
    )
    refund = billing.void_item(db.session.get(Item, appointment.item_id), reason)  # queues its refund
    _change(appointment, "cancelled", status.value, now)
    db.session.flush()
    return refund


def cancel(user, appointment_id, now):
    """Cancel before the slot starts; a paid fee is refunded. Raises NotFound, Forbidden, Conflict
    (SLOT_STARTED, APPOINTMENT_STATE, PAYMENT_PENDING)."""
    appointment = appointment_for(user, appointment_id, "book")
    appointment = db.session.execute(
        db.select(Appointment).where(Appointment.id == appointment.id).with_for_update()
    ).scalar_one()
    if appointment.status not in LIVE:
        raise Conflict("预约已结束", code="APPOINTMENT_STATE")
    if appointment.slot.start_at <= now:
        raise Conflict("号源已开始就诊，不能取消", code="SLOT_STARTED")
    mark_paid_if_paid(appointment, now)
    return release(appointment, AppointmentStatus.cancelled, "预约已取消", now)


def mark_paid_if_paid(appointment, now):
    """A held appointment whose fee bill was paid becomes booked (once). Returns whether it moved."""
    if appointment.status != AppointmentStatus.held or appointment.bill.status != BillStatus.paid:
        return False
    appointment.transition(AppointmentStatus.booked)
    appointment.paid_at = appointment.bill.paid_at or now
    _change(appointment, "paid", at=now)
    pushes.after_commit(queue.enqueue, "postpay.booking.jobs.send_booked", appointment.id)
    return True


def link_visit(hospital, visit, appointment_id):
    """R15: the visit the HIS registered for an appointment. Raises Invalid (UNKNOWN_APPOINTMENT),
    Conflict (APPOINTMENT_PATIENT_MISMATCH, APPOINTMENT_STATE, APPOINTMENT_LINKED)."""
    appointment = db.session.get(Appointment, appointment_id)
    if appointment is None or appointment.hospital_id != hospital.id:
        raise Invalid("未找到该预约: %s" % appointment_id[:40], code="UNKNOWN_APPOINTMENT")
    if appointment.patient_id != visit.patient_id:
        raise Conflict("该预约属于其他患者", code="APPOINTMENT_PATIENT_MISMATCH")
    if appointment.visit_id not in (None, visit.id):
        raise Conflict("该预约已关联其他就诊", code="APPOINTMENT_LINKED")
    if appointment.status not in LIVE:
        raise Conflict("该预约已取消或过期", code="APPOINTMENT_STATE")
    appointment.visit_id = visit.id
    db.session.flush()
    return appointment
