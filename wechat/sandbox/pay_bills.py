"""WeChat Pay's daily trade statement (交易账单), in the sandbox.

``/v3/bill/tradebill`` answers where to download the day's file and its SHA1, as WeChat
does (https://pay.weixin.qq.com/docs/merchant/apis/bill-download/trade-bill/get-trade-bill.html);
the download (https://pay.weixin.qq.com/docs/merchant/apis/bill-download/download-bill.html)
takes the merchant's signature over its path and ``?token=`` query, from ``/v3/``, and
answers the file unsigned. The statement lists the JSAPI and combine sub-orders paid
(``sbx:pay:ledger``) and the window's micropay payments.
"""

import hashlib
import json
import secrets

from flask import Response, current_app, jsonify, request

from wechat.sandbox.common import STR, put, redis, route, take
from wechat.sandbox.pay import V3, _error, _merchant_ok, _signed

TOKEN_TTL = 300
HEADER = (
    "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,"
    "应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,"
    "手续费,费率,订单金额,申请退款金额,费率备注"
)


def _paid(day, sub_mchid=None):
    """The ledger's entries of ``day`` (of one sub-merchant), each with its state in the file."""
    for raw in redis().lrange("sbx:pay:ledger", 0, -1):
        entry = json.loads(raw)
        sub = entry["sub"]
        if not entry["time"].startswith(day) or sub_mchid not in (None, sub["mchid"], sub.get("sub_mchid")):
            continue
        entry["state"] = "SUCCESS"
        if entry.get("trade_type") == "MICROPAY":  # a payment reversed since stays in the file, as REVOKED
            order = redis().get("sandbox:micropay:%s" % sub["out_trade_no"])
            entry["state"] = json.loads(order).get("trade_state", "SUCCESS") if order else "SUCCESS"
        yield entry


def statement_text(day, sub_mchid=None):
    """The file as WeChat writes it: a header, backquoted rows, then the summary."""
    lines, total = [HEADER], 0
    for entry in _paid(day, sub_mchid):
        sub, yuan = entry["sub"], "%.2f" % (entry["sub"]["amount"] / 100)
        total += sub["amount"] if entry["state"] == "SUCCESS" else 0
        fields = [entry["time"].replace("T", " ")[:19], current_app.config["SANDBOX_WECHAT_APPID"], sub["mchid"]]
        fields += [sub.get("sub_mchid", ""), "", sub["transaction_id"], sub["out_trade_no"], "o-user"]
        fields += [entry.get("trade_type", "JSAPI"), entry["state"], "OTHERS", "CNY", yuan, "0.00", "0", "0"]
        fields += ["0.00", "0.00", "", "", "门诊费用", "", "0.00", "0.60%", yuan, "0.00", ""]
        lines.append(",".join("`" + f for f in fields))
    summary = [str(len(lines) - 1), "%.2f" % (total / 100), "0.00", "0.00", "0.00", "%.2f" % (total / 100), "0.00"]
    lines.append("总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额")
    lines.append(",".join("`" + f for f in summary))
    return "\n".join(lines) + "\n"


@route(
    V3 + "/bill/tradebill",
    ["GET"],
    "WeChat Pay: where to download a day's trade statement, and its SHA1",
    query={"bill_date": STR, "bill_type": STR, "sub_mchid": STR},
)
def tradebill():
    if not _merchant_ok():
        return _error(401, "SIGN_ERROR", "签名错误")
    text = statement_text(request.args.get("bill_date", ""), request.args.get("sub_mchid"))
    token = secrets.token_urlsafe(24)
    put("sbx:pay:bill:" + token, {"text": text}, TOKEN_TTL)
    url = current_app.config["POSTPAY_SANDBOX_URL"].rstrip("/") + "/wechatpay/v3/billdownload/file?token=" + token
    sha1 = hashlib.sha1(text.encode()).hexdigest()
    return _signed({"download_url": url, "hash_type": "SHA1", "hash_value": sha1})


@route(
    V3 + "/billdownload/file",
    ["GET"],
    "WeChat Pay: download a statement (unsigned answer)",
    answer="text/plain",
    query={"token": STR},
)
def billdownload():
    if not _merchant_ok():  # signed over the path from /v3/ with its ?token= query
        return _error(401, "SIGN_ERROR", "签名错误")
    saved = redis().get("sbx:pay:bill:" + request.args.get("token", ""))
    if saved is None:
        return _error(400, "INVALID_REQUEST", "token 无效或已过期")
    text = json.loads(saved)["text"]
    if take("sbx:pay:bill-damage"):  # the file is damaged on its way: its SHA1 no longer matches
        text = text.replace("`SUCCESS", "`REFUND", 1) + "`0\n"
    return Response(text.encode(), mimetype="text/plain")


@route(
    "/wechatpay/statements/<day>.csv",
    ["GET"],
    "Sandbox: a day's trade statement (CSV, backquoted fields)",
    answer="text/csv",
    query={"sub_mchid": STR},
)
def statement(day):
    return Response(statement_text(day, request.args.get("sub_mchid")), mimetype="text/csv")


@route(
    "/wechatpay/statements/damage",
    ["POST"],
    "Sandbox: the next statement download arrives damaged (its SHA1 differs from hash_value)",
    answer={"type": "object", "properties": {"damaged": {"type": "boolean"}}},
)
def damage():
    put("sbx:pay:bill-damage", True, TOKEN_TTL)
    return jsonify({"damaged": True})
