"""Medical-insurance settlement for the mini-program (R13, R14), and WeChat's medical-insurance
notifications."""

import datetime as dt
import secrets

from flask import Blueprint, g, jsonify, request

from postpay import clients
from postpay.api import INT, STR, idempotency_key, iso, loose, obj, route
from postpay.errors import BadRequest
from postpay.insurance import orders, service
from postpay.openapi import ERROR
from postpay.payments.channels import medins

bp = Blueprint("insurance", __name__)

NULLABLE_INT = {"type": ["integer", "null"]}
ID = {"type": "string", "minLength": 1, "maxLength": 64}
PAYER = loose(
    part={"type": "string", "enum": ["fund", "personal_account", "mutual_aid", "cash"]},
    who=STR,
    patient_id={"type": ["string", "null"]},
    amount_fen=INT,
)
SETTLEMENT = loose(
    id=STR,
    status={"type": "string", "enum": ["quoting", "quoted", "ordered", "settled", "cancelled", "failed"]},
    payment_id=STR,
    out_trade_no=STR,
    bill_ids={"type": "array", "items": STR},
    patient_id=STR,
    mutual_aid_patient_id={"type": ["string", "null"]},
    fee_sum_fen=NULLABLE_INT,
    fund_pay_fen=NULLABLE_INT,
    psn_acct_pay_fen=NULLABLE_INT,
    acct_mulaid_pay_fen=NULLABLE_INT,
    own_pay_fen=NULLABLE_INT,
    mix_pay_type={"type": ["string", "null"]},
    mix_trade_no={"type": ["string", "null"]},
    payers={"type": "array", "items": PAYER},
    expires_at=STR,
    settled_at={"type": ["string", "null"]},
)
#: ``经度,纬度`` (longitude,latitude), as 6201 uldLatlnt and WeChat's geo_location take it.
GEO = {"type": "string", "maxLength": 40, "pattern": r"^-?\d{1,3}(\.\d{1,8})?,-?\d{1,2}(\.\d{1,8})?$"}
#: What ``wx.requestMedicalInsurancePay`` takes (WeChat Pay's 小程序调起医保自费混合支付): mixTradeNo,
#: and the cash part's JSAPI parameters when there is one.
MEDICAL_INSURANCE_PAY = {
    "type": ["object", "null"],
    "required": ["mixTradeNo"],
    "properties": {k: STR for k in ("mixTradeNo", "appId", "timeStamp", "nonceStr", "package", "signType", "paySign")},
}
REQUEST_PAYMENT = {
    "type": ["object", "null"],
    "required": ["timeStamp", "nonceStr", "package", "signType", "paySign"],
    "properties": {k: STR for k in ("appId", "timeStamp", "nonceStr", "package", "signType", "paySign")},
}


def payers(s):
    """Who pays what, as the payment page shows it before the payer confirms."""
    if s.fee_sum_fen is None:
        return []
    rows = [
        ("fund", "医保统筹基金", None, s.fund_pay_fen),
        ("personal_account", "%s的医保个人账户" % s.patient.name, s.patient_id, s.psn_acct_pay_fen),
    ]
    if s.mutual_aid_patient is not None:
        rows.append(
            (
                "mutual_aid",
                "%s的职工医保个人账户（共济）" % s.mutual_aid_patient.name,
                s.mutual_aid_patient_id,
                s.acct_mulaid_pay_fen,
            )
        )
    rows.append(("cash", "微信支付（个人自付）", None, s.own_pay_fen))
    return [{"part": p, "who": w, "patient_id": pid, "amount_fen": a} for p, w, pid, a in rows if a]


def settlement_json(s):
    return {
        "id": s.id,
        "status": s.status.value,
        "payment_id": s.payment_id,
        "out_trade_no": s.payment.out_trade_no,
        "bill_ids": sorted(b.bill_id for b in s.payment.bills),
        "patient_id": s.patient_id,
        "mutual_aid_patient_id": s.mutual_aid_patient_id,
        "fee_sum_fen": s.fee_sum_fen,
        "fund_pay_fen": s.fund_pay_fen,
        "psn_acct_pay_fen": s.psn_acct_pay_fen,
        "acct_mulaid_pay_fen": s.acct_mulaid_pay_fen,
        "own_pay_fen": s.own_pay_fen,
        "mix_pay_type": s.mix_pay_type,
        # WeChat's medical-insurance order, for the payment page (INSURANCE_ONLY has no request_payment).
        "mix_trade_no": s.mix_trade_no,
        "payers": payers(s),
        "expires_at": iso(s.payment.expires_at),
        "settled_at": iso(s.settled_at),
    }


def _now():
    return dt.datetime.now(dt.timezone.utc)


@route(
    bp,
    "/api/v1/insurance-settlements",
    ["POST"],
    "Quote a medical-insurance settlement of due bills (one patient, one hospital): the split before confirming",
    body=obj(
        ["bill_ids"],
        bill_ids={"type": "array", "minItems": 1, "maxItems": 20, "uniqueItems": True, "items": ID},
        mutual_aid_patient_id=ID,
        geo_location=GEO,
    ),
    answers={201: loose(settlement=SETTLEMENT)},
    headers=idempotency_key(required=False),
    errors={
        400: ("IDEMPOTENCY_KEY_REQUIRED",),
        403: ("NOT_VERIFIED", "PERMISSION_DENIED"),
        409: (
            "BILL_NOT_PAYABLE",
            "INPATIENT_HOLD",
            "MEDINS_NOT_CONFIGURED",
            "MUTUAL_AID_NOT_ALLOWED",
            "PAY_AUTH_EXPIRED",
        ),
        422: ("IDEMPOTENCY_KEY_REUSED", "NOT_INSURED", "ONE_PATIENT_ONE_HOSPITAL"),
        502: ("MEDINS_MISMATCH", "MEDINS_REFUSED"),
    },
)
def create():
    key = request.headers.get("Idempotency-Key") or "auto-" + secrets.token_hex(12)
    if not 8 <= len(key) <= 128:
        raise BadRequest("请求头Idempotency-Key应为8-128个字符", code="IDEMPOTENCY_KEY_REQUIRED")
    where = g.body.get("geo_location") or service.NO_LOCATION
    s = service.quote(g.user, g.body["bill_ids"], g.body.get("mutual_aid_patient_id"), key, _now(), where)
    return jsonify({"settlement": settlement_json(s)}), 201


@route(
    bp,
    "/api/v1/insurance-settlements/<settlement_id>/confirm",
    ["POST"],
    "Confirm the split: the WeChat medical-insurance order is placed; the payer's permissions are asked again",
    body=obj(),
    answers={
        200: loose(
            settlement=SETTLEMENT, request_payment=REQUEST_PAYMENT, request_medical_insurance_pay=MEDICAL_INSURANCE_PAY
        ),
        403: ERROR,
        409: ERROR,
    },
    errors={
        403: ("NOT_VERIFIED", "PERMISSION_DENIED"),
        409: ("INPATIENT_HOLD", "MUTUAL_AID_NOT_ALLOWED", "SETTLEMENT_STATE"),
    },
)
def confirm(settlement_id):
    s = orders.confirm(g.user, settlement_id, _now(), g.user_app)
    prepay, placed = s.payment.prepay_id, s.payment.order_request.get("med_ins") or {}
    # paySign over the app the orders were placed in: the hospital's sub_appid, else appid
    appid = placed.get("sub_appid") or placed.get("appid")
    rp = clients.wechat_pay().request_payment(prepay, appid) if prepay else None
    mip = {"mixTradeNo": s.mix_trade_no} | (rp or {}) if s.mix_trade_no else None
    return jsonify({"settlement": settlement_json(s), "request_payment": rp, "request_medical_insurance_pay": mip})


@route(
    bp,
    "/api/v1/insurance-settlements/<settlement_id>",
    ["GET"],
    "A medical-insurance settlement; an ordered one is checked with the platform first",
    answers={200: loose(settlement=SETTLEMENT)},
)
def show(settlement_id):
    s = medins.refresh(service.settlement_for(g.user, settlement_id, lock=True), _now())
    return jsonify({"settlement": settlement_json(s)})


@route(
    bp,
    "/api/v1/insurance-settlements/<settlement_id>",
    ["DELETE"],
    "Cancel an unsettled medical-insurance settlement (6401): the bills are free again",
    answers={204: None},
    errors={409: ("SETTLEMENT_STATE",)},
)
def cancel(settlement_id):
    service.cancel(g.user, settlement_id, _now())
    return "", 204
