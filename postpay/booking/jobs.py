"""Booking's sweep and jobs (R15): a paid fee books the place, an unpaid one releases it after 15
minutes, and the day before the visit the patient and the booker get a reminder, once.

The sweep runs under its Redis lock (``schedule.py``) and reads with ``skip_locked``; each reminder
is claimed by a conditional UPDATE before it is queued, and each SMS of it by ``queue.once``, so any
number of workers send each once.
"""

import datetime as dt
import logging

import requests
from flask import current_app

from postpay import clients, pushes, queue
from postpay.accounts.models import User
from postpay.billing.models import Bill, BillStatus
from postpay.booking import service
from postpay.booking.models import Appointment, AppointmentStatus, Slot
from postpay.clock import SHANGHAI, local_date
from postpay.contracts.models import Contract
from postpay.credit.service import in_quiet_hours
from postpay.errors import Conflict
from postpay.extensions import db
from postpay.security import blind_index, mask_name, mask_phone
from wechat.sms import SmsError

log = logging.getLogger(__name__)

REMIND = "postpay.booking.jobs.send_reminder"


def sweep(now, batch=500):
    """Book the paid, release the unpaid past their hold, queue the day-before reminders. Commits;
    returns ``"booked=N expired=N reminded=N"``."""
    booked = expired = 0
    held = (
        db.session.execute(
            db.select(Appointment)
            .join(Bill, Bill.id == Appointment.bill_id)
            .where(
                Appointment.status == AppointmentStatus.held,
                db.or_(Bill.status == BillStatus.paid, Appointment.hold_until <= now),
            )
            .order_by(Appointment.id)
            .limit(batch)
            .with_for_update(skip_locked=True, of=Appointment)
        )
        .scalars()
        .all()
    )
    for appointment in held:
        if service.mark_paid_if_paid(appointment, now):
            booked += 1
            continue
        try:
            with db.session.begin_nested():
                service.release(appointment, AppointmentStatus.expired, "预约超时未支付，号源已释放", now)
            expired += 1
        except Conflict:  # a payment of the fee is still pending: its own expiry decides
            pass
    db.session.commit()
    pushes.flush()
    reminded = _queue_reminders(now, batch)
    return "booked=%d expired=%d reminded=%d" % (booked, expired, reminded)


def _queue_reminders(now, batch):
    """R15: the day before the visit, from ``POSTPAY_BOOKING_REMINDER_AT`` and outside quiet hours."""
    local = now.astimezone(SHANGHAI)
    if in_quiet_hours(now) or local.strftime("%H:%M") < current_app.config["POSTPAY_BOOKING_REMINDER_AT"]:
        return 0
    tomorrow = local_date(now) + dt.timedelta(days=1)
    due = (
        db.select(Appointment.id)
        .join(Slot, Slot.id == Appointment.slot_id)
        .where(Appointment.status == AppointmentStatus.booked, Appointment.reminded_at.is_(None), Slot.day == tomorrow)
        .limit(batch)
    )
    ids = db.session.execute(due).scalars().all()
    if not ids:
        return 0
    claimed = (
        db.session.execute(  # of two sweeps, each appointment is claimed by one
            db.update(Appointment)
            .where(Appointment.id.in_(ids), Appointment.reminded_at.is_(None))
            .values(reminded_at=now)
            .returning(Appointment.id)
            .execution_options(synchronize_session=False)
        )
        .scalars()
        .all()
    )
    db.session.commit()
    for appointment_id in claimed:
        queue.enqueue(REMIND, appointment_id)
    return len(claimed)


def patient_phone(patient_id):
    """The patient's phone, decrypted only to send: the latest contract's, else the patient's own account's."""
    phone = db.session.execute(
        db.select(Contract.phone).where(Contract.patient_id == patient_id).order_by(Contract.signed_at.desc()).limit(1)
    ).scalar()
    if phone:
        return phone
    return db.session.execute(
        db.select(User.phone).where(User.patient_id == patient_id, User.phone.isnot(None)).limit(1)
    ).scalar()


def when(slot):
    start, end = slot.start_at.astimezone(SHANGHAI), slot.end_at.astimezone(SHANGHAI)
    return "%d年%d月%d日%s-%s" % (start.year, start.month, start.day, start.strftime("%H:%M"), end.strftime("%H:%M"))


def _sms(key, phone, template, params):
    if not phone or not queue.once(key):
        return False
    try:
        clients.sms_gateway().send(phone, template, params)
    except (SmsError, requests.RequestException) as e:
        log.error("booking SMS to %s failed: %s", mask_phone(phone), e)
        return False
    return True


def send_booked(appointment_id):
    """The patient's SMS with the time and place of the booked visit (R15), once."""
    appointment = db.session.get(Appointment, appointment_id)
    slot = appointment.slot
    params = [slot.hospital.name, slot.department, slot.doctor, when(slot)]
    return _sms("booked:%s" % appointment_id, patient_phone(appointment.patient_id), "appointment_booked", params)


def send_reminder(appointment_id):
    """The day-before reminder to the patient and to the booker, each once."""
    appointment = db.session.get(Appointment, appointment_id)
    if appointment.status != AppointmentStatus.booked:
        return 0
    slot = appointment.slot
    params = [mask_name(appointment.patient.name), when(slot), slot.hospital.name, slot.department]
    phones = {patient_phone(appointment.patient_id)}
    booker = db.session.get(User, appointment.booked_by_user_id)
    if booker.patient_id != appointment.patient_id:
        phones.add(booker.phone)
    return sum(
        _sms("remind:%s:%s" % (appointment_id, blind_index(p, "phone")), p, "appointment_reminder", params)
        for p in phones
        if p
    )
