"""Payments for the mini-program, and WeChat Pay's notifications."""

import datetime as dt

from flask import Blueprint, g, jsonify, request

from postpay import clients, examples, inputs
from postpay.api import INT, NULLABLE_STR, STR, idempotency_key, iso, loose, obj, route
from postpay.errors import BadRequest, Invalid
from postpay.payments import history, merchant, notify, service

bp = Blueprint("payments", __name__)

PAYMENT = loose(
    id=STR,
    out_trade_no=STR,
    status={"type": "string", "enum": ["pending", "paid", "closed", "refunded"]},
    total_fen=INT,
    bill_ids={"type": "array", "items": STR},
)
REQUEST_PAYMENT = loose(appId=STR, timeStamp=STR, nonceStr=STR, package=STR, signType=STR, paySign=STR)


def request_payment(payment):
    """What the payer's WeChat needs to pay ``payment``: ``wx.requestPayment`` in the mini-program,
    ``WeixinJSBridge.invoke("getBrandWCPayRequest", ...)`` in the official account (which needs
    ``appId``); paySign covers the appid the order was placed for."""
    return clients.wechat_pay().request_payment(payment.prepay_id, merchant.payer_appid(payment.order_request))


def payment_json(payment):
    return {
        "id": payment.id,
        "out_trade_no": payment.out_trade_no,
        "status": payment.status.value,
        "total_fen": payment.total_fen,
        "bill_ids": sorted(b.bill_id for b in payment.bills),
        "combined": payment.combined,
        "orders": [
            {
                "hospital_id": o.hospital_id,
                "out_trade_no": o.out_trade_no,
                "amount_fen": o.amount_fen,
                "paid": o.transaction_id is not None,
            }
            for o in payment.orders
        ],
        "expires_at": iso(payment.expires_at),
        "paid_at": iso(payment.paid_at),
    }


@route(
    bp,
    "/api/v1/payments",
    ["POST"],
    "Pay due bills (own and relatives' with pay) in one WeChat payment",
    examples=examples.PAY,
    body=obj(
        ["bill_ids"],
        bill_ids={
            "type": "array",
            "minItems": 1,
            "maxItems": 50,
            "uniqueItems": True,
            "items": {"type": "string", "minLength": 1, "maxLength": 64},
        },
    ),
    answers={201: loose(payment=PAYMENT, request_payment=REQUEST_PAYMENT)},
    headers=idempotency_key(),
    errors={
        400: ("IDEMPOTENCY_KEY_REQUIRED",),
        403: ("PERMISSION_DENIED",),
        409: ("BILL_NOT_PAYABLE",),
        422: ("IDEMPOTENCY_KEY_REUSED", "TOO_MANY_HOSPITALS"),
    },
)
def create():
    key = request.headers.get("Idempotency-Key", "")
    if not 8 <= len(key) <= 128:
        raise BadRequest("请求头Idempotency-Key必填（8-128个字符）", code="IDEMPOTENCY_KEY_REQUIRED")
    payment = service.create(g.user, g.body["bill_ids"], key, dt.datetime.now(dt.timezone.utc), g.user_app)
    return jsonify({"payment": payment_json(payment), "request_payment": request_payment(payment)}), 201


@route(
    bp,
    "/api/v1/payments/<payment_id>",
    ["GET"],
    "A payment; a pending one is checked with WeChat first",
    examples=examples.SHOW_PAYMENT,
    answers={200: loose(payment=PAYMENT)},
)
def show(payment_id):
    payment = service.refresh(service.payment_for(g.user, payment_id))
    return jsonify({"payment": payment_json(payment)})


@route(
    bp,
    "/api/v1/payments/<payment_id>",
    ["DELETE"],
    "Cancel one's own pending WeChat payment: the order is closed and the bills are free again",
    answers={204: None},
    errors={409: ("ALREADY_PAID", "SETTLEMENT_PAYMENT")},
)
def cancel(payment_id):
    service.cancel(g.user, payment_id, dt.datetime.now(dt.timezone.utc))
    return "", 204


REFUND = loose(
    id=STR,
    amount_fen=INT,
    status={"type": "string", "enum": ["processing", "succeeded", "failed"]},
    reason=STR,
    created_at=STR,
    succeeded_at=NULLABLE_STR,
)
PAID_BILL = loose(id=STR, patient=loose(id=STR, name=STR), hospital=loose(id=STR, name=STR), amount_fen=INT)
PAST_PAYMENT = loose(
    id=STR,
    channel={"type": "string", "enum": ["wechat", "medins", "micropay"]},
    status={"type": "string", "enum": ["pending", "paid", "closed", "refunded"]},
    total_fen=INT,
    created_at=STR,
    paid_at=NULLABLE_STR,
    bills={"type": "array", "items": PAID_BILL},
    refunds={"type": "array", "items": REFUND},
)


def page_limit(default=20, most=100):
    """The ``limit`` query argument: 1 to ``most``. Raises Invalid."""
    text = request.args.get("limit")
    if text is None:
        return default
    if not text.isdigit() or not 1 <= int(text) <= most:
        raise Invalid("limit 应为1至%d的整数" % most)
    return int(text)


@route(
    bp,
    "/api/v1/payments",
    ["GET"],
    "The payments this account made, newest first, with their bills and refunds",
    examples=examples.PAYMENTS,
    query={"cursor": STR, "limit": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}},
    answers={200: loose(payments={"type": "array", "items": PAST_PAYMENT}, next_cursor=NULLABLE_STR)},
    read_only=True,
    errors={422: ("BAD_CURSOR",)},
)
def list_payments():
    payments, next_cursor = history.page(g.user, request.args.get("cursor"), page_limit())
    return jsonify({"payments": payments, "next_cursor": next_cursor})


def _notified():
    """One delivery, to either notify URL: the one handler, and the answer WeChat reads."""
    inputs.check_raw_json(request.get_data())  # too deep, NUL: 400/422 before anything parses it
    status = notify.handle(request.headers, request.get_data(as_text=True))
    if status == 200:
        return "", 200
    # WeChat reads code/message; our own error format rides along.
    body = {"code": "FAIL", "message": "签名验证失败", "error": {"code": "BAD_SIGNATURE", "message": "签名验证失败"}}
    return jsonify(body), status


@route(
    bp,
    "/wechat/pay/notify",
    ["POST"],
    "WeChat Pay notifications (payments and refunds), signed and encrypted",
    auth=None,
    answers={200: None, 401: loose(code=STR, message=STR)},
    errors={401: ("BAD_SIGNATURE",)},
)
def wechat_notify():
    return _notified()


@route(
    bp,
    "/wechat/pay/med-ins-notify",
    ["POST"],
    "WeChat medical-insurance payment notifications, signed and encrypted",
    auth=None,
    answers={200: None, 401: loose(code=STR, message=STR)},
    errors={401: ("BAD_SIGNATURE",)},
)
def medins_notify():
    return _notified()
