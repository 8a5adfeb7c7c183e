"""Post-pay contracts (诊后付签约): who signed which letter, how, and when it ended."""

import enum

from postpay.clock import utcnow
from postpay.extensions import UTCDateTime, db
from postpay.security import Encrypted, new_id
from postpay.statemachine import Transitions, unique_where


class ContractStatus(str, enum.Enum):
    active = "active"
    cancelled = "cancelled"


class Channel(str, enum.Enum):
    miniprogram = "miniprogram"
    kiosk = "kiosk"
    window = "window"


#: Legal moves of a contract's status.
TRANSITIONS = {ContractStatus.active: {ContractStatus.cancelled}, ContractStatus.cancelled: set()}


class Contract(Transitions, db.Model):
    TRANSITIONS, STATE_LABEL, STATE_ERROR = TRANSITIONS, "签约", "CONTRACT_STATE"
    __tablename__ = "contracts"
    __table_args__ = (
        # One active contract per patient, settled by the database (R6-R8).
        unique_where("uq_contracts_one_active", "patient_id", where="status = 'active'"),
    )

    id = db.Column(db.String(32), primary_key=True, default=lambda: new_id("ct"))
    patient_id = db.Column(db.String(32), db.ForeignKey("patients.id"), nullable=False, index=True)
    status = db.Column(db.Enum(ContractStatus, native_enum=False, length=16), nullable=False)
    channel = db.Column(db.Enum(Channel, native_enum=False, length=16), nullable=False)
    commitment_version = db.Column(db.String(32), nullable=False)
    #: SHA-256 of the letter text as rendered when signed.
    commitment_sha256 = db.Column(db.String(64), nullable=False)
    #: The phone the SMS code went to: the contract phone for reminders.
    phone = db.Column(Encrypted("phone"), nullable=False)
    #: The account that signed (None at a kiosk or window).
    signer_user_id = db.Column(db.String(32), db.ForeignKey("users.id"))
    #: A relative who signed for an elder without a phone: signer and guarantor.
    guarantor_patient_id = db.Column(db.String(32), db.ForeignKey("patients.id"))
    kiosk_id = db.Column(db.String(32), db.ForeignKey("kiosk_devices.id"))
    signature_png = db.Column(db.LargeBinary, nullable=False)
    client_ip = db.Column(db.String(64))
    user_agent = db.Column(db.String(512))
    signed_at = db.Column(UTCDateTime, nullable=False, default=utcnow)
    cancelled_at = db.Column(UTCDateTime)
    #: Who cancelled: "user:<id>", "kiosk:<id>" or "staff:<id>".
    cancelled_by = db.Column(db.String(64))
