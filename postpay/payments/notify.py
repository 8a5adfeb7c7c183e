"""WeChat Pay notifications (DESIGN 7), in this order: verify the signature (and its age),
decrypt, find the order, skip a transaction already applied, check amount, currency,
mchid and appid (a mismatch marks nothing paid and raises an alert), then apply
through the one transition to every bill of the order, in one database transaction."""

import datetime as dt
import logging

from flask import current_app

from postpay import clients, pushes, queue
from postpay.extensions import db
from postpay.payments import ledger, refunds
from postpay.payments.alerts import alert
from postpay.payments.models import Payment, PaymentOrder, PaymentStatus, mark_paid
from wechat.pay import NotificationError

log = logging.getLogger(__name__)


def handle(headers, body):
    """Process one delivery. Returns the HTTP status WeChat should get (it decides on the status)."""
    try:
        event, resource = clients.wechat_pay().verify_notification(headers, body)
    except NotificationError as e:
        log.warning("notification refused: %s", e)
        return 401
    kind = event.get("event_type", "")
    if kind.startswith("REFUND."):
        refunds.apply_notification(resource)
    elif kind == "TRANSACTION.SUCCESS":
        if "combine_out_trade_no" in resource:
            apply_combine(resource)
        else:
            apply_transaction(resource)
    else:
        log.info("notification %s ignored", kind)
    return 200


def apply_combine(resource):
    """Each sub-order of a combine order on its own."""
    if resource.get("combine_appid") != current_app.config["WECHAT_APPID"]:
        alert("APPID_MISMATCH", order=resource.get("combine_out_trade_no"), appid=resource.get("combine_appid"))
        return
    for sub in resource.get("sub_orders", []):
        amount = sub.get("amount") or {}
        _apply(
            sub.get("out_trade_no"),
            sub.get("transaction_id"),
            sub.get("trade_state"),
            sub.get("mchid"),
            resource.get("combine_appid"),
            amount.get("total_amount"),
            amount.get("currency"),
            sub.get("success_time"),
        )


def apply_transaction(tx):
    amount = tx.get("amount") or {}
    _apply(
        tx.get("out_trade_no"),
        tx.get("transaction_id"),
        tx.get("trade_state"),
        tx.get("mchid"),
        tx.get("appid"),
        amount.get("total"),
        amount.get("currency"),
        tx.get("success_time"),
    )


def _apply(out_trade_no, transaction_id, state, mchid, appid, total, currency, success_time):
    if state != "SUCCESS":
        return
    # The order and its payment, both locked: deliveries of one order (or of the sub-orders
    # of one combine order) are applied one after another. Plain columns, no ORM objects:
    # this runs once for every payment made, and a duplicate delivery ends here.
    order = db.session.execute(
        db.select(
            PaymentOrder.id,
            PaymentOrder.transaction_id,
            PaymentOrder.amount_fen,
            PaymentOrder.mchid,
            PaymentOrder.payment_id,
            Payment.status,
            Payment.combined,
        )
        .join(Payment, Payment.id == PaymentOrder.payment_id)
        .where(PaymentOrder.out_trade_no == out_trade_no)
        .with_for_update()
    ).first()
    if order is None:
        log.warning("notification for unknown order %s", out_trade_no)
        return
    if order.transaction_id == transaction_id:
        return  # already applied: a duplicate delivery writes nothing
    if order.transaction_id is not None:
        alert("SECOND_TRANSACTION", order=out_trade_no, first=order.transaction_id, second=transaction_id)
        return
    expected = (order.amount_fen, "CNY", order.mchid, current_app.config["WECHAT_APPID"])
    if (total, currency, mchid, appid) != expected:
        alert("MISMATCH", order=out_trade_no, got=(total, currency, mchid, appid), expected=expected)
        return
    at = _parse(success_time)
    orders = PaymentOrder.__table__
    db.session.execute(orders.update().where(orders.c.id == order.id).values(transaction_id=transaction_id, paid_at=at))
    # The order's transaction id was checked above: this transaction is not booked yet.
    for refund_id in ledger.book_order(order.id, "wechat", transaction_id, order.payment_id, at):
        pushes.after_commit(queue.enqueue, "postpay.payments.refunds.send_job", refund_id)
    if not order.combined or _all_orders_paid(order.payment_id):
        _payment_paid(order.payment_id, order.status, at)
    db.session.expire_all()  # a caller holding these rows as objects reads them afresh
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


def _parse(text):
    try:
        return dt.datetime.fromisoformat(text).astimezone(dt.timezone.utc)
    except (TypeError, ValueError, OverflowError):
        return dt.datetime.now(dt.timezone.utc)
