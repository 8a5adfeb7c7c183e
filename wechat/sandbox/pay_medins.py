"""WeChat Pay's medical-insurance orders (``/v3/med-ins/orders``) in the sandbox, as the provider
(服务商) sends them: the provider's signature checked, the body against its schema
(``schemas/med_ins_order.json``), ``Wechatpay-Serial`` naming the WeChat Pay public key the
sensitive fields were encrypted with, the names and id digests decrypted with the platform's
private key and checked against the person the platform knows behind the order: the one whose
fees were uploaded (6201) with this ``pay_auth_no`` at this ``med_inst_no``. The amounts are
checked against the platform's pre-settlement (6202), the cash part against its JSAPI order.
``/med-ins/orders/{no}/pay`` plays the payer: the platform settles, the cash order is paid, and
the signed, encrypted ``MEDICAL_INSURANCE.SUCCESS`` notification goes out (or, with
``"notify": false``, is lost, as after WeChat's 30 s of retries). ``/v3/med-ins/refunds/notify``
takes the provider's word that the insurance part was refunded (after a 6203)."""

import datetime as dt
import hashlib
import json
import secrets

from flask import current_app, jsonify, request

from wechat.sandbox import apps, rules, v3sign
from wechat.sandbox import medins_pay as platform
from wechat.sandbox.common import CST, OBJ, STR, redis, route
from wechat.sandbox.envelope import fen
from wechat.sandbox.pay import V3, _error, _keys, _load, _merchant_ok, _save, _signed
from wechat.sandbox.pay_notify import deliver, notification

TTL = 7 * 86400
MIX_SUCCESS = "MIX_PAY_SUCCESS"
FEES = ("total_fee", "med_ins_gov_fee", "med_ins_self_fee", "med_ins_other_fee", "med_ins_cash_fee")


def _load_mi(no):
    raw = redis().get("sbx:pay:medins:" + no)
    return json.loads(raw) if raw else None


def _save_mi(order):
    redis().set("sbx:pay:medins:" + order["body"]["out_trade_no"], json.dumps(order, ensure_ascii=False), ex=TTL)


def _identity_problem(body):
    """Why the order's people do not match the platform's order, or None. The insured person (the
    payer, or the relative paid for) must be the one whose fees were uploaded; the payer's digest
    must be an MD5 hex; pay_auth_no and med_inst_no must be the upload's."""
    upload = (platform.load(body.get("pay_order_id", "")) or {}).get("request")
    if upload is None:
        return "医保支付单不存在" if body.get("pay_order_id") else None
    if body.get("pay_auth_no") != upload.get("payAuthNo") or body.get("med_inst_no") != upload.get("orgCodg"):
        return "pay_auth_no或med_inst_no与医保局订单不一致"
    opened = {}
    for who in ("payer", "relative"):
        if who in body:
            name = v3sign.decrypt_field(_keys()["platform"], body[who]["name"])
            digest = v3sign.decrypt_field(_keys()["platform"], body[who]["id_digest"])
            if name is None or digest is None or len(digest) != 32 or digest.strip("0123456789abcdef"):
                return "%s的姓名或证件摘要解密失败或格式错误" % who
            opened[who] = (name, digest)
    insured = opened["relative" if body.get("pay_for_relatives") else "payer"]
    if insured != (upload["userName"], hashlib.md5(upload["idNo"].upper().encode()).hexdigest()):
        return "就诊人与医保支付授权的参保人不一致"
    return None


def _amounts_ok(body):
    """The fees as the platform pre-settled them, and the cash as its JSAPI order says."""
    ins = platform.load(body.get("pay_order_id", ""))
    if ins is None or ins.get("ordStas") != "1":
        return False
    try:
        want = {
            "total_fee": fen(ins["feeSumamt"]),
            "med_ins_gov_fee": fen(ins["fundPay"]),
            "med_ins_self_fee": fen(ins["psnAcctPay"]) + fen(ins["acctMulaidPay"]),
            "med_ins_other_fee": 0,
            "med_ins_cash_fee": fen(ins["ownPayAmt"]),
        }
    except (KeyError, ValueError):
        return False
    if any(body.get(k) != v for k, v in want.items()) or body.get("wechat_pay_cash_fee") != want["med_ins_cash_fee"]:
        return False
    insurance = want["total_fee"] - want["med_ins_cash_fee"]
    kind = "CASH_AND_INSURANCE" if insurance and want["med_ins_cash_fee"] else None
    kind = kind or ("INSURANCE_ONLY" if insurance else "CASH_ONLY")
    if body.get("mix_pay_type") != kind:
        return False
    if want["med_ins_cash_fee"] == 0:
        return True
    cash_no = redis().get("sbx:pay:prepay:" + str(body.get("prepay_id")))
    cash = _load(cash_no.decode()) if cash_no else None
    return cash is not None and cash["amount"] == want["med_ins_cash_fee"] and cash["state"] == "NOTPAY"


@route(V3 + "/med-ins/orders", ["POST"], "WeChat Pay: medical-insurance order (医保支付下单)", body=OBJ)
def med_ins_order_create():
    if not _merchant_ok():
        return _error(401, "SIGN_ERROR", "签名错误")
    body = request.get_json(force=True, silent=True) or {}
    if (bad := rules.refusal("med_ins_order", body)) is not None:
        return _signed(bad, 400)
    if request.headers.get("Wechatpay-Serial") != current_app.config["SANDBOX_WECHATPAY_PUBLIC_KEY_ID"]:
        return _error(400, "PARAM_ERROR", "Wechatpay-Serial须为加密敏感字段所用的微信支付公钥ID")
    if not body.get("out_trade_no") or not body.get("callback_url") or not all(type(body.get(k)) is int for k in FEES):
        return _error(400, "PARAM_ERROR", "参数错误")
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
    order = _load_mi(body["out_trade_no"])
    if order is not None:
        if order["digest"] != digest:
            return _error(400, "INVALID_REQUEST", "商户订单号重复")
        return _signed(_answer(order))
    app = (body.get("appid"), body.get("openid"), body.get("sub_appid"), body.get("sub_openid"))
    if (bad := apps.payer_refusal(*app, body.get("sub_mchid"))) is not None:
        return _error(400, *bad)
    if (problem := _identity_problem(body)) is not None:
        return _error(400, "PARAM_ERROR", problem)
    if not _amounts_ok(body):
        return _error(400, "PARAM_ERROR", "金额与医保预结算或现金订单不一致")
    order = {"body": body, "digest": digest, "mix_trade_no": "MIX%s" % secrets.token_hex(12), "state": "CREATED"}
    _save_mi(order)
    redis().set("sbx:pay:mix:" + order["mix_trade_no"], body["out_trade_no"], ex=TTL)
    return _signed(_answer(order))


def _answer(order):
    paid = order["state"] == "SUCCESS"
    cash = order["body"]["med_ins_cash_fee"] > 0
    return {
        "mix_trade_no": order["mix_trade_no"],
        "mix_pay_status": MIX_SUCCESS if paid else "MIX_PAY_CREATED",
        "self_pay_status": ("SELF_PAY_SUCCESS" if paid else "SELF_PAY_CREATED") if cash else "NO_SELF_PAY",
        "med_ins_pay_status": "MED_INS_PAY_SUCCESS" if paid else "MED_INS_PAY_CREATED",
        "paid_time": order.get("paid_time"),
        "passthrough_response_content": "",
    }


def _resource(order):
    keep = ("mix_pay_type", "order_type", "appid", "sub_appid", "sub_mchid", "openid", "sub_openid")
    keep += ("pay_for_relatives", "out_trade_no")
    keep += ("serial_no", "pay_order_id", *FEES, "wechat_pay_cash_fee")
    return {k: order["body"].get(k) for k in keep} | _answer(order)


@route(
    V3 + "/med-ins/orders/out-trade-no/<no>",
    ["GET"],
    "WeChat Pay: query a medical-insurance order",
    query={"sub_mchid": STR},
)
def med_ins_order_query(no):
    if not _merchant_ok():
        return _error(401, "SIGN_ERROR", "签名错误")
    order = _load_mi(no)
    if order is None:
        return _error(404, "ORDER_NOT_EXIST", "订单不存在")
    return _signed(_resource(order))


def _pay_cash(order):
    cash_no = redis().get("sbx:pay:prepay:" + str(order["body"].get("prepay_id")))
    cash = _load(cash_no.decode()) if cash_no else None
    if cash is None or cash["state"] != "NOTPAY":
        return
    cash["state"], cash["success_time"] = "SUCCESS", order["paid_time"]
    sub = cash["subs"][0]
    sub["transaction_id"] = "42000%s" % secrets.randbelow(10**23)
    _save(cash)
    redis().rpush("sbx:pay:ledger", json.dumps({"order": cash["no"], "sub": sub, "time": order["paid_time"]}))


@route(
    "/wechatpay/med-ins/orders/<no>/pay",
    ["POST"],
    "Sandbox: the payer pays a medical-insurance order; the notification is sent (or lost)",
    body={"type": "object", "properties": {"notify": {"type": "boolean"}, "tamper": OBJ}},
    answer={"type": "object", "properties": {"delivered": {"type": "boolean"}, "status": {"type": "integer"}}},
)
def med_ins_order_pays(no):
    order = _load_mi(no)
    if order is None:
        return jsonify({"error": {"code": "ORDER_NOT_EXIST", "message": "订单不存在"}}), 404
    if order["state"] == "CREATED":
        if platform.settle(order["body"]["pay_order_id"]) is None:
            return jsonify({"error": {"code": "MED_INS_ORDER_REVOKED", "message": "医保订单已撤销"}}), 409
        order["state"], order["paid_time"] = "SUCCESS", dt.datetime.now(CST).isoformat(timespec="seconds")
        if order["body"]["med_ins_cash_fee"] > 0:
            _pay_cash(order)
        _save_mi(order)
    asked = request.get_json(force=True, silent=True) or {}
    resource = _resource(order) | (asked.get("tamper") or {})
    headers, body = notification("MEDICAL_INSURANCE.SUCCESS", "医保支付成功", "med_ins_order", resource)
    if asked.get("notify", True) is False:
        saved = {"url": order["body"]["callback_url"], "headers": headers, "body": body}
        redis().set("sbx:pay:last:" + no, json.dumps(saved), ex=TTL)
        return jsonify({"delivered": False, "status": 0})
    return deliver(order["body"]["callback_url"], headers, body, "sbx:pay:last:" + no)


@route(
    V3 + "/med-ins/refunds/notify",
    ["POST"],
    "WeChat Pay: the provider tells WeChat the insurance part was refunded (医保退款通知)",
    body=OBJ,
    query={"mix_trade_no": STR},
)
def med_ins_refund_notify():
    if not _merchant_ok():
        return _error(401, "SIGN_ERROR", "签名错误")
    body = request.get_json(force=True, silent=True) or {}
    if (bad := rules.refusal("med_ins_refund_notify", body)) is not None:
        return _signed(bad, 400)
    parts = body["med_refund_gov_fee"] + body["med_refund_self_fee"] + body["med_refund_other_fee"]
    if parts != body["med_refund_total_fee"]:
        return _error(403, "RULE_LIMIT", "医保退款总金额校验不通过")
    mix_trade_no = request.args.get("mix_trade_no", "")
    order = (
        _load_mi(redis().get("sbx:pay:mix:" + mix_trade_no).decode())
        if redis().get("sbx:pay:mix:" + mix_trade_no)
        else None
    )
    if order is None or order["body"]["sub_mchid"] != body["sub_mchid"]:
        return _error(404, "ORDER_NOT_EXIST", "订单不存在")
    insurance = order["body"]["total_fee"] - order["body"]["med_ins_cash_fee"]
    if insurance == 0 or order["state"] != "SUCCESS":
        return _error(403, "RULE_LIMIT", "混合单中没有已支付的医保订单，无法接收医保退款通知")
    refunds = order.setdefault("med_refunds", {})
    if body["out_refund_no"] in refunds:
        if refunds[body["out_refund_no"]] != body:
            return _error(400, "INVALID_REQUEST", "同一退款单号的退款信息不一致")
        return _signed(None)
    if sum(r["med_refund_total_fee"] for r in refunds.values()) + body["med_refund_total_fee"] > insurance:
        return _error(403, "RULE_LIMIT", "医保退款总金额超过医保支付金额")
    refunds[body["out_refund_no"]] = body
    _save_mi(order)
    return _signed(None)
