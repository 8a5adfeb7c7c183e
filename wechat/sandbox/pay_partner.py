"""WeChat Pay's service-provider (服务商) APIs in the sandbox: the provider (sp_mchid, the signer)
orders, queries and closes for a sub-merchant (sub_mchid) it has a 受理关系 with. The
sub-merchants are ``SANDBOX_WECHATPAY_SUB_MCHIDS`` and those registered with
``POST /sandbox/wechatpay/sub-merchants``. Paying, notifying and refunding go through the
same order store as the direct APIs (``pay.py``, ``pay_notify.py``, ``pay_refunds.py``).

References: JSAPI下单 (服务商) ``/v3/pay/partner/transactions/jsapi``, Native下单 (服务商)
``/v3/pay/partner/transactions/native`` (answers ``code_url``; the payer scans it with
``POST /sandbox/wechatpay/native/scan``), 查询订单, 关闭订单."""

from flask import jsonify, request

from wechat.sandbox import apps, rules
from wechat.sandbox.common import OBJ, STR, error, redis, route
from wechat.sandbox.pay import (
    SUB_MCHIDS,
    V3,
    _close,
    _error,
    _load,
    _merchant_ok,
    _place,
    _signed,
    _transaction,
    sub_mchid_known,
)

PARTNER = V3 + "/pay/partner/transactions"
MERCHANT_QUERY = {"sp_mchid": STR, "sub_mchid": STR}


@route(PARTNER + "/jsapi", ["POST"], "WeChat Pay: JSAPI order by a service provider (服务商)", body=OBJ)
def partner_jsapi():
    if not _merchant_ok():
        return _error(401, "SIGN_ERROR", "签名错误")
    body = request.get_json(force=True, silent=True) or {}
    if (bad := rules.refusal("partner_jsapi", body)) is not None:
        return _signed(bad, 400)
    total = (body.get("amount") or {}).get("total")
    payer = body.get("payer") or {}
    if not (payer.get("sp_openid") or payer.get("sub_openid")):
        return _error(400, "PARAM_ERROR", "payer须有sp_openid或sub_openid")
    if not sub_mchid_known(body.get("sub_mchid")):
        return _error(400, "INVALID_REQUEST", "受理关系不存在")
    app = (body.get("sp_appid"), payer.get("sp_openid"), body.get("sub_appid"), payer.get("sub_openid"))
    if (bad := apps.payer_refusal(*app, body.get("sub_mchid"))) is not None:
        return _error(400, *bad)
    sub = {"mchid": body["sp_mchid"], "sub_mchid": body["sub_mchid"], "out_trade_no": body["out_trade_no"]}
    return _place("partner", body, body["out_trade_no"], total, [sub | {"amount": total}])


@route(PARTNER + "/native", ["POST"], "WeChat Pay: native (QR code) order by a service provider (服务商)", body=OBJ)
def partner_native():
    if not _merchant_ok():
        return _error(401, "SIGN_ERROR", "签名错误")
    body = request.get_json(force=True, silent=True) or {}
    if (bad := rules.refusal("partner_native", body)) is not None:
        return _signed(bad, 400)
    if body.get("sp_appid") not in apps.provider_appids():
        return _error(400, "APPID_MCHID_NOT_MATCH", "appid和mch_id不匹配，请检查后再试")
    if not sub_mchid_known(body.get("sub_mchid")):
        return _error(400, "INVALID_REQUEST", "受理关系不存在")
    total = body["amount"]["total"]
    sub = {"mchid": body["sp_mchid"], "sub_mchid": body["sub_mchid"], "out_trade_no": body["out_trade_no"]}
    return _place("partner", body, body["out_trade_no"], total, [sub | {"amount": total}], native=True)


def _partner_order(no):
    """The partner order ``no`` if the query's sub_mchid is its sub-merchant; else None."""
    order = _load(no) if no else None
    if order is None or order["kind"] != "partner":
        return None
    return order if order["subs"][0]["sub_mchid"] == request.args.get("sub_mchid") else None


@route(PARTNER + "/out-trade-no/<no>", ["GET"], "WeChat Pay: a provider queries an order", query=MERCHANT_QUERY)
def partner_query(no):
    if not _merchant_ok():
        return _error(401, "SIGN_ERROR", "签名错误")
    order = _partner_order(no)
    if order is None:
        return _error(404, "ORDER_NOT_EXIST", "订单不存在")
    return _signed(_transaction(order, order["subs"][0]))


@route(
    PARTNER + "/id/<transaction_id>",
    ["GET"],
    "WeChat Pay: a provider queries an order by WeChat's transaction id",
    query=MERCHANT_QUERY,
)
def partner_query_by_id(transaction_id):
    if not _merchant_ok():
        return _error(401, "SIGN_ERROR", "签名错误")
    no = redis().get("sbx:pay:txn:" + transaction_id)
    order = _partner_order(no.decode() if no else None)
    if order is None:
        return _error(404, "ORDER_NOT_EXIST", "订单不存在")
    return _signed(_transaction(order, order["subs"][0]))


@route(PARTNER + "/out-trade-no/<no>/close", ["POST"], "WeChat Pay: a provider closes an order", body=OBJ)
def partner_close(no):
    if not _merchant_ok():
        return _error(401, "SIGN_ERROR", "签名错误")
    body = request.get_json(force=True, silent=True) or {}
    if (bad := rules.refusal("partner_close", body)) is not None:
        return _signed(bad, 400)
    order = _load(no)
    if order is not None and order["kind"] == "partner" and order["subs"][0]["sub_mchid"] != body.get("sub_mchid"):
        return _error(404, "ORDER_NOT_EXIST", "订单不存在")
    return _close(no, "partner")


@route(
    "/wechatpay/sub-merchants",
    ["POST"],
    "Sandbox: register a sub-merchant (特约商户) of the provider, with the official accounts bound to it",
    body={
        "type": "object",
        "required": ["sub_mchid"],
        "properties": {"sub_mchid": STR, "sub_appids": {"type": "array", "items": STR}},
    },
    answer={"type": "object", "properties": {"sub_mchid": STR}},
    status=201,
)
def register_sub_merchant():
    body = request.get_json(force=True, silent=True)
    sub_mchid = body.get("sub_mchid") if isinstance(body, dict) else None
    if not isinstance(sub_mchid, str) or not sub_mchid.isdigit() or not 8 <= len(sub_mchid) <= 32:
        return error(422, "VALIDATION_ERROR", "sub_mchid应为8-32位数字")
    sub_appids = body.get("sub_appids") or []
    if not isinstance(sub_appids, list) or not all(isinstance(a, str) and a for a in sub_appids):
        return error(422, "VALIDATION_ERROR", "sub_appids应为appid的数组")
    redis().sadd(SUB_MCHIDS, sub_mchid)
    for appid in sub_appids:
        apps.bind_sub_appid(sub_mchid, appid)
    return jsonify({"sub_mchid": sub_mchid}), 201
