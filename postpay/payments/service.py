"""Paying bills (R11, R13 亲情付): one WeChat payment for own and relatives' due bills.

Who may pay what is settled in the database: the bills are locked in id order,
and a bill is live in one payment only (a partial unique index), so of twenty
payers racing for one bill exactly one gets a payment.

The payment is committed before WeChat is asked for the order, and the order's
request is stored: a retry sends the same request with the same out_trade_no,
so it can neither hit 商户订单号重复 nor make a second live order.
"""

import datetime as dt
import hashlib
import logging
import secrets

import requests
from flask import current_app
from sqlalchemy.exc import IntegrityError

from postpay import authz, clients
from postpay.clock import SHANGHAI
from postpay.errors import Invalid, NotFound, Upstream
from postpay.extensions import db
from postpay.hospitals.models import Hospital
from postpay.payments import notify, reserve
from postpay.payments.models import Payment, PaymentKind, PaymentOrder, PaymentStatus
from postpay.payments.reserve import MISSING_BILL, NotPayable
from wechat.pay import PayError

log = logging.getLogger(__name__)

MAX_HOSPITALS = 10


def trade_no(prefix, now):
    """A WeChat order number (6-32 chars): never our business payment id."""
    return "%s%s%s" % (prefix, now.astimezone(SHANGHAI).strftime("%y%m%d"), secrets.token_hex(10).upper())


def digest(bill_ids):
    return hashlib.sha256(",".join(sorted(set(bill_ids))).encode()).hexdigest()


def create(user, bill_ids, key, now):
    """A pending payment for ``bill_ids``, with its WeChat order placed; returns it.

    The same key sent again, also while the first request is still running (a double
    tap, a retry on a timeout), answers the one payment: a twin that loses the race for
    the bills or for the key's unique constraint rolls back and finds the winner's.

    Raises Invalid (IDEMPOTENCY_KEY_REUSED, TOO_MANY_HOSPITALS), NotFound, Forbidden,
    NotPayable (409), Upstream (the payment stays; retry with the same key).
    """
    payment = _by_key(user, key)
    if payment is None:
        try:
            payment = _reserve(user, sorted(set(bill_ids)), key, now)
            db.session.commit()  # the bills are taken before WeChat hears of the order
        except (IntegrityError, NotPayable):
            db.session.rollback()
            payment = _by_key(user, key)  # a twin request with this key got there first
            if payment is None:
                raise NotPayable() from None
        else:
            return place_order(payment)
    if payment.request_digest != digest(bill_ids):
        raise Invalid("同一Idempotency-Key不能用于不同的支付请求", code="IDEMPOTENCY_KEY_REUSED")
    # A retry places the order on the payer's behalf: a binding revoked since ends it here too.
    authz.require_all(user, {share.bill.patient_id for share in payment.bills}, "pay", MISSING_BILL)
    return place_order(payment)


def _by_key(user, key):
    return Payment.query.filter_by(payer_user_id=user.id, idempotency_key=key).one_or_none()


def _reserve(user, bill_ids, key, now):
    bills = reserve.lock_bills(user, bill_ids)
    reserve.check_due(bills)
    hospitals = {h.id: h for h in Hospital.query.filter(Hospital.id.in_({b.hospital_id for b in bills}))}
    reserve.check_free(bill_ids)
    by_hospital = {}
    for bill in bills:
        by_hospital.setdefault(bill.hospital_id, []).append(bill)
    if len(by_hospital) > MAX_HOSPITALS:
        raise Invalid("一次最多合并支付%d家医院的账单" % MAX_HOSPITALS, code="TOO_MANY_HOSPITALS")
    combined = len(by_hospital) > 1
    expires = now + dt.timedelta(minutes=current_app.config["POSTPAY_ORDER_MINUTES"])
    payment = Payment(
        payer_user_id=user.id,
        idempotency_key=key,
        request_digest=digest(bill_ids),
        status=PaymentStatus.pending,
        total_fen=sum(b.total_fen for b in bills),
        out_trade_no=trade_no("C" if combined else "P", now),
        combined=combined,
        order_request={},
        expires_at=expires,
    )
    db.session.add(payment)
    orders = []
    for hospital_id, group in sorted(by_hospital.items()):
        order = PaymentOrder(
            payment=payment,
            hospital=hospitals[hospital_id],
            mchid=hospitals[hospital_id].mchid,
            out_trade_no=payment.out_trade_no if not combined else trade_no("S", now),
            amount_fen=sum(b.total_fen for b in group),
        )
        db.session.add(order)
        orders.append((order, group))
    db.session.flush()
    payment.order_request = _order_request(payment, user.openid, expires)
    reserve.take(payment, orders)
    log.info("payment %s reserved: %d bill(s), %d fen", payment.id, len(bills), payment.total_fen)
    return payment


def _order_request(payment, openid, expires):
    cfg = current_app.config
    time_expire = expires.astimezone(SHANGHAI).isoformat(timespec="seconds")
    if not payment.combined:
        order = payment.orders[0]
        return {
            "appid": cfg["WECHAT_APPID"],
            "mchid": order.mchid,
            "description": "门诊诊后付费用",
            "out_trade_no": order.out_trade_no,
            "time_expire": time_expire,
            "attach": payment.id,
            "notify_url": cfg["WECHATPAY_NOTIFY_URL"],
            "amount": {"total": order.amount_fen, "currency": "CNY"},
            "payer": {"openid": openid},
        }
    return {
        "combine_appid": cfg["WECHAT_APPID"],
        "combine_mchid": cfg["WECHATPAY_MCHID"],
        "combine_out_trade_no": payment.out_trade_no,
        "time_expire": time_expire,
        "notify_url": cfg["WECHATPAY_NOTIFY_URL"],
        "combine_payer_info": {"openid": openid},
        "sub_orders": [
            {
                "mchid": o.mchid,
                "attach": payment.id,
                "out_trade_no": o.out_trade_no,
                "description": "门诊诊后付费用-%s" % o.hospital.name[:20],
                "amount": {"total_amount": o.amount_fen, "currency": "CNY"},
            }
            for o in payment.orders
        ],
    }


def place_order(payment):
    """Ask WeChat for the prepay id, sending the stored request (idempotent at WeChat). Raises Upstream."""
    if payment.prepay_id or payment.status != PaymentStatus.pending:
        return payment
    client = clients.wechat_pay()
    try:
        if payment.combined:
            payment.prepay_id = client.combine_jsapi(payment.order_request)
        else:
            payment.prepay_id = client.jsapi(payment.order_request)
    except (PayError, requests.RequestException) as e:
        log.error("placing order %s failed: %s", payment.out_trade_no, e)
        raise Upstream("微信支付下单失败，请稍后重试") from None
    db.session.flush()
    return payment


def payment_for(user, payment_id):
    """The payer's own payment. Raises NotFound for anyone else's."""
    payment = db.session.get(Payment, payment_id)
    if payment is None or payment.payer_user_id != user.id:
        raise NotFound("未找到该支付")
    return payment


def refresh(payment):
    """A pending payment asks WeChat where it stands and applies what WeChat says."""
    if payment.status != PaymentStatus.pending or payment.prepay_id is None or payment.kind != PaymentKind.cash:
        return payment
    client = clients.wechat_pay()
    try:
        if payment.combined:
            notify.apply_combine(client.combine_query(payment.out_trade_no))
        else:
            notify.apply_transaction(client.query(payment.out_trade_no, payment.orders[0].mchid))
    except (PayError, requests.RequestException) as e:
        log.warning("query of %s failed: %s", payment.out_trade_no, e)
    db.session.refresh(payment)
    return payment
