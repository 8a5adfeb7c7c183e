"""Post-pay eligibility, the commitment letter, SMS codes, signing and unsigning (mini-program)."""

from flask import Blueprint, abort, g, jsonify, request, url_for

from postpay import authz
from postpay.api import BOOL, HTML, STR, iso, loose, obj, route
from postpay.contracts import commitment, eligibility, service

bp = Blueprint("contracts", __name__)

PATIENT_ID = {"type": "string", "minLength": 1, "maxLength": 64}
PHONE = {"type": "string", "pattern": "^1[3-9][0-9]{9}$"}
REASON = loose(code=STR, message=STR)
CONTRACT = loose(
    id=STR,
    status={"type": "string", "enum": ["active", "cancelled"]},
    signed_at=STR,
    channel={"type": "string", "enum": ["miniprogram", "kiosk", "window"]},
)
#: Base64 of at most 200 KB, with room for a data-URL prefix.
SIGNATURE = {"type": "string", "minLength": 16, "maxLength": 280_000}
#: What every signing channel sends besides who signs.
SIGNING = {
    "commitment_version": {"type": "string", "maxLength": 32},
    "sms_code": {"type": "string", "pattern": "^[0-9]{6}$"},
    "signature_png": SIGNATURE,
}
#: What signing answers, in every channel, besides who may sign (``contracts.service.sign``).
SIGNING_ERRORS = {
    409: ("ALREADY_SIGNED", "COMMITMENT_OUTDATED"),
    422: (
        "INVALID_SIGNATURE",
        "NOT_ELIGIBLE",
        "SIGNATURE_BLANK",
        "SIGNATURE_TOO_LARGE",
        "SMS_CODE_EXPIRED",
        "SMS_CODE_LOCKED",
        "SMS_CODE_WRONG",
        "UNKNOWN_COMMITMENT_VERSION",
    ),
}


def contract_json(contract):
    return {
        "id": contract.id,
        "patient_id": contract.patient_id,
        "status": contract.status.value,
        "signed_at": iso(contract.signed_at),
        "channel": contract.channel.value,
        "commitment_version": contract.commitment_version,
        "cancelled_at": iso(contract.cancelled_at),
        "guarantor": contract.guarantor_patient_id is not None,
    }


def eligibility_json(patient, reasons):
    contract = eligibility.active_contract(patient.id)
    return {
        "patient_id": patient.id,
        "eligible": not reasons,
        "reasons": [r.as_json() for r in reasons],
        "contract": contract_json(contract) if contract else None,
    }


@route(
    bp,
    "/postpay/commitment/<version>",
    ["GET"],
    "The commitment letter page for the mini-program's web-view",
    auth=None,
    answers={200: HTML},
)
def commitment_page(version):
    try:
        return commitment.render(version)
    except KeyError:
        abort(404)


@route(
    bp,
    "/api/v1/postpay/commitment",
    ["GET"],
    "The current commitment letter and its page",
    auth=None,
    answers={200: loose(version=STR, url=STR, sha256=STR)},
)
def current_commitment():
    version = commitment.current_version()
    url = url_for("contracts.commitment_page", version=version, _external=True)
    return jsonify({"version": version, "url": url, "sha256": commitment.digest(version)})


@route(
    bp,
    "/api/v1/postpay/eligibility",
    ["GET"],
    "May this patient (own or a bound relative) use post-pay",
    query={"patient_id": PATIENT_ID},
    answers={200: loose(eligible=BOOL, reasons={"type": "array", "items": REASON})},
    errors={403: ("PERMISSION_DENIED",)},
)
def check_eligibility():
    patient_id = request.args.get("patient_id") or g.user.patient_id
    patient = authz.patient_for(g.user, patient_id, "view")
    return jsonify(eligibility_json(patient, eligibility.evaluate(patient)))


@route(
    bp,
    "/api/v1/postpay/sms-code",
    ["POST"],
    "Send the signing SMS code to the contract phone",
    body=obj(["patient_id", "phone"], patient_id=PATIENT_ID, phone=PHONE),
    answers={204: None},
    errors={
        403: ("ELDER_HAS_PHONE", "NOT_VERIFIED", "PERMISSION_DENIED", "PHONE_REQUIRED"),
        409: ("ALREADY_SIGNED",),
        422: ("NOT_ELIGIBLE", "PHONE_MISMATCH"),
        429: ("SMS_DAILY_LIMIT", "SMS_RATE_LIMITED"),
    },
)
def sms_code():
    service.request_code(g.user, g.body["patient_id"], g.body["phone"])
    return "", 204


@route(
    bp,
    "/api/v1/postpay/contracts",
    ["POST"],
    "Sign the post-pay contract (R6-R8)",
    body=obj(["patient_id", *SIGNING], patient_id=PATIENT_ID, **SIGNING),
    answers={201: loose(contract=CONTRACT)},
    errors={403: ("ELDER_HAS_PHONE", "NOT_VERIFIED", "PERMISSION_DENIED", "PHONE_REQUIRED")} | SIGNING_ERRORS,
)
def sign():
    b = g.body
    contract = service.sign_in_miniprogram(
        g.user,
        b["patient_id"],
        b["commitment_version"],
        b["sms_code"],
        b["signature_png"],
        request.remote_addr,
        request.user_agent.string,
    )
    return jsonify({"contract": contract_json(contract)}), 201


@route(
    bp,
    "/api/v1/postpay/contracts",
    ["GET"],
    "Contract history of a patient, newest first",
    query={"patient_id": PATIENT_ID},
    answers={200: loose(contracts={"type": "array", "items": CONTRACT})},
    errors={403: ("PERMISSION_DENIED",)},
)
def list_contracts():
    patient_id = request.args.get("patient_id") or g.user.patient_id
    patient = authz.patient_for(g.user, patient_id, "view")
    return jsonify({"contracts": [contract_json(c) for c in service.history(patient.id)]})


@route(
    bp,
    "/api/v1/postpay/contracts/<contract_id>",
    ["DELETE"],
    "Unsign (R10)",
    answers={204: None},
    errors={403: ("PERMISSION_DENIED",), 409: ("CONTRACT_STATE", "OUTSTANDING_BILLS")},
)
def cancel(contract_id):
    contract = service.contract_for(g.user, contract_id, "pay")
    service.cancel(contract, "user:%s" % g.user.id)
    return "", 204
