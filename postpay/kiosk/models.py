"""Self-service kiosks: each device has its own signing key."""

from postpay.clock import utcnow
from postpay.extensions import UTCDateTime, db
from postpay.security import Encrypted, new_id


class KioskDevice(db.Model):
    __tablename__ = "kiosk_devices"

    id = db.Column(db.String(32), primary_key=True, default=lambda: new_id("ks"))
    hospital_id = db.Column(db.String(32), db.ForeignKey("hospitals.id"), nullable=False, index=True)
    #: The device's X-Kiosk-Id.
    code = db.Column(db.String(64), nullable=False, unique=True)
    secret = db.Column(Encrypted("kiosk_secret"), nullable=False)
    active = db.Column(db.Boolean, nullable=False, default=True)
    created_at = db.Column(UTCDateTime, nullable=False, default=utcnow)

    hospital = db.relationship("Hospital")
