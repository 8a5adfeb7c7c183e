"""The medical-insurance identity side in the sandbox: auth codes of the 医保授权 mini-program,
Tencent's ``userQuery`` (god-portal HMAC headers) that turns one into a payAuthNo, the kiosk's
e-voucher decode (ecToken), and transaction 1101 (人员信息获取) in the SM4/SM2 envelope.

A payAuthNo or ecToken is kept under ``sbx:medins:cert:<no>`` as ``{"person", "expires_at"}``
(the person in the platform's 1101 vocabulary, the expiry in epoch seconds), so the sandbox's
settlement transactions can check it. 1101 reads it whatever the stated expiry: it is asked
right after userQuery, and the expiry is what the settlement honours.

1101 also answers for an identity card (mdtrt_cert_type 02, R8): the platform knows every insured
person by identity number (``sbx:medins:person:<number>``, learnt from every helper that names a
person, and from ``POST /sandbox/medins/persons`` for those who never used an e-voucher), and
answers only when ``psn_name`` is the name it holds.
"""

import datetime as dt
import hashlib
import hmac
import json
import secrets
import time

from flask import current_app, jsonify, request

from wechat.sandbox import envelope as platform
from wechat.sandbox.common import CST, OBJ, STR, body_fields, error, new_code, put, redis, route, take

CODE_TTL = 300
#: How long the sandbox keeps a payAuthNo or ecToken it minted, whatever validity it states.
CERT_TTL = 86400
#: The validity userQuery states for a payAuthNo unless the auth code asked for another.
PAY_AUTH_TTL = 1800
#: How far the god-portal timestamp may be from the sandbox's clock (the sandbox's choice).
MAX_SKEW_MS = 300_000
CERT_KEY = "sbx:medins:cert:%s"
#: Every insured person the sandbox's platform knows, by identity number (1101 with 02, R8).
PERSON_KEY = "sbx:medins:person:%s"
PERSON_TTL = 30 * 86400
#: 1101's 就诊凭证类型 (mdtrt_cert_type): 01 医保电子凭证, 02 居民身份证.
E_VOUCHER, ID_CARD = "01", "02"
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
AUTH_CODE_BODY = dict(
    PERSON,
    properties=PERSON["properties"] | {"pay_auth_expires_in": {"type": "integer", "minimum": 0, "maximum": 86400}},
)


def _person(body):
    """The person of a helper's body in the platform's 1101 vocabulary, or an error answer."""
    itype = TYPES.get(body["insurance_type"], body["insurance_type"])
    status = STATUS.get(body["insured_status"], body["insured_status"])
    if itype not in TYPES.values() or status not in STATUS.values():
        return None, error(422, "VALIDATION_ERROR", "参保类型或参保状态不正确")
    region = body["insured_region"]
    if not (region.isdigit() and len(region) == 6):
        return None, error(422, "VALIDATION_ERROR", "参保地应为6位行政区划代码")
    # 人员编号: stable per person, as the platform's is.
    psn_no = region + "%016d" % (int(hashlib.sha256(body["id_number"].encode()).hexdigest(), 16) % 10**16)
    person = {
        "psn_no": psn_no,
        "psn_name": body["name"],
        "certno": body["id_number"],
        "psn_cert_type": "01",
        "insuplc_admdvs": region,
        "insutype": itype,
        "psn_insu_stas": status,
    }
    # The platform knows every insured person, whether or not they ever used an e-voucher.
    put(PERSON_KEY % person["certno"], person, PERSON_TTL)
    return person, None


def _mint(kind, answer_field):
    body, err = body_fields(*PERSON["required"])
    if err:
        return err
    expires_in = body.get("pay_auth_expires_in", PAY_AUTH_TTL)
    if kind != "auth" and "pay_auth_expires_in" in body:
        return error(422, "VALIDATION_ERROR", "电子凭证码不接受 pay_auth_expires_in")
    if type(expires_in) is not int or not 0 <= expires_in <= CERT_TTL:
        return error(422, "VALIDATION_ERROR", "pay_auth_expires_in 应为0到86400的整数（秒）")
    person, err = _person(body)
    if err:
        return err
    code = new_code()
    put("sbx:medins:%s:%s" % (kind, code), {"person": person, "expires_in": expires_in}, CODE_TTL)
    return jsonify({answer_field: code}), 201


@route(
    "/medins/persons",
    ["POST"],
    "Sandbox: an insured person the platform knows, for 1101 by identity number and name (R8)",
    body=PERSON,
    answer={"type": "object", "properties": {"psn_no": STR}},
    status=201,
)
def persons():
    body, err = body_fields(*PERSON["required"])
    if err:
        return err
    person, err = _person(body)
    if err:
        return err
    return jsonify({"psn_no": person["psn_no"]}), 201


@route(
    "/medins/auth-codes",
    ["POST"],
    "Sandbox: a 医保授权 auth code for a person (single use); pay_auth_expires_in: the payAuthNo's validity",
    body=AUTH_CODE_BODY,
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


def _new_cert(prefix, person, expires_in):
    number = prefix + secrets.token_hex(12).upper()
    expires_at = int(time.time()) + expires_in
    put(CERT_KEY % number, {"person": person, "expires_at": expires_at}, CERT_TTL)
    return number, expires_at


def _portal_refusal(partner_id):
    """Why the god-portal headers fail (an answer: HTTP 200 with a non-zero code), or None:
    unknown partner, stale timestamp, bad signature (hex HMAC-SHA256 under the partner secret
    of partnerId + timestamp)."""
    cfg = current_app.config
    if not partner_id or partner_id != cfg["SANDBOX_MEDINS_USERQUERY_PARTNER_ID"]:
        return jsonify({"code": 40101, "message": "partnerId不存在"})
    stamp = request.headers.get("god-portal-timestamp", "")
    if not stamp.isdigit() or abs(time.time() * 1000 - int(stamp)) > MAX_SKEW_MS:
        return jsonify({"code": 40103, "message": "god-portal-timestamp 已过期或格式错误"})
    secret = cfg["SANDBOX_MEDINS_USERQUERY_SECRET"].encode()
    expected = hmac.new(secret, (partner_id + stamp).encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, request.headers.get("god-portal-signature", "")):
        return jsonify({"code": 40102, "message": "god-portal-signature 验签失败"})
    return None


@route(
    "/medins/api/mipuserquery/userQuery/<partner_id>",
    ["POST"],
    "Tencent med-ins: the payAuthNo and person behind a 医保授权 auth code (god-portal HMAC headers)",
    body={"type": "object", "properties": {"qrcode": STR, "openid": STR}},
)
def user_query(partner_id):
    refused = _portal_refusal(partner_id)
    if refused:
        return refused
    body = request.get_json(force=True, silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("qrcode"), str) or not isinstance(body.get("openid"), str):
        return jsonify({"code": 40001, "message": "qrcode、openid 为必填字符串"})
    found = take("sbx:medins:auth:%s" % body["qrcode"])
    if found is None:
        return jsonify({"code": platform.BAD_AUTH_CODE, "message": "授权码无效或已过期"})
    person = found["person"]
    number, expires_at = _new_cert("AUTH", person, found["expires_in"])
    return jsonify(
        {
            "code": 0,
            "message": "success",
            "user_name": person["psn_name"],
            "user_card_type": person["psn_cert_type"],
            "user_card_no": person["certno"],
            "pay_auth_no": number,
            "pay_auth_no_expire_time": dt.datetime.fromtimestamp(expires_at, CST).strftime("%Y%m%d%H%M%S"),
            "user_longitude_latitude": {"longitude": "120.894", "latitude": "31.981"},
        }
    )


def _answer(code, message):
    return jsonify({"code": code, "message": message})


def _opened():
    """The request envelope's data, or an error answer (bad envelope, unknown app, bad signature)."""
    cfg = current_app.config
    sealed = request.get_json(force=True, silent=True)
    if not isinstance(sealed, dict):
        return None, _answer(-1, "报文格式错误")
    if sealed.get("appId") != cfg["SANDBOX_MEDINS_APP_ID"]:
        return None, _answer(1001, "appId不存在")
    try:
        return platform.unseal(sealed, cfg["SANDBOX_MEDINS_APP_SECRET"], cfg["SANDBOX_MEDINS_APP_PUBLIC_KEY"]), None
    except platform.EnvelopeError as e:
        return None, _answer(1002, "验签失败: %s" % e)


def _sealed(data):
    cfg = current_app.config
    keys = (cfg["SANDBOX_MEDINS_APP_ID"], cfg["SANDBOX_MEDINS_APP_SECRET"], cfg["SANDBOX_MEDINS_PLATFORM_PRIVATE_KEY"])
    return jsonify({"code": 0, "message": "成功", **platform.seal(data, *keys)})


@route(
    "/medins/api/ec/query",
    ["POST"],
    "Medical insurance: decode an e-voucher QR code a kiosk scanned to its ecToken",
    body=OBJ,
)
def ec_query():
    data, err = _opened()
    if err:
        return err
    found = take("sbx:medins:ecode:%s" % data.get("ecQrCode", ""))
    if found is None:
        return _answer(platform.BAD_AUTH_CODE, "凭证无效或已使用")
    person = found["person"]
    token, _ = _new_cert("EC", person, found["expires_in"])
    return _sealed({"ecToken": token, "idNo": person["certno"], "userName": person["psn_name"], "idType": "01"})


@route(
    "/medins/api/fsi/api/rsfComIfsService/callService",
    ["POST"],
    "Medical insurance: transaction 1101 (人员信息获取) for a payAuthNo, an ecToken or an identity card",
    body=OBJ,
)
def call_service():
    data, err = _opened()
    if err:
        return err
    if data.get("infno") != "1101":
        return _sealed({"infcode": -1, "err_msg": "交易编号 %s 不支持" % data.get("infno")})
    given = (data.get("input") or {}).get("data") if isinstance(data.get("input"), dict) else None
    if not isinstance(given, dict) or given.get("mdtrt_cert_type") not in (E_VOUCHER, ID_CARD):
        return _sealed({"infcode": -1, "err_msg": "就诊凭证类型或编号不正确"})
    if not isinstance(given.get("mdtrt_cert_no"), str) or not given["mdtrt_cert_no"]:
        return _sealed({"infcode": -1, "err_msg": "就诊凭证类型或编号不正确"})
    person = _by_id_card(given) if given["mdtrt_cert_type"] == ID_CARD else _by_voucher(given)
    if isinstance(person, str):
        return _sealed({"infcode": -1, "err_msg": person})
    base = {k: person[k] for k in ("psn_no", "psn_cert_type", "certno", "psn_name")}
    insu = {k: person[k] for k in ("insutype", "psn_insu_stas", "insuplc_admdvs")} | {"balc": "0.00"}
    return _sealed({"infcode": 0, "output": {"baseinfo": base, "insuinfo": [insu], "idetinfo": []}})


def _by_voucher(given):
    raw = redis().get(CERT_KEY % given["mdtrt_cert_no"])
    return json.loads(raw)["person"] if raw is not None else "电子凭证无效"


def _by_id_card(given):
    """02 居民身份证: the number is the certificate; the platform answers only for the name it
    holds (psn_name required, certno if given the same number). Returns the person or why not."""
    number, name = given["mdtrt_cert_no"], given.get("psn_name")
    if not isinstance(name, str) or not name or given.get("certno") not in ("", None, number):
        return "凭证类型为居民身份证时，证件号码与人员姓名必填且须一致"
    raw = redis().get(PERSON_KEY % number)
    if raw is None:
        return "未查询到该人员参保信息"
    person = json.loads(raw)
    if person["psn_name"] != name:
        return "人员姓名与证件号码不匹配"
    return person
