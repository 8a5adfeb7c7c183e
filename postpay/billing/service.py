"""Day bills."""

from postpay.billing.models import UNPAID, Bill
from postpay.extensions import db


def has_unpaid_bills(patient_id):
    """True while any post-pay bill of the patient is unpaid (R10)."""
    query = db.select(Bill.id).where(Bill.patient_id == patient_id, Bill.status.in_(UNPAID)).limit(1)
    return db.session.execute(query).first() is not None
