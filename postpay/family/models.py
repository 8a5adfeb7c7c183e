"""Family bindings (亲情账户, R15): an account acting for a relative, with the relative's consent."""

import enum

from postpay.clock import utcnow
from postpay.extensions import UTCDateTime, db
from postpay.security import new_id
from postpay.statemachine import Transitions, unique_where

#: ``mutual_aid`` (共济): the account may spend the relative's own personal insurance account.
#: Only the relative (the account holder) grants it: by consenting to a binding that asks for it.
#: ``book`` (R15): book appointments for the relative; ``pay`` does not imply it.
PERMISSIONS = ("view", "accompany", "pay", "mutual_aid", "book")
RELATIONSHIPS = ("parent", "spouse", "child", "other")
#: The same tie seen from the other side: the parent a child binds sees the binding as a child's.
INVERSE = {"parent": "child", "child": "parent", "spouse": "spouse", "other": "other"}


class BindingStatus(str, enum.Enum):
    pending = "pending"
    active = "active"
    revoked = "revoked"


TRANSITIONS = {
    BindingStatus.pending: {BindingStatus.active, BindingStatus.revoked},
    BindingStatus.active: {BindingStatus.revoked},
    BindingStatus.revoked: set(),
}


class Binding(Transitions, db.Model):
    TRANSITIONS, STATE_LABEL, STATE_ERROR = TRANSITIONS, "绑定", "BINDING_STATE"
    __tablename__ = "family_bindings"
    __table_args__ = (
        # One live (pending or active) binding per account and relative.
        unique_where(
            "uq_family_bindings_live", "user_id", "relative_patient_id", where="status IN ('pending', 'active')"
        ),
    )

    id = db.Column(db.String(32), primary_key=True, default=lambda: new_id("fb"))
    #: The account that asked and will act for the relative.
    user_id = db.Column(db.String(32), db.ForeignKey("users.id"), nullable=False, index=True)
    relative_patient_id = db.Column(db.String(32), db.ForeignKey("patients.id"), nullable=False, index=True)
    #: What the relative is to the account holder: parent / spouse / child / other.
    relationship = db.Column(db.String(16), nullable=False)
    #: Sorted list drawn from PERMISSIONS.
    permissions = db.Column(db.JSON, nullable=False)
    status = db.Column(db.Enum(BindingStatus, native_enum=False, length=16), nullable=False)
    created_at = db.Column(UTCDateTime, nullable=False, default=utcnow)
    consented_at = db.Column(UTCDateTime)
    #: miniprogram (the relative's own verified account) or window (staff after an ID check).
    consent_channel = db.Column(db.String(16))
    revoked_at = db.Column(UTCDateTime)
    #: R19: the relative (the patient) lets this account see their sensitive items.
    share_sensitive = db.Column(db.Boolean, nullable=False, default=False, server_default=db.false())
    revoked_by = db.Column(db.String(64))

    user = db.relationship("User")
    relative = db.relationship("Patient")
