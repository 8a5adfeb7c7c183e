"""Staff accounts of the window console and the audit log of what they did."""

import enum

from sqlalchemy import event

from postpay.clock import utcnow
from postpay.extensions import UTCDateTime, db
from postpay.security import new_id


class Role(str, enum.Enum):
    window = "window"  #: 窗口收费员: lookup, signing, consent, disputes, payments, credit desk
    supervisor = "supervisor"  #: 主管: also the dashboard and the audit log
    admin = "admin"  #: 管理员: everything, at every hospital


ROLE_LABELS = {Role.window: "窗口", Role.supervisor: "主管", Role.admin: "管理员"}


class StaffAccount(db.Model):
    __tablename__ = "staff_accounts"

    id = db.Column(db.String(32), primary_key=True, default=lambda: new_id("sf"))
    username = db.Column(db.String(64), nullable=False, unique=True)
    #: werkzeug's salted hash (scrypt); the password itself is never stored.
    password_hash = db.Column(db.String(256), nullable=False)
    role = db.Column(db.Enum(Role, native_enum=False, length=16), nullable=False)
    #: The hospital the account works for; an admin sees every hospital.
    hospital_id = db.Column(db.String(32), db.ForeignKey("hospitals.id"), nullable=False, index=True)
    active = db.Column(db.Boolean, nullable=False, default=True)
    created_at = db.Column(UTCDateTime, nullable=False, default=utcnow)

    hospital = db.relationship("Hospital")

    @property
    def sees_all(self):
        return self.role == Role.admin


class AuditEntry(db.Model):
    """One staff action: who, what, when, which patient. Appended only: never updated or deleted
    (refused here and, on PostgreSQL, by a trigger)."""

    __tablename__ = "audit_log"
    __table_args__ = (db.Index("ix_audit_log_hospital_at", "hospital_id", "at"),)

    id = db.Column(db.String(32), primary_key=True, default=lambda: new_id("au"))
    staff_id = db.Column(db.String(32), db.ForeignKey("staff_accounts.id"), nullable=False)
    #: Copied so the entry reads the same whatever happens to the account later.
    username = db.Column(db.String(64), nullable=False)
    hospital_id = db.Column(db.String(32), db.ForeignKey("hospitals.id"), nullable=False)
    #: login, lookup, view_patient, sign_contract, consent_binding, confirm_dispute, ...
    action = db.Column(db.String(32), nullable=False)
    patient_id = db.Column(db.String(32), db.ForeignKey("patients.id"), index=True)
    #: The bill, dispute, binding or contract acted on.
    target = db.Column(db.String(64))
    #: Masked facts only: never a full identity number or phone.
    detail = db.Column(db.JSON, nullable=False, default=dict)
    client_ip = db.Column(db.String(64))
    at = db.Column(UTCDateTime, nullable=False, default=utcnow)


@event.listens_for(AuditEntry, "before_update")
@event.listens_for(AuditEntry, "before_delete")
def _append_only(mapper, connection, target):
    raise RuntimeError("the audit log is append-only")
