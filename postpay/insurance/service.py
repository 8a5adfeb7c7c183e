"""Settling bills with medical insurance (R13 共济付, R14): quote the split, confirm, cancel.

A quote takes the bills (a ``Payment`` of kind ``medins`` holds them live, so a bill is in
one payment or settlement at a time), commits, then uploads the fee details (6201) and
pre-settles (6202): the payer sees who pays what before confirming. Confirming places the
cash part's JSAPI order (when there is one) and WeChat's medical-insurance order. Every
request sent to WeChat is stored first, so a retry sends the same bytes.
"""

import datetime as dt
import logging

import requests
from sqlalchemy.exc import IntegrityError

from postpay import clients
from postpay.accounts.insurance import pay_auth_no
from postpay.accounts.models import Patient
from postpay.billing.service import HOLD_REASON
from postpay.errors import Conflict, DomainError, Invalid, NotFound, Upstream
from postpay.extensions import db
from postpay.insurance.models import OPEN, InsuranceSettlement, SettlementStatus
from postpay.payments import reserve
from postpay.payments.alerts import alert
from postpay.payments.channels import medins
from postpay.payments.channels.medins import check_payer
from postpay.payments.models import Payment, PaymentKind, PaymentOrder, PaymentStatus, digest, trade_no
from postpay.payments.reserve import NotPayable
from postpay.payments.service import by_key
from wechat import pay_medins
from wechat.medins import MedinsError
from wechat.pay import PayError

log = logging.getLogger(__name__)
INSURED = ("employee", "resident")
#: When the payer shared no location: ``经度,纬度`` as one public integration sends it (see docs/insurance.md).
NO_LOCATION = "0,0"


class OnHold(DomainError):
    status, code, message = 409, "INPATIENT_HOLD", HOLD_REASON  # R14


#: A quote not confirmed by then is withdrawn (``sweeps.poll_pending``): an abandoned quote
#: keeps its bills from a cash payment this long at most.
QUOTE_TIME = dt.timedelta(minutes=10)


def _digest(bill_ids, mutual_aid_id):
    return digest(list(bill_ids) + ["mutual-aid:%s" % (mutual_aid_id or "")])


class NotSettling(DomainError):
    status, code = 409, "MEDINS_NOT_CONFIGURED"
    message = "该医院尚未开通医保移动支付（缺少定点医药机构编号或医保城市编码），请使用自费支付"


def quote(user, bill_ids, mutual_aid_id, key, now, geo_location=NO_LOCATION):
    """A settlement of ``bill_ids`` (one patient, one hospital) with its split; ``mutual_aid_id``: the
    relative whose employee personal account pays too (共济): the payer's own, or one whose holder
    granted ``mutual_aid`` to the payer. ``geo_location``: the payer's ``经度,纬度`` (6201 uldLatlnt,
    WeChat's geo_location). The same key returns the same settlement.

    Raises NotFound, Forbidden, NotPayable (409), OnHold (409, R14), NotSettling (409: the hospital
    has no med_inst_no or medins_city_id), Conflict (409: MUTUAL_AID_NOT_ALLOWED, PAY_AUTH_EXPIRED),
    Invalid (NOT_INSURED, ONE_PATIENT_ONE_HOSPITAL, IDEMPOTENCY_KEY_REUSED), Upstream.
    """
    existing = by_key(user, key)
    if existing is not None:
        if existing.kind != PaymentKind.medins or existing.request_digest != _digest(bill_ids, mutual_aid_id):
            raise Invalid("同一Idempotency-Key不能用于不同的请求", code="IDEMPOTENCY_KEY_REUSED")
        settlement = InsuranceSettlement.query.filter_by(payment_id=existing.id).one()
        check_payer(user, settlement.patient_id, settlement.mutual_aid_patient_id)  # a binding may be gone since
        return _ask_platform(settlement, now)
    settlement = _reserve(user, sorted(set(bill_ids)), mutual_aid_id, key, now)
    medins.keep_auth(settlement.payment, pay_auth_no(settlement.patient, now), geo_location)
    try:
        db.session.commit()  # the bills are taken before the platform hears of them
    except IntegrityError:
        db.session.rollback()
        raise NotPayable() from None
    return _ask_platform(settlement, now)


def _reserve(user, bill_ids, mutual_aid_id, key, now):
    bills = reserve.lock_bills(user, bill_ids)
    if len({(b.patient_id, b.hospital_id) for b in bills}) != 1:
        raise Invalid("医保结算一次只能结算同一就诊人在同一医院的账单", code="ONE_PATIENT_ONE_HOSPITAL")
    check_payer(user, bills[0].patient_id, mutual_aid_id)
    reserve.check_due(bills, user)
    if any(b.hold_reason for b in bills):
        raise OnHold()
    patient, hospital = bills[0].patient, bills[0].hospital
    if not (hospital.med_inst_no and hospital.medins_city_id):
        raise NotSettling()
    if patient.insurance_type not in INSURED or patient.insured_status != "normal":
        raise Invalid("该就诊人没有正常参保的医保，只能自费支付", code="NOT_INSURED")
    pay_auth_no(patient, now)  # 409 PAY_AUTH_EXPIRED before the platform is asked
    _check_mutual_aid(patient, mutual_aid_id)
    reserve.check_free(bill_ids, user)  # the asker: a relative's hold is named (held_by)
    total = sum(b.total_fen for b in bills)
    payment = Payment(
        payer_user_id=user.id,
        idempotency_key=key,
        request_digest=_digest(bill_ids, mutual_aid_id),
        status=PaymentStatus.pending,
        kind=PaymentKind.medins,
        total_fen=total,
        out_trade_no=trade_no("M", now),
        combined=False,
        order_request={},
        expires_at=now + QUOTE_TIME,  # confirming gives the payer POSTPAY_ORDER_MINUTES to pay
    )
    order = PaymentOrder(
        payment=payment, hospital=hospital, mchid=hospital.mchid, out_trade_no=payment.out_trade_no, amount_fen=total
    )
    settlement = InsuranceSettlement(
        payment=payment,
        patient_id=patient.id,
        mutual_aid_patient_id=mutual_aid_id,
        hospital_id=hospital.id,
        status=SettlementStatus.quoting,
    )
    db.session.add_all([payment, order, settlement])
    db.session.flush()
    reserve.take(payment, [(order, bills)])
    return settlement


def pooling_region(insured_region):
    """统筹区: the prefecture-level region, the first 4 digits of the insured region code (docs/domain.md)."""
    return (insured_region or "")[:4] or None


def _check_mutual_aid(patient, mutual_aid_id):
    """共济 (R13): a verified relative on the employee scheme, insured normally, not the patient,
    insured in the patient's pooling region. Raises Conflict (409, MUTUAL_AID_NOT_ALLOWED)."""
    if mutual_aid_id is None:
        return
    relative = db.session.get(Patient, mutual_aid_id)
    if (
        relative.id == patient.id
        or relative.verified_at is None
        or relative.insurance_type != "employee"
        or relative.insured_status != "normal"
    ):
        raise Conflict("共济付只能使用已实名、正常参保的职工医保亲属的个人账户", code="MUTUAL_AID_NOT_ALLOWED")
    region = pooling_region(relative.insured_region)
    if region is None or region != pooling_region(patient.insured_region):
        raise Conflict(
            "共济付只能在同一统筹区内使用：个人账户持有人与就诊人的参保地不在同一地市", code="MUTUAL_AID_NOT_ALLOWED"
        )


def _ask_platform(settlement, now):
    """6201 and 6202 for a settlement still quoting. Raises Upstream, Invalid (the platform refused)."""
    if settlement.status != SettlementStatus.quoting:
        return settlement
    items = [
        {
            "no": item.id,
            "name": item.name,
            "category": item.category,
            "quantity_milli": item.quantity_milli,
            "unit_price_fen": item.unit_price_fen,
            "amount_fen": item.amount_fen,
        }
        for share in sorted(settlement.payment.bills, key=lambda s: s.bill_id)
        for item in share.bill.items
        if item.deferred and item.voided_at is None
    ]
    payment, mutual = settlement.payment, settlement.mutual_aid_patient
    visits = sorted((v for share in payment.bills for v in share.bill.visits), key=lambda v: v.registered_at)
    visit = visits[0] if visits else None
    order = {
        "no": payment.out_trade_no,
        "pay_auth_no": medins.kept_auth(payment),
        "latlnt": payment.order_request["geo_location"],
        "dept": visit.department if visit is not None else "门诊",
        "begin": visit.registered_at if visit is not None else now,
    }
    client, org = clients.medical_insurance(), settlement.hospital.med_inst_no
    try:
        uploaded = client.upload_fees(
            org, order, medins.person(settlement.patient), items, mutual and medins.person(mutual)
        )
        settlement.pay_ord_id, settlement.pay_token = uploaded["pay_ord_id"], uploaded["pay_token"]
        split = client.pre_settle(org, settlement.pay_ord_id, settlement.pay_token, order["pay_auth_no"], order["no"])
    except requests.RequestException as e:
        log.error("settlement %s: platform unreachable: %s", settlement.id, e)
        raise Upstream("医保平台暂时不可用，请稍后用同一请求重试") from None
    except MedinsError as e:
        medins.release(settlement, SettlementStatus.failed, now)
        db.session.commit()
        log.warning("settlement %s refused by the platform: %s", settlement.id, e.code)
        raise Upstream("医保平台未受理：%s" % e.message, code="MEDINS_REFUSED") from None
    if split["fee_sum_fen"] != settlement.payment.total_fen:
        medins.release(settlement, SettlementStatus.failed, now)
        db.session.commit()
        alert("MEDINS_FEE_MISMATCH", settlement=settlement.id, theirs=split["fee_sum_fen"])
        raise Upstream("医保平台金额与账单不一致，已转人工核对", code="MEDINS_MISMATCH")
    for field in ("fee_sum_fen", "fund_pay_fen", "psn_acct_pay_fen", "acct_mulaid_pay_fen", "own_pay_fen"):
        setattr(settlement, field, split[field])
    settlement.mix_pay_type = pay_medins.mix_pay_type(settlement.insurance_fen, settlement.own_pay_fen)
    settlement.transition(SettlementStatus.quoted)
    db.session.flush()
    return settlement


def settlement_for(user, settlement_id, lock=False):
    """The payer's own settlement. Raises NotFound for anyone else's."""
    settlement = db.session.get(InsuranceSettlement, settlement_id, with_for_update=lock)
    if settlement is None or settlement.payment.payer_user_id != user.id:
        raise NotFound("未找到该医保结算")
    return settlement


def cancel(user, settlement_id, now):
    """The payer gives up before paying: the upload is revoked (6401), the bills are free again.

    Raises NotFound, Conflict (SETTLEMENT_STATE: settled or over), Upstream.
    """
    settlement = settlement_for(user, settlement_id, lock=True)
    medins.refresh(settlement, now)
    if settlement.status not in OPEN:
        raise Conflict("医保结算状态为%s，不能取消" % settlement.status.value, code="SETTLEMENT_STATE")
    try:
        medins.withdraw(settlement)
    except (MedinsError, PayError, requests.RequestException) as e:
        log.error("cancelling settlement %s failed: %s", settlement.id, e)
        raise Upstream("医保订单撤销失败，请稍后重试") from None
    medins.release(settlement, SettlementStatus.cancelled, now)
    return settlement
