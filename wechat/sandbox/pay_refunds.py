"""WeChat Pay refunds and the daily trade statement, in the sandbox."""

import datetime as dt
import json
import secrets

from flask import Response, current_app, jsonify, request

from wechat.sandbox.common import CST, OBJ, STR, redis, route
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
    order, sub = _sub_order(body.get("out_trade_no", ""))
    if sub is None or body.get("sub_mchid") != sub.get("sub_mchid"):  # a sub-merchant's order: refunded for it
        return _error(404, "RESOURCE_NOT_EXISTS", "订单不存在")
    if order["state"] != "SUCCESS":
        return _error(400, "INVALID_REQUEST", "订单未支付")
    amount = body.get("amount") or {}
    existing = redis().get("sbx:pay:refund:" + body.get("out_refund_no", ""))
    if existing:
        return _signed(json.loads(existing)["record"])
    refunded = int(redis().get("sbx:pay:refunded:" + sub["out_trade_no"]) or 0)
    if amount.get("total") != sub["amount"] or not 0 < amount.get("refund", 0) <= sub["amount"] - refunded:
        return _error(400, "INVALID_REQUEST", "退款金额不正确")
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


HEADER = (
    "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,"
    "应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,"
    "手续费,费率,订单金额,申请退款金额,费率备注"
)


@route(
    V3 + "/bill/tradebill",
    ["GET"],
    "WeChat Pay: where to download a day's trade statement",
    query={"bill_date": STR, "bill_type": STR},
)
def tradebill():
    if not _merchant_ok():
        return _error(401, "SIGN_ERROR", "签名错误")
    day = request.args.get("bill_date", "")
    url = current_app.config["POSTPAY_SANDBOX_URL"].rstrip("/") + "/wechatpay/statements/%s.csv" % day
    return _signed({"download_url": url, "hash_type": "SHA1", "hash_value": ""})


@route("/wechatpay/statements/<day>.csv", ["GET"], "WeChat Pay: a day's trade statement (CSV, backquoted fields)")
def statement(day):
    rows = []
    for raw in redis().lrange("sbx:pay:ledger", 0, -1):
        entry = json.loads(raw)
        if not entry["time"].startswith(day):
            continue
        sub, yuan = entry["sub"], "%.2f" % (entry["sub"]["amount"] / 100)
        fields = [
            entry["time"].replace("T", " ")[:19],
            current_app.config["SANDBOX_WECHAT_APPID"],
            sub["mchid"],
            "",
            "",
            sub["transaction_id"],
            sub["out_trade_no"],
            "o-user",
            "JSAPI",
            "SUCCESS",
            "OTHERS",
            "CNY",
            yuan,
            "0.00",
            "0",
            "0",
            "0.00",
            "0.00",
            "",
            "",
            "门诊费用",
            "",
            "0.00",
            "0.60%",
            yuan,
            "0.00",
            "",
        ]
        rows.append(",".join("`" + f for f in fields))
    total = sum(
        json.loads(r)["sub"]["amount"]
        for r in redis().lrange("sbx:pay:ledger", 0, -1)
        if json.loads(r)["time"].startswith(day)
    )
    summary = (
        "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额\n"
        + ",".join(
            "`" + f
            for f in [str(len(rows)), "%.2f" % (total / 100), "0.00", "0.00", "0.00", "%.2f" % (total / 100), "0.00"]
        )
    )
    text = "\n".join([HEADER, *rows, summary]) + "\n"
    return Response(text, mimetype="text/csv")
