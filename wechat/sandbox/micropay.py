"""WeChat Pay API v2 micropay as the merchant sees it: XML in and out, every request's
sign checked with the merchant's v2 key (MD5 or HMAC-SHA256), every answer signed.

``POST /sandbox/wechatpay/payment-codes`` plays the patient showing a payment code
(or the face device producing one): an 18-digit code, usable once, for a short time.
A code made with ``{"confirm": true}`` first answers USERPAYING, as when the payer
must enter a password; the order is SUCCESS on the next query. ``{"balance_fen": n}``
makes a payer who cannot pay more than n fen (NOTENOUGH).
"""

import datetime as dt
import json
import secrets

import xmltodict
from flask import Response, current_app, request
from wechatpy.pay.utils import calculate_signature, calculate_signature_hmac, dict_to_xml

from wechat.sandbox.common import CST, STR, body_fields, put, redis, route, take

V2 = "/wechatpay/v2"


def _sign(data, sign_type="MD5"):
    key = current_app.config["SANDBOX_WECHATPAY_APIV2_KEY"]
    return (calculate_signature_hmac if sign_type == "HMAC-SHA256" else calculate_signature)(data, key)


def _xml(fields):
    data = {k: v for k, v in fields.items() if v is not None}
    data["nonce_str"] = secrets.token_hex(16)
    return Response(dict_to_xml(data, _sign(data)), mimetype="text/xml")


def _fail(err_code, message, **extra):
    return _xml(
        {"return_code": "SUCCESS", "result_code": "FAIL", "err_code": err_code, "err_code_des": message} | extra
    )


def _request():
    """The request's fields, or an answer refusing it (bad XML, bad sign)."""
    try:
        data = dict(xmltodict.parse(request.get_data(as_text=True))["xml"])
    except Exception:  # noqa: BLE001  (any malformed XML)
        return None, _xml({"return_code": "FAIL", "return_msg": "XML格式错误"})
    sign = data.pop("sign", "")
    if not sign or sign != _sign(data, data.get("sign_type", "MD5")):
        return None, _xml({"return_code": "FAIL", "return_msg": "签名错误"})
    return data, None


@route(
    "/wechatpay/payment-codes",
    ["POST"],
    "The patient shows a WeChat payment code (or the face device makes one): usable once",
    body={
        "type": "object",
        "properties": {"openid": STR, "confirm": {"type": "boolean"}, "balance_fen": {"type": "integer"}},
    },
    answer={"type": "object", "required": ["auth_code"], "properties": {"auth_code": STR}},
    status=201,
)
def payment_code():
    body, err = body_fields(optional=("openid",))
    if err:
        return err
    code = "13" + "".join(secrets.choice("0123456789") for _ in range(16))
    balance = body.get("balance_fen")
    payer = {
        "openid": body.get("openid") or "o-sandbox-payer",
        "confirm": bool(body.get("confirm")),
        "balance_fen": balance if isinstance(balance, int) else None,
    }
    put("sandbox:paycode:%s" % code, payer, 120)
    return {"auth_code": code}, 201


@route(V2 + "/pay/micropay", ["POST"], "WeChat Pay v2 micropay (XML, signed with the v2 key)", answer="text/xml")
def micropay():
    data, err = _request()
    if err:
        return err
    code = take("sandbox:paycode:%s" % data.get("auth_code", ""))
    if code is None:
        return _fail("AUTHCODEEXPIRE", "二维码已过期，请用户在微信上刷新后再试")
    no = data.get("out_trade_no", "")
    if redis().exists("sandbox:micropay:%s" % no):
        return _fail("OUT_TRADE_NO_USED", "商户订单号重复")
    try:
        total = int(data.get("total_fee", "0"))
    except ValueError:
        total = 0
    if total <= 0:
        return _fail("PARAM_ERROR", "total_fee 无效")
    if code.get("balance_fen") is not None and total > code["balance_fen"]:
        return _fail("NOTENOUGH", "用户余额不足，请用户更换支付卡后重新支付")
    order = {
        "appid": data.get("appid"),
        "mch_id": data.get("mch_id"),
        "openid": code["openid"],
        "out_trade_no": no,
        "transaction_id": "42%s" % secrets.token_hex(13),
        "total_fee": str(total),
        "fee_type": "CNY",
        "trade_type": "MICROPAY",
        "bank_type": "OTHERS",
        "time_end": dt.datetime.now(CST).strftime("%Y%m%d%H%M%S"),
    }
    put("sandbox:micropay:%s" % no, order, 86400)
    sub = {"mchid": order["mch_id"], "transaction_id": order["transaction_id"], "out_trade_no": no, "amount": total}
    if data.get("sub_mch_id"):  # a provider's sub-merchant
        sub["sub_mchid"] = data["sub_mch_id"]
    paid = dt.datetime.now(CST).isoformat(timespec="seconds")
    redis().rpush("sbx:pay:ledger", json.dumps({"order": no, "sub": sub, "time": paid, "trade_type": "MICROPAY"}))
    if code["confirm"]:
        return _fail("USERPAYING", "需要用户输入支付密码")
    return _xml({"return_code": "SUCCESS", "result_code": "SUCCESS", **order})


@route(V2 + "/pay/orderquery", ["POST"], "WeChat Pay v2 order query (XML)", answer="text/xml")
def micropay_query():
    data, err = _request()
    if err:
        return err
    raw = redis().get("sandbox:micropay:%s" % data.get("out_trade_no", ""))
    if raw is None:
        return _fail("ORDERNOTEXIST", "此交易订单号不存在")
    order = json.loads(raw)
    return _xml({"return_code": "SUCCESS", "result_code": "SUCCESS", "trade_state": "SUCCESS", **order})
