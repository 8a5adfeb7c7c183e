"""Window payments (窗口付, 刷脸付, R11, R13): cash or card recorded by staff, or the
patient's WeChat payment code / face code taken through WeChat Pay micropay (API v2).

Every one books through ``ledger.mark_paid``, the one transition that marks a bill
paid: when a mini-program payment of the same bill was pending and WeChat's money
arrives later, that later share is refunded through its order (the double-payment rule).
"""

import datetime as dt
import logging
import secrets

import requests

from postpay import clients
from postpay.billing.models import Bill, BillStatus, claim_due
from postpay.clock import SHANGHAI
from postpay.errors import Invalid, Upstream
from postpay.extensions import db
from postpay.payments import ledger
from postpay.payments.alerts import alert
from postpay.payments.models import Payment, PaymentBill, PaymentStatus, trade_no
from postpay.payments.reserve import NotPayable
from wechat.micropay import MicropayError, looks_like_code

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

    Raises Invalid (UNKNOWN_MODE, INVALID_AUTH_CODE, MICROPAY_REFUSED), NotPayable (409:
    already paid or not yet finalised), Upstream (WeChat unreachable or its answer wrong).
    """
    if mode not in MODES:
        raise Invalid("不支持的收费方式", code="UNKNOWN_MODE")
    claimed = claim_due(bill_id)  # of two windows taking one bill, only one finds it due
    bill = db.session.get(Bill, bill_id, with_for_update=True, populate_existing=True)
    if not claimed or bill is None or bill.status != BillStatus.due or bill.total_fen <= 0:
        raise NotPayable()
    now = now or dt.datetime.now(dt.timezone.utc)
    out_trade_no = None
    if mode == "micropay":
        reference, out_trade_no = _micropay(bill, auth_code, client_ip, now)
    else:
        reference = "W%s%s" % (now.astimezone(SHANGHAI).strftime("%y%m%d"), secrets.token_hex(6).upper())
    ledger.mark_paid(bill, bill.total_fen, MODES[mode], reference, at=now, out_trade_no=out_trade_no)
    log.info("bill %s paid at the window (%s): %s fen, %s", bill.id, mode, bill.total_fen, reference)
    return bill, reference


def _micropay(bill, auth_code, client_ip, now):
    code = (auth_code or "").strip()
    if not looks_like_code(code):
        raise Invalid("付款码应为18位数字（以10-15开头），请重新扫码", code="INVALID_AUTH_CODE")
    mchid = bill.hospital.mchid
    out_trade_no = trade_no("M", now)
    try:
        answer = clients.micropay(mchid).pay(
            out_trade_no, bill.total_fen, code, "门诊诊后付费用", client_ip or "127.0.0.1"
        )
    except MicropayError as e:
        log.warning("micropay %s refused: %s", out_trade_no, e.code)
        raise Invalid("微信支付未成功：%s" % (e.message or e.code), code="MICROPAY_REFUSED") from None
    except requests.RequestException as e:
        log.error("micropay %s failed: %s", out_trade_no, type(e).__name__)
        raise Upstream("微信支付暂时不可用，请稍后重试或改用其他方式") from None
    got = (
        answer.get("out_trade_no"),
        answer.get("mch_id"),
        str(answer.get("total_fee")),
        answer.get("fee_type", "CNY"),
    )
    expected = (out_trade_no, mchid, str(bill.total_fen), "CNY")
    if got != expected or not answer.get("transaction_id"):
        alert("MICROPAY_MISMATCH", order=out_trade_no, got=got, expected=expected)
        raise Upstream("微信支付返回的订单信息不一致，已报警，请勿重复收费")
    return answer["transaction_id"], out_trade_no
