"""The HIS's feed of appointment changes (R15): ordered by (time, id) and resumable from a cursor,
the same way as the voids feed (``postpay/his/service.py``).

A change is stamped before its transaction commits, so a reader could pass a change that commits a
moment later with an earlier stamp. The feed therefore shows only changes older than
``POSTPAY_FEED_LAG_SECONDS`` (longer than any transaction of ours), and a cursor never skips one."""

from postpay import cursors
from postpay.accounts.models import Patient
from postpay.booking.models import Appointment, AppointmentChange, Slot
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
        query = cursors.after(query, cursor, AppointmentChange.at, AppointmentChange.id)
    rows = db.session.execute(query.order_by(AppointmentChange.at, AppointmentChange.id).limit(limit)).all()
    if not rows:
        return [], cursor
    last = rows[-1][0]
    return rows, cursors.of(last.at, last.id)
