"""Window payments (窗口付, 刷脸付, R11, R13): cash or card recorded by staff, or the
patient's WeChat payment code / face code taken through WeChat Pay micropay (API v2).

A micropay goes through ``payments/micropay.py``, shared with the kiosk: written down before
WeChat is called, reversed when unresolved, and, when the reverse fails too, left ``unknown``
for staff to settle from the console (``settle``: a query); its bill cannot be taken meanwhile.

Every one books through ``ledger.mark_paid``, the one transition that marks a bill
paid: when a mini-program payment of the same bill was pending and WeChat's money
arrives later, that later share is refunded through its order (the double-payment rule).
"""

import datetime as dt
import logging
import secrets

from postpay.billing.models import Bill, BillStatus, claim_due
from postpay.clock import SHANGHAI
from postpay.errors import Invalid
from postpay.extensions import db
from postpay.payments import ledger, micropay
from postpay.payments.micropay import (  # noqa: F401  (the console's)
    MicropayUnknown,
    bill_of,
    open_attempt,
    settle,
    unresolved_by_bill,
)
from postpay.payments.models import MicropayAttempt, Payment, PaymentBill, PaymentStatus, trade_no
from postpay.payments.reserve import NotPayable

log = logging.getLogger(__name__)

MODES = {"cash": "window_cash", "card": "window_card", "micropay": "micropay"}
MODE_LABELS = {"cash": "现金", "card": "银行卡", "micropay": "微信付款码/刷脸"}


def pending_payment(bill_id):
    """The mini-program payment of the bill still awaiting WeChat, if any."""
    return db.session.execute(
        db.select(Payment)
        .join(PaymentBill, PaymentBill.payment_id == Payment.id)
        .where(PaymentBill.bill_id == bill_id, PaymentBill.live.is_(True), Payment.status == PaymentStatus.pending)
    ).scalar_one_or_none()


def take(bill_id, mode, auth_code=None, client_ip=None, now=None):
    """Take the bill's whole amount at the window; returns ``(bill, reference)``.

    Raises Invalid (UNKNOWN_MODE, INVALID_AUTH_CODE, MICROPAY_REFUSED, MICROPAY_REVERSED),
    NotPayable (409: already paid or not yet finalised), MicropayUnknown (409: a micropay of
    the bill is unresolved), Upstream (WeChat's answer wrong).
    """
    if mode not in MODES:
        raise Invalid("不支持的收费方式", code="UNKNOWN_MODE")
    bill = _claim(bill_id)
    now = now or dt.datetime.now(dt.timezone.utc)
    out_trade_no = None
    if mode == "micropay":
        reference, out_trade_no = _micropay(bill, auth_code, client_ip, now)
        # WeChat took the money: it is booked whatever became of the bill meanwhile
        bill = db.session.get(Bill, bill_id, with_for_update=True, populate_existing=True)
    else:
        reference = "W%s%s" % (now.astimezone(SHANGHAI).strftime("%y%m%d"), secrets.token_hex(6).upper())
    ledger.mark_paid(bill, bill.total_fen, MODES[mode], reference, at=now, out_trade_no=out_trade_no)
    log.info("bill %s paid at the window (%s): %s fen, %s", bill.id, mode, bill.total_fen, reference)
    return bill, reference


def _claim(bill_id):
    """The due bill, locked; raises NotPayable, or MicropayUnknown while a micropay of it is open."""
    claimed = claim_due(bill_id)  # of two windows taking one bill, only one finds it due
    bill = db.session.get(Bill, bill_id, with_for_update=True, populate_existing=True)
    if not claimed or bill is None or bill.status != BillStatus.due or bill.total_fen <= 0:
        raise NotPayable()
    if open_attempt([bill_id]) is not None:
        raise MicropayUnknown()
    return bill


def _micropay(bill, auth_code, client_ip, now):
    """Take the money through WeChat; returns ``(transaction_id, out_trade_no)`` with the attempt
    marked paid (uncommitted). Any other outcome is committed, then raised (``micropay.charge``)."""
    code = micropay.check_code(auth_code)
    attempt = MicropayAttempt(
        bill_id=bill.id, out_trade_no=trade_no("M", now), mchid=bill.hospital.mchid, amount_fen=bill.total_fen
    )
    return micropay.charge(attempt, code, client_ip), attempt.out_trade_no
