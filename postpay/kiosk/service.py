"""Self-service kiosks (R6, R8): signed device requests; the patient is identified by the
medical-insurance e-voucher code, which stands for the social security card, or by the identity
card its reader read, confirmed with the platform (1101); either way the person may then consent
to a relative's pending binding (R15)."""

import json
import logging
import secrets

from postpay.accounts.models import Patient
from postpay.accounts.service import verify_id_card, verify_with
from postpay.errors import NotFound, Unauthorized
from postpay.extensions import db, redis
from postpay.family import service as family
from postpay.his.signing import signed_caller
from postpay.hospitals.models import Hospital
from postpay.kiosk.models import KioskDevice
from postpay.security import token_digest

log = logging.getLogger(__name__)

SESSION_TTL = 600
SESSION_KEY = "kiosk:session:%s"
ID_CARD_REFUSED = "身份证信息未通过医保平台核验，请到人工窗口办理"


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


def open_session(device, ecode=None, id_card=None):
    """Identify the patient by the e-voucher code or by the identity card's name and number (R8);
    returns ``(session token, patient)``.

    The verified identity is stored as for a mini-program verification (an identity card with
    ``verified_by`` ``kiosk_id_card``). Raises BadRequest (INVALID_ECODE), Invalid (BAD_ID_NUMBER,
    ID_CARD_NOT_CONFIRMED), Upstream.
    """
    if id_card is not None:
        patient = verify_id_card(
            id_card["name"], id_card["id_number"], "kiosk_id_card", ID_CARD_REFUSED, "ID_CARD_NOT_CONFIRMED"
        )
    else:
        patient = verify_with("query_ecode", ecode, "电子医保凭证无效或已过期，请刷新后重试", "INVALID_ECODE")
    token = secrets.token_urlsafe(24)
    value = json.dumps({"patient_id": patient.id, "kiosk_id": device.id})
    redis.set(SESSION_KEY % token_digest(token), value, ex=SESSION_TTL)
    log.info("kiosk %s identified patient %s by %s", device.code, patient.id, "id card" if id_card else "e-voucher")
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


def consent(device, token, binding_id):
    """R15 at the kiosk: the session's patient, identified by her own card or e-voucher, consents
    to a binding that waits for her. Raises Unauthorized (SESSION_EXPIRED), NotFound (not pending
    for her: the asker's own session finds nothing), Conflict (BINDING_STATE, TOO_MANY_RELATIVES)."""
    patient = session_patient(device, token)
    binding = family.consent_in_person(binding_id, patient.id, "kiosk")
    log.info("kiosk %s: binding %s consented", device.code, binding.id)
    return binding
