"""Day bills (R11): one per patient, per hospital, per visit day. The HIS issue fills in
items, finalising and disputes; the contracts issue needs only "is anything unpaid"."""

import enum

from postpay.accounts.models import utcnow
from postpay.extensions import db
from postpay.security import new_id


class BillStatus(str, enum.Enum):
    open = "open"  #: the visit day is still running
    due = "due"  #: finalised, awaiting payment
    paid = "paid"
    void = "void"  #: every item voided


#: Statuses that still owe money.
UNPAID = (BillStatus.open, BillStatus.due)


class Bill(db.Model):
    __tablename__ = "bills"
    __table_args__ = (db.UniqueConstraint("patient_id", "hospital_id", "visit_day", name="uq_bills_patient_day"),)

    id = db.Column(db.String(32), primary_key=True, default=lambda: new_id("bl"))
    patient_id = db.Column(db.String(32), db.ForeignKey("patients.id"), nullable=False, index=True)
    hospital_id = db.Column(db.String(32), db.ForeignKey("hospitals.id"), nullable=False, index=True)
    visit_day = db.Column(db.Date, nullable=False)
    status = db.Column(db.Enum(BillStatus, native_enum=False, length=16), nullable=False, default=BillStatus.open)
    #: Computed by this service from the items, never taken from input.
    total_fen = db.Column(db.BigInteger, nullable=False, default=0)
    created_at = db.Column(db.DateTime(timezone=True), nullable=False, default=utcnow)
