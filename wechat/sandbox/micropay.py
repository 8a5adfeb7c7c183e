"""WeChat Pay API v2 micropay as the service provider sees it: XML in and out, every
request's sign checked with the provider's v2 key (MD5 or HMAC-SHA256), every answer signed.

``mch_id`` must be the provider's (``SANDBOX_WECHATPAY_MCHID``) and ``appid`` its appid;
a hospital that is a sub-merchant is named by ``sub_mch_id``, kept on the order and in
the statement, and must be a registered sub-merchant (``pay.sub_mchid_known``). A
request without ``sub_mch_id`` is the provider's own (direct mode): the sandbox cannot tell
it from a sub-merchant's that forgot the field; the statement and the reconciliation do.

``POST /sandbox/wechatpay/payment-codes`` plays the patient showing a payment code
(or the face device producing one): an 18-digit code, usable once, for a short time.
A code made with ``{"confirm": true}`` first answers USERPAYING, as when the payer
must enter a password; the order is SUCCESS on the next query. ``{"never_confirm": true}``:
USERPAYING for ever (until ``/sandbox/wechatpay/micropay/<out_trade_no>/confirm``).
``{"system_error": true}``: the micropay answers SYSTEMERROR and the order stays USERPAYING.
``{"reverse_failures": n}``: the first n reverses of its order answer SYSTEMERROR with
``recall=Y``. ``{"balance_fen": n}`` makes a payer who cannot pay more than n fen (NOTENOUGH).

``/secapi/pay/reverse`` (撤销订单) closes an unpaid order and gives a paid one's money back:
the order is REVOKED, and so is its row in the statement.
"""

import datetime as dt
import json
import secrets

import xmltodict
from flask import Response, current_app, request
from wechatpy.pay.utils import calculate_signature, calculate_signature_hmac, dict_to_xml

from wechat.sandbox.common import CST, STR, body_fields, error, put, redis, route, take
from wechat.sandbox.pay import sub_mchid_known

V2 = "/wechatpay/v2"
#: What the sandbox keeps on an order besides WeChat's fields; never in an answer.
PRIVATE = ("trade_state", "sandbox")


def _sign(data, sign_type="MD5"):
    key = current_app.config["SANDBOX_WECHATPAY_APIV2_KEY"]
    return (calculate_signature_hmac if sign_type == "HMAC-SHA256" else calculate_signature)(data, key)


def _xml(fields):
    data = {k: v for k, v in fields.items() if v is not None}
    data["nonce_str"] = secrets.token_hex(16)
    return Response(dict_to_xml(data, _sign(data)), mimetype="text/xml")


def _refused(message):
    """return_code FAIL: the request itself was refused. WeChat signs no such answer."""
    body = "<xml><return_code><![CDATA[FAIL]]></return_code><return_msg><![CDATA[%s]]></return_msg></xml>" % message
    return Response(body, mimetype="text/xml")


def _fail(err_code, message, **extra):
    return _xml(
        {"return_code": "SUCCESS", "result_code": "FAIL", "err_code": err_code, "err_code_des": message} | extra
    )


def _request():
    """The request's fields, or an answer refusing it (bad XML, bad sign, not the provider)."""
    try:
        data = dict(xmltodict.parse(request.get_data(as_text=True))["xml"])
    except Exception:  # noqa: BLE001  (any malformed XML)
        return None, _refused("XML格式错误")
    sign = data.pop("sign", "")
    if not sign or sign != _sign(data, data.get("sign_type", "MD5")):
        return None, _refused("签名错误")  # SIGNERROR: as WeChat answers a sign made with another key
    cfg = current_app.config
    if cfg["SANDBOX_WECHATPAY_MCHID"] and data.get("mch_id") != cfg["SANDBOX_WECHATPAY_MCHID"]:
        return None, _fail("MCHID_NOT_EXIST", "MCHID不存在")
    if cfg["SANDBOX_WECHAT_APPID"] and data.get("appid") != cfg["SANDBOX_WECHAT_APPID"]:
        return None, _fail("APPID_MCHID_NOT_MATCH", "appid和mch_id不匹配")
    sub = data.get("sub_mch_id")
    if sub and sub == data.get("mch_id"):
        return None, _fail("PARAM_ERROR", "sub_mch_id 不能是服务商自己的商户号")
    if sub and not sub_mchid_known(sub):  # the provider's sub-merchants, as for v3 orders
        return None, _fail("NOAUTH", "子商户号未与服务商建立受理关系")
    return data, None


def _order_key(no):
    return "sandbox:micropay:%s" % no


def _load(no):
    raw = redis().get(_order_key(no))
    return json.loads(raw) if raw else None


def _save(order):
    put(_order_key(order["out_trade_no"]), order, 86400)


def _public(order):
    return {k: v for k, v in order.items() if k not in PRIVATE}


def _succeed(order):
    """The money is taken: the order is SUCCESS and enters the statement's ledger."""
    order["trade_state"] = "SUCCESS"
    order["time_end"] = dt.datetime.now(CST).strftime("%Y%m%d%H%M%S")
    no, total = order["out_trade_no"], int(order["total_fee"])
    sub = {"mchid": order["mch_id"], "transaction_id": order["transaction_id"], "out_trade_no": no, "amount": total}
    if order.get("sub_mch_id"):  # a provider's sub-merchant
        sub["sub_mchid"] = order["sub_mch_id"]
    paid = dt.datetime.now(CST).isoformat(timespec="seconds")
    redis().rpush("sbx:pay:ledger", json.dumps({"order": no, "sub": sub, "time": paid, "trade_type": "MICROPAY"}))


@route(
    "/wechatpay/payment-codes",
    ["POST"],
    "The patient shows a WeChat payment code (or the face device makes one): usable once",
    body={
        "type": "object",
        "properties": {
            "openid": STR,
            "confirm": {"type": "boolean"},
            "never_confirm": {"type": "boolean"},
            "system_error": {"type": "boolean"},
            "reverse_failures": {"type": "integer"},
            "balance_fen": {"type": "integer"},
        },
    },
    answer={"type": "object", "required": ["auth_code"], "properties": {"auth_code": STR}},
    status=201,
)
def payment_code():
    body, err = body_fields(optional=("openid",))
    if err:
        return err
    code = "13" + "".join(secrets.choice("0123456789") for _ in range(16))
    balance, failures = body.get("balance_fen"), body.get("reverse_failures")
    payer = {
        "openid": body.get("openid") or "o-sandbox-payer",
        "confirm": bool(body.get("confirm")),
        "never_confirm": bool(body.get("never_confirm")),
        "system_error": bool(body.get("system_error")),
        "reverse_failures": failures if isinstance(failures, int) else 0,
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
    if redis().exists(_order_key(no)):
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
        "sub_mch_id": data.get("sub_mch_id"),
        "openid": code["openid"],
        "out_trade_no": no,
        "transaction_id": "42%s" % secrets.token_hex(13),
        "total_fee": str(total),
        "fee_type": "CNY",
        "trade_type": "MICROPAY",
        "bank_type": "OTHERS",
        "trade_state": "USERPAYING",
        "sandbox": {"confirm_on_query": code["confirm"], "reverse_failures": code.get("reverse_failures", 0)},
    }
    waits = code["confirm"] or code.get("never_confirm") or code.get("system_error")
    if not waits:
        _succeed(order)
    _save(order)
    if code.get("system_error"):
        return _fail("SYSTEMERROR", "系统超时")
    if waits:
        return _fail("USERPAYING", "需要用户输入支付密码")
    return _xml({"return_code": "SUCCESS", "result_code": "SUCCESS", **_public(order)})


@route(V2 + "/pay/orderquery", ["POST"], "WeChat Pay v2 order query (XML)", answer="text/xml")
def micropay_query():
    data, err = _request()
    if err:
        return err
    order = _load(data.get("out_trade_no", ""))
    if order is None:
        return _fail("ORDERNOTEXIST", "此交易订单号不存在")
    if order["trade_state"] == "USERPAYING" and order["sandbox"]["confirm_on_query"]:
        _succeed(order)
        _save(order)
    state = order["trade_state"]
    fields = (
        _public(order)
        if state in ("SUCCESS", "REVOKED")
        else {k: order[k] for k in ("appid", "mch_id", "sub_mch_id", "out_trade_no")}
    )
    return _xml({"return_code": "SUCCESS", "result_code": "SUCCESS", "trade_state": state, **fields})


@route(
    V2 + "/secapi/pay/reverse",
    ["POST"],
    "WeChat Pay v2 reverse (撤销订单, XML, with the API client certificate): closes the order, or gives the money back",
    answer="text/xml",
)
def micropay_reverse():
    data, err = _request()
    if err:
        return err
    order = _load(data.get("out_trade_no", ""))
    if order is None:
        return _fail("ORDERNOTEXIST", "此交易订单号不存在", recall="N")
    if order["sandbox"]["reverse_failures"] > 0:
        order["sandbox"]["reverse_failures"] -= 1
        _save(order)
        return _fail("SYSTEMERROR", "接口返回错误", recall="Y")
    order["trade_state"] = "REVOKED"  # a paid order's money goes back; its statement row says REVOKED
    _save(order)
    return _xml({"return_code": "SUCCESS", "result_code": "SUCCESS", "recall": "N"})


@route(
    "/wechatpay/micropay/<out_trade_no>/confirm",
    ["POST"],
    "The payer confirms a micropay late (USERPAYING -> SUCCESS)",
    answer={"type": "object", "required": ["trade_state"], "properties": {"trade_state": STR}},
)
def micropay_confirm(out_trade_no):
    order = _load(out_trade_no)
    if order is None:
        return error(404, "ORDERNOTEXIST", "此交易订单号不存在")
    if order["trade_state"] != "USERPAYING":
        return error(409, "ORDER_STATE", "订单状态为 %s，不能确认" % order["trade_state"])
    _succeed(order)
    _save(order)
    return {"trade_state": order["trade_state"]}
