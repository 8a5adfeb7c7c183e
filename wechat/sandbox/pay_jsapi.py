"""The payer's WeChat starting a JSAPI payment (JSAPI 调起支付), played: the official account's
web page calls ``WeixinJSBridge.invoke("getBrandWCPayRequest", {appId, timeStamp, nonceStr,
package, signType, paySign})``, the mini-program ``wx.requestPayment`` with the same but appId
(the mini-program's own). WeChat checks, as these stand-ins do:

- the bridge's ``appId`` is an official account's (a mini-program's order is paid with
  ``wx.requestPayment`` only);
- ``package`` is ``prepay_id=...`` of an order it placed, and the app the page runs in is the one
  the order is paid in (the appid the payer's openid belongs to: a partner order's sub_appid with
  sub_openid, else sp_appid; a direct order's appid; combine_appid);
- ``signType`` is ``RSA`` and ``paySign`` the merchant's SHA256withRSA signature over
  ``appId\\ntimeStamp\\nnonceStr\\npackage\\n`` (checked with the merchant key the sandbox knows);
then the payer pays, as ``POST /sandbox/wechatpay/orders/{no}/pay``. The answers are what the page's
callback gets: ``{"err_msg": "get_brand_wcpay_request:ok"}`` or ``":fail"`` with ``err_desc``;
``{"errMsg": "requestPayment:ok"}`` or ``"requestPayment:fail ..."``."""

import base64

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.hashes import SHA256
from flask import jsonify, request

from wechat.sandbox import apps
from wechat.sandbox.common import STR, redis, route
from wechat.sandbox.pay import _keys, _load
from wechat.sandbox.pay_notify import _pays

FIELDS = ("timeStamp", "nonceStr", "package", "signType", "paySign")
BODY = {"type": "object", "properties": {k: STR for k in ("appId", *FIELDS)}}
ANSWER = {"type": "object", "additionalProperties": True}


def _refusal(appid, params):
    """Why WeChat would not start the payment, or None; and the order's number."""
    if not isinstance(params, dict) or not all(isinstance(params.get(k), str) for k in FIELDS):
        return "缺少参数", None
    package = params["package"]
    no = redis().get("sbx:pay:prepay:" + package[len("prepay_id=") :]) if package.startswith("prepay_id=") else None
    order = _load(no.decode()) if no else None
    if order is None:
        return "prepay_id无效", None
    if apps.payer_appid(order["body"], order["kind"]) != appid:
        return "当前应用与下单appid不一致", None
    if params["signType"] != "RSA":
        return "signType须为RSA", None
    message = "%s\n%s\n%s\n%s\n" % (appid, params["timeStamp"], params["nonceStr"], package)
    try:
        signature = base64.b64decode(params["paySign"], validate=True)
        _keys()["merchant"].verify(signature, message.encode(), PKCS1v15(), SHA256())
    except (InvalidSignature, ValueError):
        return "支付验证签名失败", None
    return None, order["no"]


@route(
    "/wechat/jsbridge/getBrandWCPayRequest",
    ["POST"],
    "Sandbox: WeixinJSBridge getBrandWCPayRequest in the official account's page (the payer pays)",
    body=BODY,
    answer=ANSWER,
)
def get_brand_wcpay_request():
    params = request.get_json(force=True, silent=True)
    appid = params.get("appId") if isinstance(params, dict) else None
    if not appid or appid == apps.mini_appid():  # a web page pays in an official account's app only
        return jsonify({"err_msg": "get_brand_wcpay_request:fail", "err_desc": "appId须为公众号的appid"})
    problem, no = _refusal(appid, params)
    if problem:
        return jsonify({"err_msg": "get_brand_wcpay_request:fail", "err_desc": problem})
    paid, problem = _pay(no)
    if problem:
        return jsonify({"err_msg": "get_brand_wcpay_request:fail", "err_desc": problem})
    return jsonify({"err_msg": "get_brand_wcpay_request:ok", "notification": paid})


@route(
    "/wechat/miniprogram/requestPayment",
    ["POST"],
    "Sandbox: wx.requestPayment in the mini-program (the payer pays)",
    body=BODY,
    answer=ANSWER,
)
def request_payment():
    params = request.get_json(force=True, silent=True)
    problem, no = _refusal(apps.mini_appid(), params)
    if problem:
        return jsonify({"errMsg": "requestPayment:fail %s" % problem})
    paid, problem = _pay(no)
    if problem:
        return jsonify({"errMsg": "requestPayment:fail %s" % problem})
    return jsonify({"errMsg": "requestPayment:ok", "notification": paid})


def _pay(no):
    """The payer pays: ``(what the notification's delivery gave, None)``, or ``(None, why not)``."""
    answer = _pays(no)
    if isinstance(answer, tuple):  # the order expired (or vanished): WeChat shows why
        return None, answer[0].get_json()["error"]["message"]
    return answer.get_json(), None
