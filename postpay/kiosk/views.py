"""The kiosk channel (``/kiosk/v1``, R6, R8, R10): sign and unsign at a self-service machine."""

from flask import Blueprint, g, jsonify, request, url_for

from postpay.api import INT, STR, authenticator, loose, obj, route
from postpay.contracts import commitment, eligibility
from postpay.contracts import service as contracts
from postpay.contracts.models import Channel
from postpay.contracts.views import CONTRACT, PHONE, SIGNING, contract_json, eligibility_json
from postpay.errors import NotFound
from postpay.family import service as family
from postpay.family.views import BINDING, binding_json
from postpay.kiosk import service
from postpay.security import mask_id_number, mask_name

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
            patient={"type": "object"},
            eligibility={"type": "object"},
            commitment={"type": "object"},
            pending_bindings={"type": "array", "items": BINDING},
        )
    },
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
)
def cancel():
    patient = service.session_patient(g.kiosk, g.body["session"])
    contract = eligibility.active_contract(patient.id)
    if contract is None:
        raise NotFound("没有生效中的签约", code="NO_CONTRACT")
    contracts.cancel(contract, "kiosk:%s" % g.kiosk.id)
    return "", 204
