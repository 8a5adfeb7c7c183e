"""The kiosk channel (``/kiosk/v1``, R6, R8, R10, R11): sign, unsign and pay at a self-service machine."""

import datetime as dt

from flask import Blueprint, g, jsonify, request, url_for

from postpay.api import BOOL, INT, NULLABLE_STR, STR, authenticator, iso, loose, obj, route
from postpay.contracts import commitment, eligibility
from postpay.contracts import service as contracts
from postpay.contracts.models import Channel
from postpay.contracts.views import CONTRACT, PHONE, REASON, SIGNING, SIGNING_ERRORS, contract_json, eligibility_json
from postpay.errors import BadRequest, Invalid, NotFound
from postpay.family import service as family
from postpay.family.views import BINDING, binding_json
from postpay.kiosk import paying, service
from postpay.security import mask_id_number, mask_name
from postpay.visits.views import ITEM, item_json

bp = Blueprint("kiosk", __name__, url_prefix="/kiosk/v1")

SESSION = {"type": "string", "minLength": 8, "maxLength": 64}
#: Either the e-voucher QR code or the identity card the kiosk's reader read (R8).
SESSION_BODY = {
    "type": "object",
    "properties": {
        "ecode": {"type": "string", "minLength": 1, "maxLength": 256},
        "id_card": obj(
            ["name", "id_number"],
            name={"type": "string", "minLength": 1, "maxLength": 64},
            id_number={"type": "string", "minLength": 15, "maxLength": 18},
        ),
    },
    "additionalProperties": False,
    "oneOf": [{"required": ["ecode"]}, {"required": ["id_card"]}],
}


@authenticator("kiosk", "kiosk")
def signed_kiosk():
    return service.authenticate()


@route(
    bp,
    "/sessions",
    ["POST"],
    "Identify the patient by the e-voucher QR code or the identity card read by the kiosk (R8)",
    auth="kiosk",
    body=SESSION_BODY,
    answers={
        201: loose(
            session=STR,
            expires_in=INT,
            patient=loose(name=STR, id_number=STR),  # both masked
            eligibility=loose(
                patient_id=STR,
                eligible=BOOL,
                reasons={"type": "array", "items": REASON},
                contract={"anyOf": [CONTRACT, {"type": "null"}]},
            ),
            commitment=loose(version=STR, url=STR),
            pending_bindings={"type": "array", "items": BINDING},
        )
    },
    errors={400: ("INVALID_ECODE",), 422: ("BAD_ID_NUMBER", "ID_CARD_NOT_CONFIRMED")},
)
def open_session():
    token, patient = service.open_session(g.kiosk, g.body.get("ecode"), g.body.get("id_card"))
    version = commitment.current_version()
    return jsonify(
        {
            "session": token,
            "expires_in": service.SESSION_TTL,
            "patient": {"name": mask_name(patient.name), "id_number": mask_id_number(patient.id_number)},
            "eligibility": eligibility_json(patient, eligibility.evaluate(patient)),
            "commitment": {
                "version": version,
                "url": url_for("contracts.commitment_page", version=version, _external=True),
            },
            "pending_bindings": [binding_json(b, "received") for b in family.pending_for(patient.id)],
        }
    ), 201


@route(
    bp,
    "/bindings/<binding_id>/consent",
    ["POST"],
    "The session's patient consents to a relative's pending binding (R15, after the card or e-voucher)",
    auth="kiosk",
    body=obj(["session"], session=SESSION),
    answers={200: loose(binding=BINDING)},
    errors={401: ("SESSION_EXPIRED",), 409: ("BINDING_STATE", "ELDER_HAS_PHONE", "TOO_MANY_RELATIVES")},
)
def consent(binding_id):
    binding = service.consent(g.kiosk, g.body["session"], binding_id)
    return jsonify({"binding": binding_json(binding, "received")})


@route(
    bp,
    "/postpay/sms-code",
    ["POST"],
    "Send the signing code to the phone the patient confirms",
    auth="kiosk",
    body=obj(["session", "phone"], session=SESSION, phone=PHONE),
    answers={204: None},
    errors={
        401: ("SESSION_EXPIRED",),
        409: ("ALREADY_SIGNED",),
        422: ("NOT_ELIGIBLE",),
        429: ("SMS_DAILY_LIMIT", "SMS_RATE_LIMITED"),
    },
)
def sms_code():
    patient = service.session_patient(g.kiosk, g.body["session"])
    contracts.check_can_sign(patient)
    contracts.sms_codes.send(patient.id, g.body["phone"], service.actor(g.kiosk, g.body["session"]))
    return "", 204


@route(
    bp,
    "/postpay/contracts",
    ["POST"],
    "Sign at the kiosk",
    auth="kiosk",
    body=obj(["session", *SIGNING], session=SESSION, **SIGNING),
    answers={201: loose(contract=CONTRACT)},
    errors={401: ("SESSION_EXPIRED",)} | SIGNING_ERRORS,
)
def sign():
    b = g.body
    patient = service.session_patient(g.kiosk, b["session"])
    contract = contracts.sign(
        patient,
        service.actor(g.kiosk, b["session"]),
        Channel.kiosk,
        b["commitment_version"],
        b["sms_code"],
        b["signature_png"],
        request.remote_addr,
        request.user_agent.string,
        kiosk_id=g.kiosk.id,
    )
    return jsonify({"contract": contract_json(contract)}), 201


@route(
    bp,
    "/postpay/contracts/cancel",
    ["POST"],
    "Unsign at the kiosk (取消诊后付, R10)",
    auth="kiosk",
    body=obj(["session"], session=SESSION),
    answers={204: None},
    errors={401: ("SESSION_EXPIRED",), 404: ("NO_CONTRACT",), 409: ("CONTRACT_STATE", "OUTSTANDING_BILLS")},
)
def cancel():
    patient = service.session_patient(g.kiosk, g.body["session"])
    contract = eligibility.active_contract(patient.id)
    if contract is None:
        raise NotFound("没有生效中的签约", code="NO_CONTRACT")
    contracts.cancel(contract, "kiosk:%s" % g.kiosk.id)
    return "", 204


KIOSK_BILL = loose(
    id=STR,
    hospital=loose(code=STR, name=STR),
    visit_day=STR,
    amount_fen=INT,
    due_at=NULLABLE_STR,
    overdue=BOOL,
    held=BOOL,
    items={"type": "array", "items": ITEM},
)
KIOSK_PAYMENT = loose(
    id=STR,
    method={"type": "string", "enum": ["code", "qr"]},
    status=STR,
    total_fen=INT,
    bill_ids={"type": "array", "items": STR},
    code_url=NULLABLE_STR,
    expires_at=STR,
    paid_at=NULLABLE_STR,
)


def _session_patient():
    token = request.args.get("session", "")
    if not 8 <= len(token) <= 64:
        raise BadRequest("缺少会话（session）", code="VALIDATION_ERROR")
    return service.session_patient(g.kiosk, token)


@route(
    bp,
    "/bills",
    ["GET"],
    "The session patient's due bills at this kiosk's hospital, oldest first (R11)",
    auth="kiosk",
    query={"session": SESSION},
    answers={200: loose(bills={"type": "array", "items": KIOSK_BILL})},
    errors={400: ("VALIDATION_ERROR",), 401: ("SESSION_EXPIRED",)},
)
def bills():
    patient = _session_patient()
    found, held = paying.due_bills(g.kiosk, patient)
    now = dt.datetime.now(dt.timezone.utc)
    return jsonify(
        {
            "bills": [
                {
                    "id": b.id,
                    "hospital": {"code": g.kiosk.hospital.code, "name": g.kiosk.hospital.name},
                    "visit_day": b.visit_day.isoformat(),
                    "amount_fen": b.total_fen,
                    "due_at": iso(b.due_at),
                    "overdue": bool(b.due_at and b.due_at < now),
                    "held": b.id in held,
                    "items": [item_json(i) for i in b.items],
                }
                for b in found
            ]
        }
    )


def kiosk_payment_json(payment):
    return {
        "id": payment.id,
        "method": "code" if payment.kind.value == "micropay" else "qr",
        "status": payment.status.value,
        "total_fen": payment.total_fen,
        "bill_ids": sorted(b.bill_id for b in payment.bills),
        "code_url": payment.code_url if payment.status.value == "pending" else None,
        "expires_at": iso(payment.expires_at),
        "paid_at": iso(payment.paid_at),
    }


@route(
    bp,
    "/payments",
    ["POST"],
    "Pay due bills at the kiosk: the payment code or face scanned here (micropay), or a QR code to scan",
    auth="kiosk",
    body=obj(
        ["session", "bill_ids"],
        session=SESSION,
        bill_ids={
            "type": "array",
            "minItems": 1,
            "maxItems": 50,
            "uniqueItems": True,
            "items": {"type": "string", "minLength": 1, "maxLength": 64},
        },
        auth_code={"type": "string", "minLength": 1, "maxLength": 128},
        method={"type": "string", "enum": ["qr"]},
    ),
    answers={201: loose(payment=KIOSK_PAYMENT)},
    errors={
        401: ("SESSION_EXPIRED",),
        409: ("BILL_NOT_PAYABLE", "MICROPAY_UNKNOWN"),
        422: ("INVALID_AUTH_CODE", "MICROPAY_REFUSED", "MICROPAY_REVERSED"),
    },
)
def pay():
    b = g.body
    if ("auth_code" in b) == ("method" in b):
        raise Invalid("请扫描付款码（auth_code），或选择扫码支付（method: qr），二选一", code="VALIDATION_ERROR")
    patient = service.session_patient(g.kiosk, b["session"])
    now = dt.datetime.now(dt.timezone.utc)
    if "auth_code" in b:
        payment = paying.pay_by_code(g.kiosk, patient, b["bill_ids"], b["auth_code"], request.remote_addr, now)
    else:
        payment = paying.pay_by_qr(g.kiosk, patient, b["bill_ids"], now)
    return jsonify({"payment": kiosk_payment_json(payment)}), 201


@route(
    bp,
    "/payments/<payment_id>",
    ["GET"],
    "A payment taken at this kiosk: poll it while the QR code is shown",
    auth="kiosk",
    query={"session": SESSION},
    answers={200: loose(payment=KIOSK_PAYMENT)},
    errors={400: ("VALIDATION_ERROR",), 401: ("SESSION_EXPIRED",)},
)
def show_payment(payment_id):
    payment = paying.payment_of(g.kiosk, _session_patient(), payment_id)
    return jsonify({"payment": kiosk_payment_json(payment)})
