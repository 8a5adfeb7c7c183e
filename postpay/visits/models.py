"""Visits the HIS reports, their live events (R16), and subscribe-message quotas."""

from postpay.clock import utcnow
from postpay.extensions import UTCDateTime, db
from postpay.security import new_id

EVENT_TYPES = (
    "checked_in",
    "called",
    "sample_collected",
    "exam_done",
    "report_ready",
    "dispensed",
    "visit_finished",
    "admitted",
    "discharged",
)


class Visit(db.Model):
    __tablename__ = "visits"
    __table_args__ = (db.UniqueConstraint("hospital_id", "his_visit_no", name="uq_visits_hospital_visit_no"),)

    id = db.Column(db.String(32), primary_key=True, default=lambda: new_id("vs"))
    hospital_id = db.Column(db.String(32), db.ForeignKey("hospitals.id"), nullable=False)
    his_visit_no = db.Column(db.String(64), nullable=False)
    patient_id = db.Column(db.String(32), db.ForeignKey("patients.id"), nullable=False, index=True)
    department = db.Column(db.String(64), nullable=False)
    doctor = db.Column(db.String(64), nullable=False)
    registered_at = db.Column(UTCDateTime, nullable=False)
    #: Decided once, at registration (R9): a visit that starts pay-as-you-go stays so.
    postpay = db.Column(db.Boolean, nullable=False)
    #: The eligibility reasons when not post-pay, as [{"code", "message"}].
    reasons = db.Column(db.JSON, nullable=False, default=list)
    #: R2 exclusion the HIS flagged on the whole visit.
    exclusion = db.Column(db.String(32))
    bill_id = db.Column(db.String(32), db.ForeignKey("bills.id"), index=True)
    finished_at = db.Column(UTCDateTime)
    #: The newest event sequence number (for SSE ids and Last-Event-ID replay).
    last_seq = db.Column(db.Integer, nullable=False, default=0)
    created_at = db.Column(UTCDateTime, nullable=False, default=utcnow)

    hospital = db.relationship("Hospital")
    patient = db.relationship("Patient")
    bill = db.relationship("Bill", back_populates="visits")
    items = db.relationship("Item", back_populates="visit", order_by="Item.created_at")


class VisitEvent(db.Model):
    __tablename__ = "visit_events"
    __table_args__ = (
        # A retried event changes nothing.
        db.UniqueConstraint("visit_id", "type", "at", name="uq_visit_events_type_at"),
        db.UniqueConstraint("visit_id", "seq", name="uq_visit_events_seq"),
    )

    id = db.Column(db.String(32), primary_key=True, default=lambda: new_id("ev"))
    visit_id = db.Column(db.String(32), db.ForeignKey("visits.id"), nullable=False, index=True)
    #: Arrival order within the visit: the SSE event id.
    seq = db.Column(db.Integer, nullable=False)
    type = db.Column(db.String(32), nullable=False)
    #: When it happened at the hospital; the timeline is ordered by it.
    at = db.Column(UTCDateTime, nullable=False)
    detail = db.Column(db.JSON, nullable=False, default=dict)
    #: R19: the detail names a sensitive item (its his_item_no, or a name on the hospital's list).
    sensitive = db.Column(db.Boolean, nullable=False, default=False, server_default=db.false())
    received_at = db.Column(UTCDateTime, nullable=False, default=utcnow)


class SubscriptionQuota(db.Model):
    """One-time subscribe-message permissions the mini-program reported (wx.requestSubscribeMessage)."""

    __tablename__ = "subscription_quotas"
    __table_args__ = (db.CheckConstraint("remaining >= 0", name="remaining_not_negative"),)

    user_id = db.Column(db.String(32), db.ForeignKey("users.id"), primary_key=True)
    template_id = db.Column(db.String(64), primary_key=True)
    remaining = db.Column(db.Integer, nullable=False, default=0)
