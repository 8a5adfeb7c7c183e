"""WeChat Pay API v3 as the merchant sees it: every request's merchant signature is
checked, every answer is signed with the platform key, notifications are signed
and AES-256-GCM encrypted. ``/orders/{no}/pay`` plays the user paying;
``/renotify`` sends the last notification again, byte for byte."""

import functools
import hashlib
import json
import secrets

from flask import Response, current_app, request
from wechatpayv3.utils import load_private_key, load_public_key

from wechat.sandbox import apps, rules, v3sign
from wechat.sandbox.common import OBJ, STR, bp, redis, route

V3 = "/wechatpay/v3"
#: Where WeChat Pay is mounted: the path a merchant signs is what follows, from ``/v3``.
MOUNT = bp.url_prefix + "/wechatpay"
#: Sub-merchants registered at run time (``POST /sandbox/wechatpay/sub-merchants``).
SUB_MCHIDS = "sbx:pay:sub-mchids"
#: Keys parsed once per PEM text (checking an RSA private key takes tens of milliseconds).
_private_key = functools.lru_cache(maxsize=8)(load_private_key)
_public_key = functools.lru_cache(maxsize=8)(load_public_key)


def _keys():
    cfg = current_app.config
    cache = current_app.extensions.get("sandbox_pay_keys")
    if cache is None:  # built whole, then published: a concurrent first call never sees half of it
        with open(cfg["SANDBOX_WECHATPAY_PLATFORM_PRIVATE_KEY_PATH"]) as f:
            platform = _private_key(f.read())
        with open(cfg["SANDBOX_WECHATPAY_MERCHANT_PUBLIC_KEY_PATH"]) as f:
            cache = {"platform": platform, "merchant": _public_key(f.read())}
        current_app.extensions["sandbox_pay_keys"] = cache
    return cache


def _signed(payload, status=200):
    """An answer signed with the platform key, as WeChat signs its answers."""
    body = "" if payload is None else json.dumps(payload, ensure_ascii=False)
    headers = v3sign.signed_headers(_keys()["platform"], current_app.config["SANDBOX_WECHATPAY_PUBLIC_KEY_ID"], body)
    return Response(body, status=status if body else 204, headers=headers, mimetype="application/json")


def _error(status, code, message):
    return _signed({"code": code, "message": message}, status)


def _merchant_ok():
    """Check the Authorization header as WeChat does: a certificate serial we know, signing as the
    merchant it belongs to, a valid signature over the path from ``/v3`` with its query, and no
    body or query naming another merchant as the merchant of a direct API (``mchid``), the
    provider (``sp_mchid``) or the combine merchant."""
    cfg = current_app.config
    owners = {cfg["SANDBOX_WECHATPAY_MERCHANT_SERIAL"]: cfg["SANDBOX_WECHATPAY_MCHID"]}
    fields = v3sign.parse_authorization(request.headers.get("Authorization", ""))
    if not fields or not fields["mchid"] or owners.get(fields["serial_no"]) != fields["mchid"]:
        return False
    path = request.full_path.rstrip("?")
    url = path[len(MOUNT) :] if path.startswith(MOUNT + "/v3/") else path
    raw = request.get_data(as_text=True)
    if not v3sign.verify_request(fields, _keys()["merchant"], request.method, url, raw):
        return False
    body = request.get_json(force=True, silent=True) if raw else None
    named = dict(body) if isinstance(body, dict) else {}
    named.setdefault("sp_mchid", request.args.get("sp_mchid"))
    named.setdefault("mchid", request.args.get("mchid"))  # a direct API names its merchant: the signer
    return all(named.get(k) in (None, fields["mchid"]) for k in ("mchid", "sp_mchid", "combine_mchid"))


def sub_mchid_known(sub_mchid):
    """A sub-merchant of the provider (受理关系): in ``SANDBOX_WECHATPAY_SUB_MCHIDS`` or registered."""
    if not isinstance(sub_mchid, str) or not sub_mchid:
        return False
    return sub_mchid in current_app.config["SANDBOX_WECHATPAY_SUB_MCHIDS"] or bool(
        redis().sismember(SUB_MCHIDS, sub_mchid)
    )


def _load(no):
    raw = redis().get("sbx:pay:order:" + no)
    return json.loads(raw) if raw else None


def _save(order):
    redis().set("sbx:pay:order:" + order["no"], json.dumps(order, ensure_ascii=False), ex=7 * 86400)


def _place(kind, body, no, amount, subs, native=False):
    """One order per out_trade_no, also when the same request arrives twice at once: the
    same request again gets the same prepay_id (a native order: code_url), another one 商户订单号重复."""
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
    order = _load(no)
    if order is not None:
        return _again(order, digest)
    order = {
        "kind": kind,
        "no": no,
        "digest": digest,
        "body": body,
        "state": "NOTPAY",
        "amount": amount,
        "subs": subs,
        "prepay_id": "wx%s" % secrets.token_hex(14),
        "transaction_id": None,
    }
    if native:
        order["code_url"] = "weixin://wxpay/bizpayurl?pr=%s" % secrets.token_urlsafe(9)
    if not redis().set("sbx:pay:order:" + no, json.dumps(order, ensure_ascii=False), ex=7 * 86400, nx=True):
        return _again(_load(no), digest)  # a twin request placed it a moment ago
    redis().set("sbx:pay:prepay:" + order["prepay_id"], no, ex=7 * 86400)  # for medical-insurance orders
    if native:
        redis().set("sbx:pay:code-url:" + order["code_url"], no, ex=7 * 86400)  # for the payer's scan
    for sub in subs:
        redis().set("sbx:pay:sub:" + sub["out_trade_no"], no, ex=7 * 86400)
    return _answer(order)


def _again(order, digest):
    if order["digest"] != digest:
        return _error(400, "INVALID_REQUEST", "商户订单号重复")
    if order["state"] == "SUCCESS":
        return _error(400, "ORDER_PAID", "该订单已支付")
    if order["state"] == "CLOSED":
        return _error(400, "ORDER_CLOSED", "订单已关闭")
    return _answer(order)


def _answer(order):
    """A placed order's answer: the code_url of a native order, else the prepay_id."""
    return _signed({"code_url": order["code_url"]} if "code_url" in order else {"prepay_id": order["prepay_id"]})


@route(V3 + "/pay/transactions/jsapi", ["POST"], "WeChat Pay: JSAPI order", body=OBJ)
def jsapi():
    if not _merchant_ok():
        return _error(401, "SIGN_ERROR", "签名错误")
    body = request.get_json(force=True, silent=True) or {}
    if (bad := rules.refusal("jsapi", body)) is not None:
        return _signed(bad, 400)
    total = (body.get("amount") or {}).get("total")
    if not body.get("out_trade_no") or not isinstance(total, int) or total <= 0 or not body.get("notify_url"):
        return _error(400, "PARAM_ERROR", "参数错误")
    if (bad := apps.payer_refusal(body.get("appid"), (body.get("payer") or {}).get("openid"))) is not None:
        return _error(400, *bad)
    sub = {"mchid": body["mchid"], "out_trade_no": body["out_trade_no"], "amount": total}
    return _place("single", body, body["out_trade_no"], total, [sub])


@route(V3 + "/combine-transactions/jsapi", ["POST"], "WeChat Pay: combine (合单) JSAPI order", body=OBJ)
def combine_jsapi():
    if not _merchant_ok():
        return _error(401, "SIGN_ERROR", "签名错误")
    body = request.get_json(force=True, silent=True) or {}
    if (bad := rules.refusal("combine_jsapi", body)) is not None:
        return _signed(bad, 400)
    subs = body.get("sub_orders") or []
    if not body.get("combine_out_trade_no") or not 2 <= len(subs) <= 10:
        return _error(400, "PARAM_ERROR", "子单数量须为2-10")
    payer = (body.get("combine_payer_info") or {}).get("openid")
    if (bad := apps.payer_refusal(body.get("combine_appid"), payer)) is not None:
        return _error(400, *bad)
    parsed = [_combine_sub(s) for s in subs]
    if any(s["sub_mchid"] is not None and not sub_mchid_known(s["sub_mchid"]) for s in parsed):
        return _error(400, "INVALID_REQUEST", "受理关系不存在")
    return _place("combine", body, body["combine_out_trade_no"], sum(s["amount"] for s in parsed), parsed)


def _combine_sub(s):
    """A combine sub-order as the sandbox keeps it; ``sub_mchid`` when a provider orders for a sub-merchant."""
    return {
        "mchid": s["mchid"],
        "sub_mchid": s.get("sub_mchid"),
        "out_trade_no": s["out_trade_no"],
        "amount": s["amount"]["total_amount"],
    }


def _transaction(order, sub):
    """The order as a query answers it and its notification carries (the partner shape for partner orders)."""
    if order["kind"] == "partner":
        return _partner_transaction(order, sub)
    return {
        "appid": order["body"].get("appid"),
        "mchid": sub["mchid"],
        "out_trade_no": sub["out_trade_no"],
        "transaction_id": sub.get("transaction_id"),
        "trade_type": "JSAPI",
        "trade_state": order["state"],
        "trade_state_desc": {"SUCCESS": "支付成功", "NOTPAY": "未支付", "CLOSED": "已关闭"}[order["state"]],
        "success_time": order.get("success_time"),
        "amount": {"total": sub["amount"], "payer_total": sub["amount"], "currency": "CNY", "payer_currency": "CNY"},
        "payer": {
            "openid": (order["body"].get("payer") or order["body"].get("combine_payer_info") or {}).get("openid")
        },
    }


def _partner_transaction(order, sub):
    body, state = order["body"], order["state"]
    payer = body.get("payer") or {}
    found = {
        "sp_appid": body.get("sp_appid"),
        "sp_mchid": body.get("sp_mchid"),
        "sub_appid": body.get("sub_appid"),
        "sub_mchid": sub["sub_mchid"],
        "out_trade_no": sub["out_trade_no"],
        "transaction_id": sub.get("transaction_id"),
        "trade_type": "NATIVE" if "code_url" in order else "JSAPI",
        "trade_state": state,
        "trade_state_desc": {"SUCCESS": "支付成功", "NOTPAY": "未支付", "CLOSED": "已关闭"}[state],
        "bank_type": "OTHERS" if state == "SUCCESS" else None,
        "attach": body.get("attach"),
        "success_time": order.get("success_time"),
        "amount": {"total": sub["amount"], "payer_total": sub["amount"], "currency": "CNY", "payer_currency": "CNY"},
        "payer": {k: payer[k] for k in ("sp_openid", "sub_openid") if k in payer},
    }
    return {k: v for k, v in found.items() if v is not None}


def _combine_resource(order):
    return {
        "combine_appid": order["body"].get("combine_appid"),
        "combine_mchid": order["body"].get("combine_mchid"),
        "combine_out_trade_no": order["no"],
        "combine_payer_info": order["body"].get("combine_payer_info"),
        "sub_orders": [
            {
                "mchid": s["mchid"],
                **({"sub_mchid": s["sub_mchid"]} if s.get("sub_mchid") else {}),
                "trade_type": "JSAPI",
                "trade_state": order["state"],
                "transaction_id": s.get("transaction_id"),
                "out_trade_no": s["out_trade_no"],
                "success_time": order.get("success_time"),
                "amount": {
                    "total_amount": s["amount"],
                    "currency": "CNY",
                    "payer_amount": s["amount"],
                    "payer_currency": "CNY",
                },
            }
            for s in order["subs"]
        ],
    }


@route(V3 + "/pay/transactions/out-trade-no/<no>", ["GET"], "WeChat Pay: query an order", query={"mchid": STR})
def query(no):
    if not _merchant_ok():
        return _error(401, "SIGN_ERROR", "签名错误")
    order = _load(no)
    if order is None or order["kind"] != "single":
        return _error(404, "ORDER_NOT_EXIST", "订单不存在")
    return _signed(_transaction(order, order["subs"][0]))


@route(V3 + "/combine-transactions/out-trade-no/<no>", ["GET"], "WeChat Pay: query a combine order")
def combine_query(no):
    if not _merchant_ok():
        return _error(401, "SIGN_ERROR", "签名错误")
    order = _load(no)
    if order is None or order["kind"] != "combine":
        return _error(404, "ORDER_NOT_EXIST", "订单不存在")
    return _signed(_combine_resource(order))


def _close(no, kind):
    if not _merchant_ok():
        return _error(401, "SIGN_ERROR", "签名错误")
    order = _load(no)
    if order is None or order["kind"] != kind:
        return _error(404, "ORDER_NOT_EXIST", "订单不存在")
    if order["state"] == "SUCCESS":
        return _error(400, "ORDERPAID", "订单已支付")
    order["state"] = "CLOSED"
    _save(order)
    return _signed(None)


@route(V3 + "/pay/transactions/out-trade-no/<no>/close", ["POST"], "WeChat Pay: close an order", body=OBJ)
def close(no):
    if _merchant_ok() and (bad := rules.refusal("close", request.get_json(force=True, silent=True))) is not None:
        return _signed(bad, 400)
    return _close(no, "single")


@route(V3 + "/combine-transactions/out-trade-no/<no>/close", ["POST"], "WeChat Pay: close a combine order", body=OBJ)
def combine_close(no):
    if _merchant_ok() and (bad := rules.refusal("combine_close", request.get_json(force=True, silent=True))):
        return _signed(bad, 400)
    return _close(no, "combine")
