"""The HIS's feed of appointment changes (R15): ordered by (time, id) and resumable from a cursor,
the same way as the voids feed (``postpay/his/service.py``).

A change is stamped before its transaction commits, so a reader could pass a change that commits a
moment later with an earlier stamp. The feed therefore shows only changes older than
``POSTPAY_FEED_LAG_SECONDS`` (longer than any transaction of ours), and a cursor never skips one."""

import datetime as dt

from postpay.accounts.models import Patient
from postpay.api import parse_time
from postpay.booking.models import Appointment, AppointmentChange, Slot
from postpay.errors import Invalid
from postpay.extensions import db


def changes_since(hospital, cursor, limit, until):
    """Changes of the hospital's appointments after ``cursor`` (``<ISO time>,<change id>``), oldest
    first, up to ``until``, each with its appointment, slot and patient; returns ``(rows, next cursor)``.
    Raises Invalid (BAD_CURSOR)."""
    query = (
        db.select(AppointmentChange, Appointment, Slot, Patient)
        .join(Appointment, Appointment.id == AppointmentChange.appointment_id)
        .join(Slot, Slot.id == Appointment.slot_id)
        .join(Patient, Patient.id == Appointment.patient_id)
        .where(AppointmentChange.hospital_id == hospital.id, AppointmentChange.at <= until)
    )
    if cursor:
        text, _, after_id = cursor.partition(",")
        try:
            moment = parse_time(text)
        except Invalid:
            raise Invalid("cursor 无效", code="BAD_CURSOR") from None
        query = query.where(
            db.or_(
                AppointmentChange.at > moment,
                db.and_(AppointmentChange.at == moment, AppointmentChange.id > after_id),
            )
        )
    rows = db.session.execute(query.order_by(AppointmentChange.at, AppointmentChange.id).limit(limit)).all()
    if not rows:
        return [], cursor
    last = rows[-1][0]
    return rows, "%s,%s" % (last.at.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ"), last.id)
