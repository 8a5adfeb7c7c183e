"""The WeChat Pay channel (R11, R13 亲情付): one JSAPI order, or a combine order (合单) over
2 to 10 hospitals, for own and relatives' due bills.

- ``reserve`` / ``place``: the bills are taken and committed before WeChat hears of the order;
  the order's request is stored, so a retry sends the same request with the same out_trade_no
  and can neither hit 商户订单号重复 nor make a second live order.
- ``apply``: a TRANSACTION notification or a query answer, in this order (DESIGN 7): find the
  order, skip a transaction already applied, check amount, currency, mchid and appid (a mismatch
  marks nothing paid and raises an alert), then book every bill of the order, in one transaction.
- ``query``, ``close``: a pending payment asks WeChat where it stands; an expired one is closed.
- ``refund`` / ``apply_refund``: ``/v3/refund/domestic/refunds``, then its notification.
"""

import datetime as dt
import logging

import requests
from flask import current_app

from postpay import authz, clients, counters, pushes, queue
from postpay.accounts.models import APP_MINI
from postpay.clock import SHANGHAI, from_rfc3339
from postpay.errors import Forbidden, Invalid, NotFound, Upstream
from postpay.extensions import db
from postpay.hospitals.models import Hospital
from postpay.payments import ledger, merchant, reserve
from postpay.payments.alerts import alert
from postpay.payments.channels.wechat.refunds import REFUND_JOB, apply_refund, refund, refund_item, refund_job  # noqa: F401
from postpay.payments.models import (
    Payment,
    PaymentBill,
    PaymentKind,
    PaymentOrder,
    PaymentStatus,
    digest,
    mark_paid,
    trade_no,
)
from wechat.pay import PayError

log = logging.getLogger(__name__)

MAX_HOSPITALS = 10


def reserve_bills(user, bill_ids, key, now, app=APP_MINI):
    """A pending payment holding ``bill_ids`` (flushed, not committed), one order per hospital,
    paid in ``app`` (APPS: the mini-program or the official account) with the payer's openid there.
    Raises NotFound, Forbidden, NotPayable, Invalid (TOO_MANY_HOSPITALS)."""
    bills = reserve.lock_bills(user, bill_ids)
    reserve.check_due(bills, user)
    hospitals = {h.id: h for h in Hospital.query.filter(Hospital.id.in_({b.hospital_id for b in bills}))}
    reserve.check_free(bill_ids, user)
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
    payment.order_request = _order_request(payment, merchant.payer_of(user, app), expires)
    for order, _ in orders:  # what its notifications must name (a combine order's: combine_appid)
        order.appid, order.sub_appid = merchant.named_appids(payment.order_request)
    reserve.take(payment, orders)
    log.info("payment %s reserved: %d bill(s), %d fen", payment.id, len(bills), payment.total_fen)
    return payment


def _order_request(payment, payer, expires):
    cfg = current_app.config
    time_expire = expires.astimezone(SHANGHAI).isoformat(timespec="seconds")
    if not payment.combined:
        order = payment.orders[0]
        fields = {
            "description": "门诊诊后付费用",
            "out_trade_no": order.out_trade_no,
            "time_expire": time_expire,
            "attach": payment.id,
            "notify_url": cfg["WECHATPAY_NOTIFY_URL"],
            "amount": {"total": order.amount_fen, "currency": "CNY"},
        }
        return merchant.jsapi_request(order.mchid, payer, fields, order.hospital.oa_appid)
    appid, openid = payer  # a combine order is the provider's: the payer's app is combine_appid
    return {
        "combine_appid": appid,
        "combine_mchid": cfg["WECHATPAY_MCHID"],
        "combine_out_trade_no": payment.out_trade_no,
        "time_expire": time_expire,
        "notify_url": cfg["WECHATPAY_NOTIFY_URL"],
        "combine_payer_info": {"openid": openid},
        "sub_orders": [
            merchant.combine_sub_order(
                o.mchid,
                {
                    "attach": payment.id,
                    "out_trade_no": o.out_trade_no,
                    "description": "门诊诊后付费用-%s" % o.hospital.name[:20],
                    "amount": {"total_amount": o.amount_fen, "currency": "CNY"},
                },
            )
            for o in payment.orders
        ],
    }


def may_go_on(payer, payment):
    """Whether ``payer`` may still pay for every bill of ``payment`` (R15: a binding revoked since).
    A payment covering bills of several patients fails as a whole when one of them is lost."""
    if payer is None:
        return True  # a kiosk's payment: the patient at the kiosk pays their own bills
    try:
        authz.require_all(payer, {share.bill.patient_id for share in payment.bills}, "pay")
    except (NotFound, Forbidden):
        return False
    return True


def place(payment):
    """Ask WeChat for the prepay id, sending the stored request (idempotent at WeChat). Raises Upstream."""
    if payment.placed or payment.status != PaymentStatus.pending:
        return payment
    client = clients.wechat_pay()
    try:
        if payment.combined:
            payment.prepay_id = client.combine_jsapi(payment.order_request)
        elif "payer" not in payment.order_request:  # a kiosk's native order: a QR code to scan
            payment.code_url = merchant.place_native(client, payment.order_request)
        else:
            payment.prepay_id = merchant.place(client, payment.order_request)
    except (PayError, requests.RequestException) as e:
        log.error("placing order %s failed: %s", payment.out_trade_no, e)
        raise Upstream("微信支付下单失败，请稍后重试") from None
    db.session.flush()
    return payment


def query(payment, now=None):
    """A pending payment asks WeChat where it stands and applies what WeChat says."""
    if payment.status != PaymentStatus.pending or not payment.placed:
        return payment
    client = clients.wechat_pay()
    try:
        if payment.combined:
            apply(client.combine_query(payment.out_trade_no))
        else:
            apply(merchant.query(client, payment.out_trade_no, payment.orders[0].mchid))
    except (PayError, requests.RequestException) as e:
        log.warning("query of %s failed: %s", payment.out_trade_no, e)
    db.session.refresh(payment)
    return payment


def close(payment, now):
    """Close a pending payment (locked by the caller) at WeChat and free its bills; commits.

    Safe to repeat: WeChat closes a closed order again, and one it never got needs no closing.
    An order WeChat reports paid is applied as paid instead (never lose money). Returns True
    when the payment was closed; a failure is logged, rolled back and left to the next sweep.
    """
    try:
        _close_at_wechat(payment)
    except PayError as e:
        if e.code in ("ORDERPAID", "ORDER_PAID"):  # WeChat's close answers ORDERPAID
            query(payment)
            db.session.commit()
            return False
        if e.code != "ORDER_NOT_EXIST":
            log.error("closing %s failed: %s", payment.out_trade_no, e)
            db.session.rollback()
            return False
    except requests.RequestException as e:
        log.error("closing %s failed: %s", payment.out_trade_no, e)
        db.session.rollback()
        return False
    payment.transition(PaymentStatus.closed)
    payment.closed_at = now
    db.session.execute(db.update(PaymentBill).where(PaymentBill.payment_id == payment.id).values(live=False))
    db.session.commit()
    pushes.flush()
    return True


def _close_at_wechat(payment):
    client = clients.wechat_pay()
    if not payment.placed:
        return  # never placed at WeChat
    if payment.combined:
        subs = [merchant.combine_sub_order(o.mchid, {"out_trade_no": o.out_trade_no}) for o in payment.orders]
        client.combine_close(payment.out_trade_no, subs)
    else:
        merchant.close(client, payment.out_trade_no, payment.orders[0].mchid)


def apply(resource):
    """A TRANSACTION notification's resource, or a query's answer: single or combine."""
    if "combine_out_trade_no" not in resource:
        amount = resource.get("amount") or {}
        return _apply(resource, None, amount.get("total"), amount.get("currency"))
    if resource.get("combine_mchid") != current_app.config["WECHATPAY_MCHID"]:
        alert("MCHID_MISMATCH", order=resource.get("combine_out_trade_no"), got=resource.get("combine_mchid"))
        return
    # combine_appid is checked with each sub-order, against the appid its stored order named
    for sub in resource.get("sub_orders", []):  # each sub-order of a combine order on its own
        amount = sub.get("amount") or {}
        _apply(sub, resource.get("combine_appid"), amount.get("total_amount"), amount.get("currency"))


def _apply(tx, appid, total, currency):
    if tx.get("trade_state") != "SUCCESS":
        return
    out_trade_no, transaction_id = tx.get("out_trade_no"), tx.get("transaction_id")
    # The order and its payment, both locked: deliveries of one order (or of the sub-orders
    # of one combine order) are applied one after another. Plain columns, no ORM objects:
    # this runs once for every payment made, and a duplicate delivery ends here.
    order = db.session.execute(
        db.select(
            PaymentOrder.id,
            PaymentOrder.transaction_id,
            PaymentOrder.amount_fen,
            PaymentOrder.mchid,
            PaymentOrder.appid,
            PaymentOrder.sub_appid,
            PaymentOrder.payment_id,
            Payment.status,
            Payment.combined,
            Payment.kind,
        )
        .join(Payment, Payment.id == PaymentOrder.payment_id)
        .where(PaymentOrder.out_trade_no == out_trade_no)
        .with_for_update()
    ).first()
    if order is None:
        log.warning("notification for unknown order %s", out_trade_no)
        return
    if order.kind != PaymentKind.cash:  # the cash part of a settlement: it settles with its med-ins order
        log.info("cash part %s noted: it settles with its medical-insurance order", out_trade_no)
        return
    if order.transaction_id == transaction_id:
        counters.count("notifications", outcome="duplicate")
        return  # already applied: a duplicate delivery writes nothing
    if order.transaction_id is not None:
        alert("SECOND_TRANSACTION", order=out_trade_no, first=order.transaction_id, second=transaction_id)
        return
    expected = (order.amount_fen, "CNY", *merchant.expected(order.mchid, order.appid, order.sub_appid))
    got = (total, currency, *merchant.named(tx, appid))
    if got != expected:
        alert("MISMATCH", order=out_trade_no, got=got, expected=expected)
        return
    at = from_rfc3339(tx.get("success_time"))
    orders = PaymentOrder.__table__
    db.session.execute(orders.update().where(orders.c.id == order.id).values(transaction_id=transaction_id, paid_at=at))
    # The order's transaction id was checked above: this transaction is not booked yet.
    for refund_id in ledger.book_order(order.id, "wechat", transaction_id, order.payment_id, at):
        pushes.after_commit(queue.enqueue, REFUND_JOB, refund_id)
    if not order.combined or _all_orders_paid(order.payment_id):
        _payment_paid(order.payment_id, order.status, at)
    db.session.expire_all()  # a caller holding these rows as objects reads them afresh
    counters.count("notifications", outcome="applied")
    log.info("order %s paid (%s)", out_trade_no, transaction_id)


def _all_orders_paid(payment_id):
    return not db.session.execute(
        db.select(PaymentOrder.id)
        .where(PaymentOrder.payment_id == payment_id, PaymentOrder.transaction_id.is_(None))
        .limit(1)
    ).first()


def _payment_paid(payment_id, status, at):
    """The payment's own transition (pending -> paid), on its row locked above."""
    if status == PaymentStatus.closed:
        alert("PAID_AFTER_CLOSE", payment=payment_id)
        status = PaymentStatus.pending  # money is in: the close is overruled by the payment
    mark_paid(payment_id, status, at)
