"""Day bills (R11), their items (R2, R4, R9) and disputes (R12).

A day bill is per patient, per hospital, per visit day. A visit that starts after
the day's bill was finalised opens a second part of that day (``part`` 2), so a
finalised bill never changes under a payer.
"""

import enum

from postpay.clock import utcnow
from postpay.extensions import UTCDateTime, db
from postpay.security import new_id
from postpay.statemachine import Transitions, check_transition, unique_where


class BillStatus(str, enum.Enum):
    open = "open"  #: the visit day is still running
    due = "due"  #: finalised, awaiting payment (overdue once due_at has passed)
    paid = "paid"
    closed = "closed"  #: finalised with nothing to pay


#: Statuses that still owe money.
UNPAID = (BillStatus.open, BillStatus.due)
TRANSITIONS = {
    BillStatus.open: {BillStatus.due, BillStatus.closed},
    BillStatus.due: {BillStatus.paid, BillStatus.closed},
    BillStatus.paid: set(),
    BillStatus.closed: set(),
}


class Bill(Transitions, db.Model):
    TRANSITIONS, STATE_LABEL, STATE_ERROR = TRANSITIONS, "账单", "BILL_STATE"
    __tablename__ = "bills"
    __table_args__ = (
        db.UniqueConstraint("patient_id", "hospital_id", "visit_day", "part", name="uq_bills_patient_day_part"),
        db.CheckConstraint("total_fen >= 0", name="total_not_negative"),
        db.Index("ix_bills_status_due_at", "status", "due_at"),
        # The sweeps read only what is due: their time grows with that, not with all bills.
        db.Index(
            "ix_bills_reminder_due",
            "next_reminder_at",
            postgresql_where=db.text("status = 'due'"),
            sqlite_where=db.text("status = 'due'"),
        ),
        db.Index(
            "ix_bills_arrears_due",
            "due_at",
            postgresql_where=db.text("status = 'due' AND NOT in_arrears"),
            sqlite_where=db.text("status = 'due' AND in_arrears = 0"),
        ),
    )

    id = db.Column(db.String(32), primary_key=True, default=lambda: new_id("bl"))
    patient_id = db.Column(db.String(32), db.ForeignKey("patients.id"), nullable=False, index=True)
    hospital_id = db.Column(db.String(32), db.ForeignKey("hospitals.id"), nullable=False, index=True)
    visit_day = db.Column(db.Date, nullable=False)
    #: 1, or 2.. for visits that started after the day's bill was finalised.
    part = db.Column(db.Integer, nullable=False, default=1)
    status = db.Column(db.Enum(BillStatus, native_enum=False, length=16), nullable=False, default=BillStatus.open)
    #: Computed by this service from the deferred, unvoided items; never taken from input.
    total_fen = db.Column(db.BigInteger, nullable=False, default=0)
    finalised_at = db.Column(UTCDateTime)
    #: 24 h after finalising (R11); overdue after it (R17).
    due_at = db.Column(UTCDateTime)
    paid_at = db.Column(UTCDateTime)
    #: R14: set while the patient is admitted; insurance settlement waits for discharge.
    hold_reason = db.Column(db.String(128))
    hold_since = db.Column(UTCDateTime)
    #: When the next reminder stage falls due (R17); None once every stage went out.
    next_reminder_at = db.Column(UTCDateTime)
    #: Counted in a malicious-arrears record (R18).
    in_arrears = db.Column(db.Boolean, nullable=False, default=False)
    created_at = db.Column(UTCDateTime, nullable=False, default=utcnow)

    hospital = db.relationship("Hospital")
    patient = db.relationship("Patient")
    #: The deferred items that make up the total (all of the day's items: ``all_items``).
    items = db.relationship("Item", back_populates="bill", order_by="Item.created_at")
    visits = db.relationship("Visit", back_populates="bill", order_by="Visit.registered_at")

    @property
    def all_items(self):
        """Every item of the bill's visits, deferred or paid now, in the order they came; then the
        items of no visit (a registration fee, R15)."""
        return [item for visit in self.visits for item in visit.items] + [i for i in self.items if i.visit_id is None]


def pay_due(bill_ids, at):
    """Bulk fast path of ``Bill.transition(paid)``: one guarded UPDATE moves the due bills
    among ``bill_ids`` to paid. Returns how many moved (fewer if some changed meanwhile)."""
    check_transition(Bill, BillStatus.due, BillStatus.paid)
    bills = Bill.__table__
    return db.session.execute(
        bills.update()
        .where(bills.c.id.in_(bill_ids), bills.c.status == BillStatus.due)
        .values(status=BillStatus.paid, paid_at=at)
    ).rowcount


def claim_due(bill_id):
    """Claim a due bill before paying it: a conditional write that moves nothing (due stays
    due) but takes the row's lock (PostgreSQL) or the database's write lock (SQLite), so of
    two claims of one bill only one finds it due. Returns whether it was due."""
    return bool(
        db.session.execute(
            db.update(Bill)
            .where(Bill.id == bill_id, Bill.status == BillStatus.due)
            .values(status=BillStatus.due)
            .execution_options(synchronize_session=False)
        ).rowcount
    )


CATEGORIES = ("exam", "lab", "drug", "herbal", "consumable", "treatment")


class Item(db.Model):
    """One charge the HIS reported. Deferred items make up the day bill; the others are paid now."""

    __tablename__ = "items"
    __table_args__ = (
        db.UniqueConstraint("visit_id", "his_item_no", name="uq_items_visit_item_no"),
        db.CheckConstraint("amount_fen >= 0 AND unit_price_fen >= 0 AND quantity_milli > 0", name="amounts"),
    )

    id = db.Column(db.String(32), primary_key=True, default=lambda: new_id("it"))
    #: None only for a registration fee (R15), billed before any visit.
    visit_id = db.Column(db.String(32), db.ForeignKey("visits.id"), index=True)
    #: Set for deferred items only: the day bill they are on.
    bill_id = db.Column(db.String(32), db.ForeignKey("bills.id"), index=True)
    his_item_no = db.Column(db.String(64), nullable=False)
    category = db.Column(db.String(16), nullable=False)
    name = db.Column(db.String(128), nullable=False)
    #: Quantity in thousandths (1.5 boxes -> 1500): exact, with no floats.
    quantity_milli = db.Column(db.BigInteger, nullable=False)
    unit_price_fen = db.Column(db.BigInteger, nullable=False)
    amount_fen = db.Column(db.BigInteger, nullable=False)
    #: R2 exclusion kind the HIS flagged, if any.
    exclusion = db.Column(db.String(32))
    deferred = db.Column(db.Boolean, nullable=False)
    #: R19: flagged by the HIS or on the hospital's sensitive list when taken in; relatives see "隐私项目".
    sensitive = db.Column(db.Boolean, nullable=False, default=False, server_default=db.false())
    #: Why not deferred: PAYG, CATEGORY (R4), EXCLUDED (R2), PAID_EARLY (R9), BILL_FINALISED.
    pay_now_reason = db.Column(db.String(16))
    voided_at = db.Column(UTCDateTime)
    void_reason = db.Column(db.String(200))
    created_at = db.Column(UTCDateTime, nullable=False, default=utcnow)

    bill = db.relationship(Bill, back_populates="items")
    visit = db.relationship("Visit", back_populates="items")


class DisputeStatus(str, enum.Enum):
    pending = "pending"
    confirmed = "confirmed"
    rejected = "rejected"


DISPUTE_TRANSITIONS = {
    DisputeStatus.pending: {DisputeStatus.confirmed, DisputeStatus.rejected},
    DisputeStatus.confirmed: set(),
    DisputeStatus.rejected: set(),
}


class Dispute(Transitions, db.Model):
    """R12: an item the patient says was given up during the visit, for the window to confirm."""

    TRANSITIONS, STATE_LABEL, STATE_ERROR = DISPUTE_TRANSITIONS, "退费核对", "DISPUTE_DECIDED"
    __tablename__ = "disputes"
    __table_args__ = (unique_where("uq_disputes_one_pending", "item_id", where="status = 'pending'"),)

    id = db.Column(db.String(32), primary_key=True, default=lambda: new_id("dp"))
    bill_id = db.Column(db.String(32), db.ForeignKey("bills.id"), nullable=False, index=True)
    item_id = db.Column(db.String(32), db.ForeignKey("items.id"), nullable=False, index=True)
    raised_by_user_id = db.Column(db.String(32), db.ForeignKey("users.id"), nullable=False)
    reason = db.Column(db.String(200), nullable=False)
    status = db.Column(db.Enum(DisputeStatus, native_enum=False, length=16), nullable=False)
    #: "staff:<id>" who decided, and the reason the patient sees when rejected.
    decided_by = db.Column(db.String(64))
    decision_reason = db.Column(db.String(200))
    created_at = db.Column(UTCDateTime, nullable=False, default=utcnow)
    decided_at = db.Column(UTCDateTime)

    item = db.relationship(Item)


class BillReceipt(db.Model):
    """The fiscal e-receipt (医疗收费电子票据) the HIS issued for a paid bill: one per bill."""

    __tablename__ = "bill_receipts"

    bill_id = db.Column(db.String(32), db.ForeignKey("bills.id"), primary_key=True)
    receipt_no = db.Column(db.String(32), nullable=False)
    url = db.Column(db.String(512), nullable=False)
    issued_at = db.Column(UTCDateTime, nullable=False)
    amount_fen = db.Column(db.BigInteger, nullable=False)
    created_at = db.Column(UTCDateTime, nullable=False, default=utcnow)
