"""Self-service kiosks (R6, R8): signed device requests; the patient is identified by the
medical-insurance e-voucher code, which stands for the social security card (R8)."""

import json
import logging
import secrets

from postpay.accounts.models import Patient
from postpay.accounts.service import verify_with
from postpay.errors import NotFound, Unauthorized
from postpay.extensions import db, redis
from postpay.his.signing import signed_caller
from postpay.hospitals.models import Hospital
from postpay.kiosk.models import KioskDevice
from postpay.security import token_digest

log = logging.getLogger(__name__)

SESSION_TTL = 600
SESSION_KEY = "kiosk:session:%s"


def authenticate():
    """The kiosk behind the signed request (``X-Kiosk-Id`` + signature headers). Raises Unauthorized."""
    return signed_caller(KioskDevice, "X-Kiosk-Id", "kiosk", "secret", active=True)


def add_device(hospital_code, device_code, secret=None):
    """Register (or re-key) a kiosk; returns ``(device, secret)``. Raises NotFound for an unknown hospital."""
    hospital = Hospital.query.filter_by(code=hospital_code).one_or_none()
    if hospital is None:
        raise NotFound("未找到医院 %s" % hospital_code)
    secret = secret or secrets.token_urlsafe(32)
    device = KioskDevice.query.filter_by(code=device_code).one_or_none() or KioskDevice(code=device_code)
    device.hospital_id, device.secret, device.active = hospital.id, secret, True
    db.session.add(device)
    db.session.flush()
    return device, secret


def open_session(device, ecode):
    """Identify the patient by the e-voucher code; returns ``(session token, patient)``.

    The verified identity is stored as for a mini-program verification. Raises
    BadRequest (INVALID_ECODE), Upstream.
    """
    patient = verify_with("query_ecode", ecode, "电子医保凭证无效或已过期，请刷新后重试", "INVALID_ECODE")
    token = secrets.token_urlsafe(24)
    value = json.dumps({"patient_id": patient.id, "kiosk_id": device.id})
    redis.set(SESSION_KEY % token_digest(token), value, ex=SESSION_TTL)
    log.info("kiosk %s identified patient %s", device.code, patient.id)
    return token, patient


def session_patient(device, token):
    """The patient of a kiosk session opened on this very device. Raises Unauthorized (SESSION_EXPIRED)."""
    raw = redis.get(SESSION_KEY % token_digest(token))
    data = json.loads(raw) if raw else None
    if data is None or data["kiosk_id"] != device.id:
        raise Unauthorized("操作超时，请重新扫描电子医保凭证", code="SESSION_EXPIRED")
    return db.session.get(Patient, data["patient_id"])


def actor(device, token):
    """Who asks for an SMS code at a kiosk: this device and this session."""
    return "kiosk:%s:%s" % (device.id, token_digest(token)[:16])
