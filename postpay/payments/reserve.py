"""Taking bills for a payment, the same way for every channel (WeChat cash, medical insurance).

A bill is in one live payment at a time. Of twenty payers racing for one bill exactly one
gets it: the bills are locked in id order (``SELECT ... FOR UPDATE`` on PostgreSQL), and a
partial unique index on live shares turns a lost race into BILL_NOT_PAYABLE. Each channel
calls these steps in its own order, around its own checks.
"""

from sqlalchemy.exc import IntegrityError

from postpay import authz
from postpay.billing.models import Bill, BillStatus
from postpay.errors import DomainError, NotFound
from postpay.extensions import db
from postpay.payments.models import MICROPAY_OPEN, MicropayAttempt, PaymentBill

#: The one answer for a bill that does not exist and for another family's.
MISSING_BILL = "未找到该账单"


class NotPayable(DomainError):
    status, code, message = 409, "BILL_NOT_PAYABLE", "账单不可支付：已在其他支付中、已支付或尚未结算"


def lock_bills(user, bill_ids):
    """The bills, locked in id order, that ``user`` may pay. Raises NotFound (a missing bill and
    another family's alike), Forbidden (a relative without ``pay``)."""
    query = db.select(Bill).where(Bill.id.in_(bill_ids)).order_by(Bill.id).with_for_update()
    bills = db.session.execute(query).scalars().all()
    if len(bills) != len(bill_ids):
        raise NotFound(MISSING_BILL)
    authz.require_all(user, {b.patient_id for b in bills}, "pay", MISSING_BILL)  # one query for every bill
    return bills


def check_due(bills):
    """Raises NotPayable unless every bill is due with something to pay."""
    if any(b.status != BillStatus.due or b.total_fen <= 0 for b in bills):
        raise NotPayable()


def check_free(bill_ids):
    """Raises NotPayable when a bill is already live in another payment or settlement."""
    taken = db.session.execute(
        db.select(PaymentBill.bill_id).where(PaymentBill.bill_id.in_(bill_ids), PaymentBill.live.is_(True))
    ).first()
    if taken:
        raise NotPayable()
    at_window = db.session.execute(  # a window micropay of the bill may still take the money
        db.select(MicropayAttempt.id).where(
            MicropayAttempt.bill_id.in_(bill_ids), MicropayAttempt.status.in_(MICROPAY_OPEN)
        )
    ).first()
    if at_window:
        raise NotPayable()


def take(payment, orders):
    """Write the live shares of ``orders`` (``[(order, bills)]``) for ``payment`` and flush.

    Raises NotPayable when another payer took a bill first (the unique index of live shares).
    """
    for order, bills in orders:
        for bill in bills:
            db.session.add(
                PaymentBill(payment_id=payment.id, bill_id=bill.id, order_id=order.id, amount_fen=bill.total_fen)
            )
    try:
        db.session.flush()
    except IntegrityError:  # another payer took a bill first
        db.session.rollback()
        raise NotPayable() from None
