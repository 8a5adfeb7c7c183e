"""Credit state (R3, R18). The credit issue adds the arrears sweep and repair by payment."""

from postpay.accounts.models import utcnow
from postpay.credit.models import CreditRecord
from postpay.extensions import db


def is_suspended(patient_id):
    """True while the patient has an unrepaired malicious-arrears record (R3, R18)."""
    query = db.select(CreditRecord.id).where(CreditRecord.patient_id == patient_id, CreditRecord.repaired_at.is_(None))
    return db.session.execute(query.limit(1)).first() is not None


def record_arrears(patient_id, bill_ids, now=None):
    """Write a malicious-arrears record that suspends post-pay at every hospital (R18)."""
    record = CreditRecord(patient_id=patient_id, bill_ids=list(bill_ids), created_at=now or utcnow())
    db.session.add(record)
    db.session.flush()
    return record
