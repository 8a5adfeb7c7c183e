"""WeChat Pay notifications in the sandbox: the user pays (``/orders/{no}/pay``, or scans a native
order's code_url: ``/native/scan``), the signed,
AES-256-GCM encrypted notification goes to the merchant, ``/renotify`` sends it again byte for byte."""

import base64
import datetime as dt
import json
import secrets

import requests
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import current_app, jsonify, request

from wechat.sandbox import rules, v3sign
from wechat.sandbox.common import CST, OBJ, STR, redis, route
from wechat.sandbox.pay import _combine_resource, _keys, _load, _save, _transaction


def notification(event_type, summary, original_type, resource):
    """The signed, encrypted notification WeChat would POST: ``(headers, body)``."""
    cfg = current_app.config
    nonce = secrets.token_hex(6)
    plain = json.dumps(resource, ensure_ascii=False).encode()
    cipher = AESGCM(cfg["SANDBOX_WECHATPAY_APIV3_KEY"].encode()).encrypt(nonce.encode(), plain, original_type.encode())
    body = json.dumps(
        {
            "id": secrets.token_hex(16),
            "create_time": dt.datetime.now(CST).isoformat(timespec="seconds"),
            "resource_type": "encrypt-resource",
            "event_type": event_type,
            "summary": summary,
            "resource": {
                "original_type": original_type,
                "algorithm": "AEAD_AES_256_GCM",
                "ciphertext": base64.b64encode(cipher).decode(),
                "associated_data": original_type,
                "nonce": nonce,
            },
        },
        ensure_ascii=False,
    )
    headers = {"Content-Type": "application/json"}
    headers |= v3sign.signed_headers(_keys()["platform"], cfg["SANDBOX_WECHATPAY_PUBLIC_KEY_ID"], body)
    return headers, body


def deliver(url, headers, body, key):
    """POST a notification and remember it for /renotify."""
    redis().set(key, json.dumps({"url": url, "headers": headers, "body": body}), ex=7 * 86400)
    return _post(url, headers, body)


def _post(url, headers, body):
    try:
        resp = requests.post(url, data=body.encode(), headers=headers, timeout=10)
    except requests.RequestException as e:  # the merchant is down: WeChat would retry later
        return jsonify({"delivered": False, "status": 0, "answer": type(e).__name__})
    return jsonify({"delivered": resp.status_code < 300, "status": resp.status_code, "answer": resp.text[:500]})


@route(
    "/wechatpay/orders/<no>/pay",
    ["POST"],
    "Sandbox: the user pays; the notification is sent",
    body={"type": "object", "properties": {"tamper": OBJ}},
    answer={"type": "object", "properties": {"delivered": {"type": "boolean"}, "status": {"type": "integer"}}},
)
def user_pays(no):
    return _pays(no)


@route(
    "/wechatpay/native/scan",
    ["POST"],
    "Sandbox: the user scans a native order's code_url and pays; the notification is sent",
    body={"type": "object", "required": ["code_url"], "properties": {"code_url": STR, "tamper": OBJ}},
    answer={"type": "object", "properties": {"delivered": {"type": "boolean"}, "status": {"type": "integer"}}},
)
def native_scan():
    body = request.get_json(force=True, silent=True)
    code_url = body.get("code_url") if isinstance(body, dict) else None
    no = redis().get("sbx:pay:code-url:%s" % code_url) if isinstance(code_url, str) else None
    if no is None:
        return jsonify({"error": {"code": "ORDER_NOT_EXIST", "message": "二维码无效"}}), 404
    return _pays(no.decode())


def _pays(no):
    """The user pays order ``no`` (a body's ``tamper`` alters the notified resource)."""
    order = _load(no)
    if order is None:
        return jsonify({"error": {"code": "ORDER_NOT_EXIST", "message": "订单不存在"}}), 404
    if order["state"] == "NOTPAY" and rules.expired(order["body"]):  # past time_expire: stays NOTPAY, as at WeChat
        return jsonify({"error": {"code": "ORDER_EXPIRED", "message": "订单已过支付结束时间，无法支付"}}), 409
    if order["state"] == "NOTPAY":
        order["state"] = "SUCCESS"
        order["success_time"] = dt.datetime.now(CST).isoformat(timespec="seconds")
        for sub in order["subs"]:
            sub["transaction_id"] = "42000%s" % secrets.randbelow(10**23)
            redis().set("sbx:pay:txn:" + sub["transaction_id"], no, ex=7 * 86400)  # for a query by id
        _save(order)
        for sub in order["subs"]:
            redis().rpush(
                "sbx:pay:ledger", json.dumps({"order": order["no"], "sub": sub, "time": order["success_time"]})
            )
    resource = _combine_resource(order) if order["kind"] == "combine" else _transaction(order, order["subs"][0])
    tamper = (request.get_json(force=True, silent=True) or {}).get("tamper") or {}
    resource = json.loads(json.dumps(resource))
    _apply_tamper(resource, tamper)
    original = "combine_transaction" if order["kind"] == "combine" else "transaction"
    headers, body = notification("TRANSACTION.SUCCESS", "支付成功", original, resource)
    return deliver(order["body"]["notify_url"], headers, body, "sbx:pay:last:" + no)


def _apply_tamper(resource, tamper):
    target = resource["sub_orders"][0] if "sub_orders" in resource else resource
    for key, value in tamper.items():
        if key == "amount":
            target["amount"]["total" if "total" in target["amount"] else "total_amount"] = value
        elif key == "currency":
            target["amount"]["currency"] = value
        else:
            target[key] = value


@route(
    "/wechatpay/orders/<no>/renotify",
    ["POST"],
    "Sandbox: send the last notification again, byte for byte",
    answer={"type": "object", "properties": {"delivered": {"type": "boolean"}, "status": {"type": "integer"}}},
)
def renotify(no):
    raw = redis().get("sbx:pay:last:" + no)
    if raw is None:
        return jsonify({"error": {"code": "NOTHING_SENT", "message": "尚未发送通知"}}), 404
    last = json.loads(raw)
    return _post(last["url"], last["headers"], last["body"])
