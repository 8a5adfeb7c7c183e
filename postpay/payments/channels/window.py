"""Window payments (窗口付, 刷脸付, R11, R13): cash or card recorded by staff, or the
patient's WeChat payment code / face code taken through WeChat Pay micropay (API v2).

A micropay is written down (``MicropayAttempt``) and committed before WeChat is called.
One left unresolved (the payer never confirms, SYSTEMERROR, a timeout) is reversed before
the window is told it failed; when the reverse fails too it stays ``unknown``: its bill
cannot be taken again until staff settle it from the console (``settle``: a query).

Every one books through ``ledger.mark_paid``, the one transition that marks a bill
paid: when a mini-program payment of the same bill was pending and WeChat's money
arrives later, that later share is refunded through its order (the double-payment rule).
"""

import datetime as dt
import logging
import secrets

from flask import current_app

from postpay import clients
from postpay.billing.models import Bill, BillStatus, claim_due
from postpay.clock import SHANGHAI
from postpay.errors import Conflict, Invalid, NotFound, Upstream
from postpay.extensions import db
from postpay.payments import ledger
from postpay.payments.alerts import alert
from postpay.payments.models import (
    MICROPAY_OPEN,
    MicropayAttempt,
    MicropayStatus,
    Payment,
    PaymentBill,
    PaymentStatus,
    trade_no,
)
from postpay.payments.reserve import NotPayable
from wechat.micropay import FAILED_STATES, MicropayError, Unresolved, looks_like_code

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


class MicropayUnknown(Conflict):
    code = "MICROPAY_UNKNOWN"
    message = "该账单有一笔微信付款码支付结果未明（可能已扣款），请先在患者页面“查询结果”处理后再收费，请勿重复收费"


def open_attempt(bill_ids):
    """A micropay of one of the bills that may still take money (paying or unknown), or None."""
    return (
        db.session.execute(
            db.select(MicropayAttempt).where(
                MicropayAttempt.bill_id.in_(bill_ids), MicropayAttempt.status.in_(MICROPAY_OPEN)
            )
        )
        .scalars()
        .first()
    )


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
    marked paid (uncommitted). Any other outcome is committed, then raised."""
    code = (auth_code or "").strip()
    if not looks_like_code(code):
        raise Invalid("付款码应为18位数字（以10-15开头），请重新扫码", code="INVALID_AUTH_CODE")
    attempt = MicropayAttempt(
        bill_id=bill.id, out_trade_no=trade_no("M", now), mchid=bill.hospital.mchid, amount_fen=bill.total_fen
    )
    db.session.add(attempt)
    db.session.commit()  # written before WeChat is called: an unknown outcome is never lost
    client = clients.micropay(attempt.mchid)
    try:
        answer = client.pay(attempt.out_trade_no, attempt.amount_fen, code, "门诊诊后付费用", client_ip or "127.0.0.1")
    except MicropayError as e:
        log.warning("micropay %s refused: %s", attempt.out_trade_no, e.code)
        _end(attempt, MicropayStatus.failed, e.code)
        raise Invalid("微信支付未成功：%s" % (e.message or e.code), code="MICROPAY_REFUSED") from None
    except Unresolved as e:
        log.error("micropay %s unresolved (%s): reversing", attempt.out_trade_no, e.code)
        if client.reverse(attempt.out_trade_no):
            _end(attempt, MicropayStatus.reversed, e.code)
            raise Invalid(
                "微信支付未成功（%s），该笔已撤销，未扣款或已原路退回，请重新收费" % e.code, code="MICROPAY_REVERSED"
            ) from None
        _end(attempt, MicropayStatus.unknown, e.code)
        alert("MICROPAY_UNKNOWN", order=attempt.out_trade_no, bill=bill.id)
        raise MicropayUnknown(
            "微信支付结果未明且撤销未成功（%s），可能已扣款：请勿重复收费，稍后在患者页面点“查询结果”" % e.code
        ) from None
    _check(attempt, answer)
    attempt.transition(MicropayStatus.paid)
    attempt.transaction_id = answer["transaction_id"]
    return answer["transaction_id"], attempt.out_trade_no


def _end(attempt, status, note):
    if attempt.status != status:
        attempt.transition(status)
    attempt.note = (note or "")[:128]
    db.session.commit()


def _check(attempt, answer):
    """WeChat's SUCCESS answer is for this order; else the attempt is unknown (committed) and Upstream raised."""
    sp = current_app.config["WECHATPAY_MCHID"]
    got = (
        answer.get("out_trade_no"),
        answer.get("mch_id"),
        answer.get("sub_mch_id") or None,
        str(answer.get("total_fee")),
        answer.get("fee_type", "CNY"),
    )
    expected = (
        attempt.out_trade_no,
        sp,
        None if attempt.mchid == sp else attempt.mchid,
        str(attempt.amount_fen),
        "CNY",
    )
    if got != expected or not answer.get("transaction_id"):
        _end(attempt, MicropayStatus.unknown, "MISMATCH")
        alert("MICROPAY_MISMATCH", order=attempt.out_trade_no, got=got, expected=expected)
        raise Upstream("微信支付返回的订单信息不一致，已报警，请勿重复收费")


def _stale(now=None):
    """Before this moment a micropay still ``paying`` lost its request (a crashed worker): treat it as unknown."""
    cfg = current_app.config
    grace = cfg["POSTPAY_MICROPAY_RESOLVE_SECONDS"] + 4 * cfg["UPSTREAM_TIMEOUT"] + 60
    return (now or dt.datetime.now(dt.timezone.utc)) - dt.timedelta(seconds=grace)


def _unsettled(now=None):
    return db.or_(
        MicropayAttempt.status == MicropayStatus.unknown,
        db.and_(MicropayAttempt.status == MicropayStatus.paying, MicropayAttempt.created_at < _stale(now)),
    )


def unresolved(bill_ids, now=None):
    """The bills' micropay attempts whose outcome is unknown (or whose request died), newest first
    (the console lists them)."""
    return (
        db.session.execute(
            db.select(MicropayAttempt)
            .where(MicropayAttempt.bill_id.in_(bill_ids), _unsettled(now))
            .order_by(MicropayAttempt.created_at.desc())
        )
        .scalars()
        .all()
    )


def settle(attempt_id, now=None):
    """Settle an unknown micropay by asking WeChat (the console's retry); returns its new status.

    SUCCESS books the bill paid (once); a final failure marks it failed; still unresolved,
    the reverse is tried again (reversed, or it stays unknown). Raises NotFound, Conflict
    (MICROPAY_SETTLED: already settled, e.g. by a second click).
    """
    attempt = db.session.execute(
        db.select(MicropayAttempt)
        .where(MicropayAttempt.id == attempt_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if attempt is None:
        raise NotFound("未找到该笔付款码支付")
    if not db.session.execute(
        db.select(MicropayAttempt.id).where(MicropayAttempt.id == attempt_id, _unsettled(now))
    ).first():
        raise Conflict("该笔付款码支付已处理", code="MICROPAY_SETTLED")
    client = clients.micropay(attempt.mchid)
    state, answer = client.query(attempt.out_trade_no)
    if state == "SUCCESS":
        _check(attempt, answer)
        bill = db.session.get(Bill, attempt.bill_id, with_for_update=True, populate_existing=True)
        attempt.transition(MicropayStatus.paid)
        attempt.transaction_id, attempt.note = answer["transaction_id"], state
        ledger.mark_paid(
            bill,
            attempt.amount_fen,
            MODES["micropay"],
            attempt.transaction_id,
            at=now,
            out_trade_no=attempt.out_trade_no,
        )
        log.info("micropay %s settled: paid", attempt.out_trade_no)
    elif state in FAILED_STATES or state == "ORDERNOTEXIST":  # long after the call: it never reached WeChat
        attempt.transition(MicropayStatus.reversed if state == "REVOKED" else MicropayStatus.failed)
        attempt.note = state
    elif client.reverse(attempt.out_trade_no):
        attempt.transition(MicropayStatus.reversed)
        attempt.note = state or "QUERY_FAILED"
    else:
        if attempt.status == MicropayStatus.paying:
            attempt.transition(MicropayStatus.unknown)
        attempt.note = state or "QUERY_FAILED"
    log.info("micropay %s: %s (%s)", attempt.out_trade_no, attempt.status.value, attempt.note)
    return attempt.status
