"""Booking (R15): the slots a hospital's HIS publishes, and the places patients hold in them.

A place is held by a conditional UPDATE (``taken < capacity``), so of many bookers racing for
the last place exactly one gets it; a patient holds at most one live place in a slot (a partial
unique index). The registration fee is a bill like any other.
"""

import enum

from postpay.clock import utcnow
from postpay.extensions import UTCDateTime, db
from postpay.security import new_id
from postpay.statemachine import Transitions, unique_where

#: The category of the one item of a registration-fee bill (挂号费); never reported by a HIS.
REGISTRATION = "registration"
REGISTRATION_NAME = "挂号费"


class Slot(db.Model):
    """A doctor's time slot, as the HIS published it."""

    __tablename__ = "booking_slots"
    __table_args__ = (
        db.UniqueConstraint("hospital_id", "his_slot_id", name="uq_booking_slots_his_slot"),
        db.CheckConstraint("taken >= 0 AND taken <= capacity AND fee_fen >= 0", name="places"),
        db.Index("ix_booking_slots_hospital_day", "hospital_id", "day"),
    )

    id = db.Column(db.String(32), primary_key=True, default=lambda: new_id("sl"))
    hospital_id = db.Column(db.String(32), db.ForeignKey("hospitals.id"), nullable=False)
    his_slot_id = db.Column(db.String(64), nullable=False)
    department = db.Column(db.String(64), nullable=False)
    doctor = db.Column(db.String(64), nullable=False)
    #: The local (Asia/Shanghai) day of the slot.
    day = db.Column(db.Date, nullable=False)
    start_at = db.Column(UTCDateTime, nullable=False)
    end_at = db.Column(UTCDateTime, nullable=False)
    capacity = db.Column(db.Integer, nullable=False)
    #: Places held or booked; changed only by conditional UPDATEs (``service.take_place``).
    taken = db.Column(db.Integer, nullable=False, default=0)
    #: The registration fee of bookings made from now on.
    fee_fen = db.Column(db.BigInteger, nullable=False)
    updated_at = db.Column(UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow)

    hospital = db.relationship("Hospital")


class AppointmentStatus(str, enum.Enum):
    held = "held"  #: a place is held; the fee is unpaid (released after 15 minutes)
    booked = "booked"  #: the fee is paid
    cancelled = "cancelled"
    expired = "expired"  #: the fee was not paid in time; the place went back


#: Statuses that hold a place.
LIVE = (AppointmentStatus.held, AppointmentStatus.booked)
TRANSITIONS = {
    AppointmentStatus.held: {AppointmentStatus.booked, AppointmentStatus.cancelled, AppointmentStatus.expired},
    AppointmentStatus.booked: {AppointmentStatus.cancelled},
    AppointmentStatus.cancelled: set(),
    AppointmentStatus.expired: set(),
}


class Appointment(Transitions, db.Model):
    TRANSITIONS, STATE_LABEL, STATE_ERROR = TRANSITIONS, "预约", "APPOINTMENT_STATE"
    __tablename__ = "appointments"
    __table_args__ = (
        # R15: one live place per patient and slot.
        unique_where("uq_appointments_live", "slot_id", "patient_id", where="status IN ('held', 'booked')"),
        db.UniqueConstraint("booked_by_user_id", "idempotency_key", name="uq_appointments_idempotency"),
        db.Index("ix_appointments_status_hold_until", "status", "hold_until"),
    )

    id = db.Column(db.String(32), primary_key=True, default=lambda: new_id("ap"))
    slot_id = db.Column(db.String(32), db.ForeignKey("booking_slots.id"), nullable=False, index=True)
    hospital_id = db.Column(db.String(32), db.ForeignKey("hospitals.id"), nullable=False)
    patient_id = db.Column(db.String(32), db.ForeignKey("patients.id"), nullable=False, index=True)
    #: The account that booked: the patient's own, or a relative's bound with ``book``.
    booked_by_user_id = db.Column(db.String(32), db.ForeignKey("users.id"), nullable=False, index=True)
    idempotency_key = db.Column(db.String(128), nullable=False)
    status = db.Column(db.Enum(AppointmentStatus, native_enum=False, length=16), nullable=False)
    #: The registration-fee bill and its one item (挂号费).
    bill_id = db.Column(db.String(32), db.ForeignKey("bills.id"), nullable=False)
    item_id = db.Column(db.String(32), db.ForeignKey("items.id"), nullable=False)
    fee_fen = db.Column(db.BigInteger, nullable=False)
    #: Unpaid after this, the place is released.
    hold_until = db.Column(UTCDateTime, nullable=False)
    #: The visit the HIS registered for it.
    visit_id = db.Column(db.String(32), db.ForeignKey("visits.id"), unique=True)
    #: Claimed by the one sweep run that queues the day-before reminder.
    reminded_at = db.Column(UTCDateTime)
    created_at = db.Column(UTCDateTime, nullable=False, default=utcnow)
    paid_at = db.Column(UTCDateTime)
    ended_at = db.Column(UTCDateTime)

    slot = db.relationship(Slot)
    patient = db.relationship("Patient")
    bill = db.relationship("Bill")


class AppointmentChange(db.Model):
    """What the HIS reads (``GET /his/v1/appointments``): one row per booked, paid or cancelled change."""

    __tablename__ = "appointment_changes"
    __table_args__ = (db.Index("ix_appointment_changes_feed", "hospital_id", "at", "id"),)

    id = db.Column(db.String(32), primary_key=True, default=lambda: new_id("ac"))
    appointment_id = db.Column(db.String(32), db.ForeignKey("appointments.id"), nullable=False, index=True)
    hospital_id = db.Column(db.String(32), db.ForeignKey("hospitals.id"), nullable=False)
    #: booked / paid / cancelled (``reason`` says expired, cancelled by the booker)
    kind = db.Column(db.String(16), nullable=False)
    reason = db.Column(db.String(16))
    at = db.Column(UTCDateTime, nullable=False, default=utcnow)
