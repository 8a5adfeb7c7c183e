"""Signing (R6-R8) and unsigning (R10) post-pay contracts."""

import base64
import binascii
import logging

from sqlalchemy.exc import IntegrityError

from postpay import authz
from postpay.accounts.models import User
from postpay.billing.service import has_unpaid_bills
from postpay.clock import utcnow
from postpay.contracts import commitment, eligibility, sms_codes
from postpay.contracts.models import Channel, Contract, ContractStatus
from postpay.contracts.signature import check_png
from postpay.errors import Conflict, Forbidden, Invalid
from postpay.extensions import db

log = logging.getLogger(__name__)


def signing_party(user, patient_id):
    """``(patient, guarantor)`` when ``user`` may sign for ``patient_id``; guarantor is None for oneself.

    A relative bound with ``pay`` may sign for an elder who has no phone; the relative is
    then signer and guarantor, and the code goes to the relative's own WeChat phone.
    Raises NotFound, Forbidden (PERMISSION_DENIED, NOT_VERIFIED, ELDER_HAS_PHONE, PHONE_REQUIRED).
    """
    if patient_id == user.patient_id:
        return authz.own_patient(user), None
    patient = authz.patient_for(user, patient_id, "pay")
    guarantor = authz.own_patient(user)
    elder_has_phone = db.session.execute(
        db.select(User.id).where(User.patient_id == patient.id, User.phone.isnot(None)).limit(1)
    ).first()
    if elder_has_phone:
        raise Forbidden("该就诊人已绑定本人手机号，请由本人签约", code="ELDER_HAS_PHONE")
    if not user.phone:
        raise Forbidden("代签需先授权绑定您本人的手机号", code="PHONE_REQUIRED")
    return patient, guarantor


def check_can_sign(patient):
    """Raises Invalid (NOT_ELIGIBLE, listing every reason) or Conflict (ALREADY_SIGNED)."""
    reasons = eligibility.evaluate(patient, need_contract=False)
    if reasons:
        raise Invalid("不符合签约条件：" + "；".join(r.message for r in reasons), code="NOT_ELIGIBLE")
    if eligibility.active_contract(patient.id) is not None:
        raise Conflict("已签约先诊疗后付费，无需重复签约", code="ALREADY_SIGNED")


def request_code(user, patient_id, phone):
    """Send the signing code (R7). For a proxy signature the phone must be the relative's own."""
    patient, guarantor = signing_party(user, patient_id)
    if guarantor is not None and phone != user.phone:
        raise Invalid("代签验证码只能发送到您本人已授权的手机号", code="PHONE_MISMATCH")
    check_can_sign(patient)
    sms_codes.send(patient.id, phone, actor="user:%s" % user.id)


def decode_signature(signature_png):
    """Base64 (optionally a ``data:image/png;base64,`` URL) to checked PNG bytes.

    Raises Invalid (INVALID_SIGNATURE, SIGNATURE_TOO_LARGE, SIGNATURE_BLANK)."""
    text = signature_png.split(",", 1)[1] if signature_png.startswith("data:") else signature_png
    try:
        data = base64.b64decode(text, validate=True)
    except binascii.Error:
        raise Invalid("签名不是有效的base64", code="INVALID_SIGNATURE") from None
    check_png(data)
    return data


def sign(patient, actor, channel, version, sms_code, signature_png, client_ip, user_agent, **signer):
    """Sign a contract for ``patient`` (R6-R8): letter version, eligibility, signature image, SMS code.

    ``signer`` names ``signer_user_id``, ``guarantor_patient_id`` or ``kiosk_id``.
    Raises Invalid (UNKNOWN_COMMITMENT_VERSION, NOT_ELIGIBLE, INVALID_SIGNATURE, SIGNATURE_BLANK,
    SIGNATURE_TOO_LARGE, SMS_CODE_*),
    Conflict (COMMITMENT_OUTDATED, ALREADY_SIGNED).
    """
    if version not in commitment.versions():
        raise Invalid("承诺书版本不存在", code="UNKNOWN_COMMITMENT_VERSION")
    if version != commitment.current_version():
        raise Conflict("承诺书已更新，请阅读最新版本后签署", code="COMMITMENT_OUTDATED")
    check_can_sign(patient)
    png = decode_signature(signature_png)
    phone = sms_codes.consume(patient.id, actor, sms_code)
    contract = Contract(
        patient_id=patient.id,
        status=ContractStatus.active,
        channel=channel,
        commitment_version=version,
        commitment_sha256=commitment.digest(version),
        phone=phone,
        signature_png=png,
        client_ip=(client_ip or "")[:64],
        user_agent=(user_agent or "")[:512],
        **signer,
    )
    try:
        with db.session.begin_nested():
            db.session.add(contract)
    except IntegrityError:
        raise Conflict("已签约先诊疗后付费，无需重复签约", code="ALREADY_SIGNED") from None
    log.info("contract %s signed for patient %s via %s", contract.id, patient.id, channel.value)
    return contract


def sign_in_miniprogram(user, patient_id, version, sms_code, signature_png, client_ip, user_agent):
    """The mini-program channel: for oneself, or as signer and guarantor for an elder."""
    patient, guarantor = signing_party(user, patient_id)
    return sign(
        patient,
        "user:%s" % user.id,
        Channel.miniprogram,
        version,
        sms_code,
        signature_png,
        client_ip,
        user_agent,
        signer_user_id=user.id,
        guarantor_patient_id=guarantor.id if guarantor else None,
    )


def cancel(contract, by):
    """Unsign (R10): only with no unpaid post-pay bill. History stays; re-signing makes a new contract.

    Raises Conflict (OUTSTANDING_BILLS, CONTRACT_STATE).
    """
    db.session.refresh(contract, with_for_update=True)
    if has_unpaid_bills(contract.patient_id):
        raise Conflict("存在未结清的诊后付费用，结清后才能解约", code="OUTSTANDING_BILLS")
    contract.transition(ContractStatus.cancelled)
    contract.cancelled_at = utcnow()
    contract.cancelled_by = by
    db.session.flush()
    log.info("contract %s cancelled by %s", contract.id, by)


def contract_for(user, contract_id, permission):
    """A contract of a patient ``user`` may ``permission`` for. Raises NotFound, Forbidden."""
    return authz.owned(user, Contract, contract_id, permission, "未找到该签约")


def history(patient_id):
    query = db.select(Contract).where(Contract.patient_id == patient_id).order_by(Contract.signed_at.desc())
    return db.session.execute(query).scalars().all()
