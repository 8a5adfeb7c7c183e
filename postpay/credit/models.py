"""Credit records (R3, R18): a malicious-arrears record suspends post-pay at every hospital
on the hub until it is repaired; the record stays, with its repair time."""

from postpay.clock import utcnow
from postpay.extensions import UTCDateTime, db
from postpay.security import Encrypted, new_id


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


class Reminder(db.Model):
    """R17: one reminder per bill, due time, stage and recipient, claimed before it is sent (never
    twice). A discharge moves a held bill's due time (R14), so its stages start again."""

    __tablename__ = "reminders"
    __table_args__ = (
        db.UniqueConstraint("bill_id", "due_at", "stage", "recipient", name="uq_reminders_once"),
        # Each sweep looks for claimed reminders still unsent: only those, however long the history.
        db.Index(
            "ix_reminders_unsent",
            "bill_id",
            postgresql_where=db.text("NOT sent"),
            sqlite_where=db.text("sent = 0"),
        ),
    )

    id = db.Column(db.String(32), primary_key=True, default=lambda: new_id("rm"))
    bill_id = db.Column(db.String(32), db.ForeignKey("bills.id"), nullable=False, index=True)
    #: Days of arrears the stage stands for: 0 (overdue), 7, 20, 29.
    stage = db.Column(db.Integer, nullable=False)
    #: The bill's due time the stage counts from.
    due_at = db.Column(UTCDateTime, nullable=False)
    #: "sms:<phone blind index>" or "wx:<user id>".
    recipient = db.Column(db.String(80), nullable=False)
    #: Where an SMS goes (encrypted), or the account a subscribe message goes to.
    phone = db.Column(Encrypted("phone"))
    user_id = db.Column(db.String(32))
    #: The binding of a relative it goes to (the text names the patient and the relationship);
    #: None: the patient's own phone or account.
    binding_id = db.Column(db.String(32))
    sent = db.Column(db.Boolean, nullable=False, default=False)
    created_at = db.Column(UTCDateTime, nullable=False, default=utcnow)


class CreditEvent(db.Model):
    """The audit trail of every change of a patient's credit state; rows are only appended."""

    __tablename__ = "credit_events"

    id = db.Column(db.String(32), primary_key=True, default=lambda: new_id("ce"))
    patient_id = db.Column(db.String(32), db.ForeignKey("patients.id"), nullable=False, index=True)
    record_id = db.Column(db.String(32), db.ForeignKey("credit_records.id"), nullable=False)
    #: suspended / repaired / lifted (a record an admission's held bills caused, R14)
    kind = db.Column(db.String(16), nullable=False)
    detail = db.Column(db.JSON, nullable=False, default=dict)
    at = db.Column(UTCDateTime, nullable=False, default=utcnow)


class CreditExport(db.Model):
    """What went to the city's credit platform (issue 19): a record once as ``record``, its repair
    once as ``correction``. The unique pair is the claim: of two exports at once, one sends each line."""

    __tablename__ = "credit_exports"
    __table_args__ = (db.UniqueConstraint("record_id", "line", name="uq_credit_exports_once"),)

    id = db.Column(db.String(32), primary_key=True, default=lambda: new_id("cx"))
    record_id = db.Column(db.String(32), db.ForeignKey("credit_records.id"), nullable=False)
    #: record / correction
    line = db.Column(db.String(16), nullable=False)
    exported_at = db.Column(UTCDateTime, nullable=False, default=utcnow)
