"""Family bindings (亲情账户, R15): an account acting for a relative, with the relative's consent."""

import enum

from postpay.accounts.models import utcnow
from postpay.errors import Conflict
from postpay.extensions import UTCDateTime, db
from postpay.security import new_id

PERMISSIONS = ("view", "accompany", "pay")
RELATIONSHIPS = ("parent", "spouse", "child", "other")


class BindingStatus(str, enum.Enum):
    pending = "pending"
    active = "active"
    revoked = "revoked"


TRANSITIONS = {
    BindingStatus.pending: {BindingStatus.active, BindingStatus.revoked},
    BindingStatus.active: {BindingStatus.revoked},
    BindingStatus.revoked: set(),
}


class Binding(db.Model):
    __tablename__ = "family_bindings"
    __table_args__ = (
        # One live (pending or active) binding per account and relative.
        db.Index(
            "uq_family_bindings_live",
            "user_id",
            "relative_patient_id",
            unique=True,
            postgresql_where=db.text("status IN ('pending', 'active')"),
            sqlite_where=db.text("status IN ('pending', 'active')"),
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
    revoked_by = db.Column(db.String(64))

    user = db.relationship("User")
    relative = db.relationship("Patient")

    def transition(self, to):
        """Move to status ``to``. Raises Conflict for an illegal or repeated move."""
        if to not in TRANSITIONS[self.status]:
            raise Conflict("绑定状态为%s，不能变更为%s" % (self.status.value, to.value), code="BINDING_STATE")
        self.status = to
