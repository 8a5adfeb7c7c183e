"""WeChat Pay refunds, in the sandbox (the trade statement: ``pay_bills.py``)."""

import datetime as dt
import json
import secrets

from flask import jsonify, request

from wechat.sandbox import rules
from wechat.sandbox.common import CST, OBJ, redis, route
from wechat.sandbox.pay import V3, _error, _load, _merchant_ok, _signed
from wechat.sandbox.pay_notify import deliver, notification


def _sub_order(out_trade_no):
    no = redis().get("sbx:pay:sub:" + out_trade_no)
    order = _load(no.decode()) if no else None
    sub = next((s for s in order["subs"] if s["out_trade_no"] == out_trade_no), None) if order else None
    return order, sub


@route(V3 + "/refund/domestic/refunds", ["POST"], "WeChat Pay: apply for a refund", body=OBJ)
def refund():
    if not _merchant_ok():
        return _error(401, "SIGN_ERROR", "签名错误")
    body = request.get_json(force=True, silent=True) or {}
    if (bad := rules.refusal("refund", body)) is not None:
        return _signed(bad, 400)
    order, sub = _sub_order(body.get("out_trade_no", ""))
    if sub is None or body.get("sub_mchid") != sub.get("sub_mchid"):  # a sub-merchant's order: refunded for it
        return _error(404, "RESOURCE_NOT_EXISTS", "订单不存在")
    if order["state"] != "SUCCESS":
        return _error(400, "INVALID_REQUEST", "订单未支付")
    amount = body.get("amount") or {}
    existing = redis().get("sbx:pay:refund:" + body.get("out_refund_no", ""))
    if existing:  # the same out_refund_no again: the same refund, or refused when it asks for another one
        saved = json.loads(existing)["record"]
        if (saved["out_trade_no"], saved["amount"]["refund"]) != (sub["out_trade_no"], amount["refund"]):
            return _error(400, "INVALID_REQUEST", "订单金额或退款金额与之前请求不一致")
        return _signed(saved)
    refunded = int(redis().get("sbx:pay:refunded:" + sub["out_trade_no"]) or 0)
    if amount["total"] != sub["amount"]:
        return _error(400, "INVALID_REQUEST", "订单金额与原订单不一致")
    if amount["refund"] > sub["amount"] - refunded:
        return _error(400, "INVALID_REQUEST", "申请退款金额超过订单可退金额")
    redis().incrby("sbx:pay:refunded:" + sub["out_trade_no"], amount["refund"])
    record = {
        "refund_id": "50300%s" % secrets.randbelow(10**23),
        "out_refund_no": body["out_refund_no"],
        "transaction_id": sub["transaction_id"],
        "out_trade_no": sub["out_trade_no"],
        "channel": "ORIGINAL",
        "status": "PROCESSING",
        "create_time": dt.datetime.now(CST).isoformat(timespec="seconds"),
        "amount": {
            "refund": amount["refund"],
            "total": sub["amount"],
            "currency": "CNY",
            "payer_refund": amount["refund"],
            "payer_total": sub["amount"],
        },
    }
    redis().set(
        "sbx:pay:refund:" + body["out_refund_no"],
        json.dumps(
            {
                "record": record,
                "mchid": sub["mchid"],
                "sub_mchid": sub.get("sub_mchid"),
                "notify_url": body.get("notify_url"),
            }
        ),
        ex=7 * 86400,
    )
    return _signed(record)


@route(
    "/wechatpay/refunds/<out_refund_no>/complete",
    ["POST"],
    "Sandbox: the refund settles; the notification is sent",
    body={"type": "object", "properties": {"status": {"type": "string", "enum": ["SUCCESS", "ABNORMAL", "CLOSED"]}}},
    answer={"type": "object", "properties": {"delivered": {"type": "boolean"}}},
)
def complete_refund(out_refund_no):
    raw = redis().get("sbx:pay:refund:" + out_refund_no)
    if raw is None:
        return jsonify({"error": {"code": "RESOURCE_NOT_EXISTS", "message": "退款单不存在"}}), 404
    saved = json.loads(raw)
    status = (request.get_json(force=True, silent=True) or {}).get("status", "SUCCESS")
    record = saved["record"]
    merchant = {"sp_mchid": saved["mchid"], "sub_mchid": saved["sub_mchid"]} if saved.get("sub_mchid") else {}
    resource = merchant or {"mchid": saved["mchid"]}
    resource |= {
        "out_trade_no": record["out_trade_no"],
        "transaction_id": record["transaction_id"],
        "out_refund_no": out_refund_no,
        "refund_id": record["refund_id"],
        "refund_status": status,
        "success_time": dt.datetime.now(CST).isoformat(timespec="seconds"),
        "amount": {
            "total": record["amount"]["total"],
            "refund": record["amount"]["refund"],
            "payer_total": record["amount"]["total"],
            "payer_refund": record["amount"]["refund"],
        },
    }
    headers, body = notification("REFUND." + status, "退款结果", "refund", resource)
    return deliver(saved["notify_url"], headers, body, "sbx:pay:last-refund:" + out_refund_no)
