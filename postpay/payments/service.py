"""Paying bills (R11, R13 亲情付): one WeChat payment for own and relatives' due bills.

Who may pay what is settled in the database: the bills are locked in id order,
and a bill is live in one payment only (a partial unique index), so of twenty
payers racing for one bill exactly one gets a payment. The payment is committed
before WeChat is asked for the order (``channels/wechat/``).
"""

from sqlalchemy.exc import IntegrityError

from postpay import authz
from postpay.accounts.models import APP_MINI
from postpay.clock import utcnow
from postpay.errors import Conflict, Invalid, NotFound, Upstream
from postpay.extensions import db
from postpay.insurance.models import InsuranceSettlement
from postpay.payments import channels, reserve
from postpay.payments.channels import wechat
from postpay.payments.models import Payment, PaymentKind, PaymentStatus, digest
from postpay.payments.reserve import MISSING_BILL, NotPayable


def create(user, bill_ids, key, now, app=APP_MINI):
    """A pending payment for ``bill_ids``, with its WeChat order placed; returns it. The payer pays
    in ``app`` (APPS), the one their token was issued for.

    The same key sent again, also while the first request is still running (a double
    tap, a retry on a timeout), answers the one payment: a twin that loses the race for
    the bills or for the key's unique constraint rolls back and finds the winner's.

    Raises Invalid (IDEMPOTENCY_KEY_REUSED, TOO_MANY_HOSPITALS), NotFound, Forbidden,
    NotPayable (409), Upstream (the payment stays; retry with the same key).
    """
    payment = by_key(user, key)
    if payment is None:
        try:
            payment = wechat.reserve_bills(user, sorted(set(bill_ids)), key, now, app)
            db.session.commit()  # the bills are taken before WeChat hears of the order
        except (IntegrityError, NotPayable):
            db.session.rollback()
            payment = by_key(user, key)  # a twin request with this key got there first
            if payment is None:
                raise reserve.not_payable(sorted(set(bill_ids)), user) from None
        else:
            return wechat.place(payment)
    if payment.request_digest != digest(bill_ids):
        raise Invalid("同一Idempotency-Key不能用于不同的支付请求", code="IDEMPOTENCY_KEY_REUSED")
    # A retry places the order on the payer's behalf: a binding revoked since ends it here too.
    authz.require_all(user, {share.bill.patient_id for share in payment.bills}, "pay", MISSING_BILL)
    return wechat.place(payment)


def by_key(user, key):
    """The payment (of any channel) this payer made with this Idempotency-Key, if any."""
    return Payment.query.filter_by(payer_user_id=user.id, idempotency_key=key).one_or_none()


def payment_for(user, payment_id, lock=False):
    """The payer's own payment. Raises NotFound for anyone else's."""
    payment = db.session.get(Payment, payment_id, with_for_update=lock)
    if payment is None or payment.payer_user_id != user.id:
        raise NotFound("未找到该支付")
    return payment


def refresh(payment):
    """A pending payment asks its channel where it stands, and applies the answer."""
    return channels.of(payment).query(payment, utcnow())


class AlreadyPaid(Conflict):
    code, message = "ALREADY_PAID", "该支付已完成，不能取消"


def cancel(user, payment_id, now):
    """The payer gives up a pending cash payment: the WeChat order is closed, the bills are free.

    Closing a closed payment again is a no-op. When WeChat says the order was paid (the payer
    paid, the notification is late), the payment is applied as paid, once, and AlreadyPaid raised.
    Raises NotFound, Conflict (SETTLEMENT_PAYMENT: cancel the settlement instead), AlreadyPaid,
    Upstream (WeChat unreachable: the payment stays pending).
    """
    payment = payment_for(user, payment_id, lock=True)
    if payment.kind == PaymentKind.medins:
        settlement_id = db.session.execute(
            db.select(InsuranceSettlement.id).where(InsuranceSettlement.payment_id == payment.id)
        ).scalar_one()
        raise Conflict(
            "医保结算的支付请通过 DELETE /api/v1/insurance-settlements/%s 取消" % settlement_id,
            code="SETTLEMENT_PAYMENT",
        )
    if payment.status == PaymentStatus.closed:
        return payment
    if payment.status == PaymentStatus.pending and wechat.close(payment, now):
        return payment
    db.session.refresh(payment)
    if payment.status in (PaymentStatus.paid, PaymentStatus.refunded):
        raise AlreadyPaid()
    raise Upstream("微信支付订单关闭失败，请稍后重试")
