"""Credit records (R3, R18): a malicious-arrears record suspends post-pay at every hospital
on the hub until it is repaired; the record stays, with its repair time."""

from postpay.accounts.models import utcnow
from postpay.extensions import UTCDateTime, db
from postpay.security import new_id


class CreditRecord(db.Model):
    __tablename__ = "credit_records"

    id = db.Column(db.String(32), primary_key=True, default=lambda: new_id("cr"))
    patient_id = db.Column(db.String(32), db.ForeignKey("patients.id"), nullable=False, index=True)
    #: malicious_arrears (R18)
    kind = db.Column(db.String(32), nullable=False, default="malicious_arrears")
    #: The bills that caused it.
    bill_ids = db.Column(db.JSON, nullable=False, default=list)
    created_at = db.Column(UTCDateTime, nullable=False, default=utcnow)
    #: Credit repair: when every overdue bill was paid. None: the suspension holds.
    repaired_at = db.Column(UTCDateTime)
