"""The national medical-insurance mobile-payment platform: auth codes for the
e-voucher authorization, and the user-info query in the SM4/SM2 envelope."""

from flask import current_app, jsonify, request

from wechat.sandbox import envelope as platform
from wechat.sandbox.common import STR, body_fields, error, new_code, put, route, take

CODE_TTL = 300
#: Ours -> the national dictionary codes the platform speaks.
TYPES = {"employee": platform.EMPLOYEE, "resident": platform.RESIDENT, "other": "999"}
STATUS = dict(zip(("normal", "suspended", "terminated"), platform.INSURED_STATES, strict=True))
PERSON = {
    "type": "object",
    "required": ["name", "id_number", "insured_region", "insurance_type", "insured_status"],
    "properties": {
        "name": STR,
        "id_number": STR,
        "insured_region": STR,
        "insurance_type": {"type": "string", "enum": sorted(TYPES) + [platform.EMPLOYEE, platform.RESIDENT]},
        "insured_status": {"type": "string", "enum": sorted(STATUS) + list(platform.INSURED_STATES)},
    },
}


def _mint(kind, answer_field):
    body, err = body_fields(*PERSON["required"])
    if err:
        return err
    itype = TYPES.get(body["insurance_type"], body["insurance_type"])
    status = STATUS.get(body["insured_status"], body["insured_status"])
    if itype not in TYPES.values() or status not in STATUS.values():
        return error(422, "VALIDATION_ERROR", "参保类型或参保状态不正确")
    if not (body["insured_region"].isdigit() and len(body["insured_region"]) == 6):
        return error(422, "VALIDATION_ERROR", "参保地应为6位行政区划代码")
    code = new_code()
    person = {
        "psnName": body["name"],
        "certno": body["id_number"],
        "psnCertType": "01",
        "insuplcAdmdvs": body["insured_region"],
        "insutype": itype,
        "psnInsuStas": status,
    }
    put("sbx:medins:%s:%s" % (kind, code), person, CODE_TTL)
    return jsonify({answer_field: code}), 201


@route(
    "/medins/auth-codes",
    ["POST"],
    "Sandbox: an e-voucher authorization code for a person (single use)",
    body=PERSON,
    answer={"type": "object", "properties": {"auth_code": STR}},
    status=201,
)
def auth_code():
    return _mint("auth", "auth_code")


@route(
    "/medins/ecodes",
    ["POST"],
    "Sandbox: an e-voucher QR code as a kiosk scans it (single use)",
    body=PERSON,
    answer={"type": "object", "properties": {"ecode": STR}},
    status=201,
)
def ecode():
    return _mint("ecode", "ecode")


def _answer(code, message):
    return jsonify({"code": code, "message": message})


def _serve(kind, field):
    """Open the request envelope, look the code up once, answer in a sealed envelope."""
    cfg = current_app.config
    envelope = request.get_json(force=True, silent=True)
    if not isinstance(envelope, dict):
        return _answer(-1, "报文格式错误")
    if envelope.get("appId") != cfg["SANDBOX_MEDINS_APP_ID"]:
        return _answer(1001, "appId不存在")
    try:
        data = platform.unseal(envelope, cfg["SANDBOX_MEDINS_APP_SECRET"], cfg["SANDBOX_MEDINS_APP_PUBLIC_KEY"])
    except platform.EnvelopeError as e:
        return _answer(1002, "验签失败: %s" % e)
    person = take("sbx:medins:%s:%s" % (kind, data.get(field, "")))
    if person is None:
        return _answer(platform.BAD_AUTH_CODE, "凭证无效或已使用")
    sealed = platform.seal(
        person,
        cfg["SANDBOX_MEDINS_APP_ID"],
        cfg["SANDBOX_MEDINS_APP_SECRET"],
        cfg["SANDBOX_MEDINS_PLATFORM_PRIVATE_KEY"],
    )
    return jsonify({"code": 0, "message": "成功", **sealed})


@route(
    "/medins/api/auth/userinfo",
    ["POST"],
    "Medical insurance: the person behind an authorization code",
    body={"type": "object"},
)
def userinfo():
    return _serve("auth", "authCode")


@route(
    "/medins/api/ec/query",
    ["POST"],
    "Medical insurance: the person behind an e-voucher QR code",
    body={"type": "object"},
)
def ec_query():
    return _serve("ecode", "ecQrCode")
