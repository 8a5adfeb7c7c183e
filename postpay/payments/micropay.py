"""Micropay (付款码支付 / 刷脸, WeChat Pay API v2) as the service provider, for the window and the
kiosk alike: the one place that takes a payment code's money, reverses an unresolved one, and
settles one left unknown.

An attempt (``MicropayAttempt``) is written down and committed before WeChat is called. It stands
for one bill at the window (``bill_id``), or for a kiosk payment's bills (``payment_id``: the
payment's live shares hold them). One left unresolved (the payer never confirms, SYSTEMERROR, a
timeout) is reversed before anyone is told it failed; when the reverse fails too it stays
``unknown``: its bills cannot be taken again until staff settle it from the console (``settle``).
A kiosk payment whose attempt failed or was reversed is closed at once, freeing its bills.
"""

import datetime as dt
import logging

from flask import current_app

from postpay import clients, pushes, queue
from postpay.billing.models import Bill
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
    mark_paid,
)
from wechat.micropay import FAILED_STATES, MicropayError, Unresolved, looks_like_code

log = logging.getLogger(__name__)

#: The ledger channel of a micropay.
CHANNEL = "micropay"
#: A double payment's refund goes back through the order: the WeChat channel's job, queued by name.
REFUND_JOB = "postpay.payments.channels.wechat.refund_job"


class MicropayUnknown(Conflict):
    code = "MICROPAY_UNKNOWN"
    message = "该账单有一笔微信付款码支付结果未明（可能已扣款），请先在患者页面“查询结果”处理后再收费，请勿重复收费"


def check_code(auth_code):
    """The scanned payment (or face) code, stripped. Raises Invalid (INVALID_AUTH_CODE)."""
    code = (auth_code or "").strip()
    if not looks_like_code(code):
        raise Invalid("付款码应为18位数字（以10-15开头），请重新扫码", code="INVALID_AUTH_CODE")
    return code


def _of_bills(bill_ids):
    """Attempts for any of the bills: a window's, or a kiosk payment's holding one of them."""
    holding = db.select(PaymentBill.payment_id).where(PaymentBill.bill_id.in_(bill_ids), PaymentBill.live.is_(True))
    return db.or_(MicropayAttempt.bill_id.in_(bill_ids), MicropayAttempt.payment_id.in_(holding))


def open_attempt(bill_ids):
    """A micropay of one of the bills that may still take money (paying or unknown), or None."""
    query = db.select(MicropayAttempt).where(_of_bills(bill_ids), MicropayAttempt.status.in_(MICROPAY_OPEN))
    return db.session.execute(query).scalars().first()


#: What the person before the scanner is told, by who they are: (after a reverse, when unknown).
TEXTS = {
    "window": ("请重新收费", "请勿重复收费，稍后在患者页面点“查询结果”"),
    "kiosk": ("请重新付款", "请勿重复付款，请到人工窗口查询处理"),
}


def charge(attempt, code, client_ip, audience="window", description="门诊诊后付费用"):
    """Take ``attempt``'s money with the payment code (``check_code``'s); returns WeChat's
    transaction id with the attempt marked paid (uncommitted: the caller books it).

    The attempt is committed before WeChat is called. Any other outcome is committed, then
    raised: Invalid (MICROPAY_REFUSED, MICROPAY_REVERSED), MicropayUnknown, Upstream.
    """
    db.session.add(attempt)
    db.session.commit()  # written before WeChat is called: an unknown outcome is never lost
    client = clients.micropay(attempt.mchid)
    try:
        answer = client.pay(attempt.out_trade_no, attempt.amount_fen, code, description, client_ip or "127.0.0.1")
    except MicropayError as e:
        log.warning("micropay %s refused: %s", attempt.out_trade_no, e.code)
        _end(attempt, MicropayStatus.failed, e.code)
        raise Invalid("微信支付未成功：%s" % (e.message or e.code), code="MICROPAY_REFUSED") from None
    except Unresolved as e:
        log.error("micropay %s unresolved (%s): reversing", attempt.out_trade_no, e.code)
        if client.reverse(attempt.out_trade_no):
            _end(attempt, MicropayStatus.reversed, e.code)
            raise Invalid(
                "微信支付未成功（%s），该笔已撤销，未扣款或已原路退回，%s" % (e.code, TEXTS[audience][0]),
                code="MICROPAY_REVERSED",
            ) from None
        _end(attempt, MicropayStatus.unknown, e.code)
        alert("MICROPAY_UNKNOWN", order=attempt.out_trade_no, bill=attempt.bill_id, payment=attempt.payment_id)
        raise MicropayUnknown(
            "微信支付结果未明且撤销未成功（%s），可能已扣款：%s" % (e.code, TEXTS[audience][1])
        ) from None
    _check(attempt, answer)
    attempt.transition(MicropayStatus.paid)
    attempt.transaction_id = answer["transaction_id"]
    return answer["transaction_id"]


def _end(attempt, status, note):
    if attempt.status != status:
        attempt.transition(status)
    attempt.note = (note or "")[:128]
    if status in (MicropayStatus.failed, MicropayStatus.reversed):
        _free(attempt.payment_id)
    db.session.commit()


def _free(payment_id):
    """A kiosk payment whose micropay took nothing: closed, its bills free again."""
    if payment_id is None:
        return
    payment = db.session.get(Payment, payment_id, with_for_update=True)
    if payment.status == PaymentStatus.pending:
        payment.transition(PaymentStatus.closed)
        payment.closed_at = dt.datetime.now(dt.timezone.utc)
        db.session.execute(db.update(PaymentBill).where(PaymentBill.payment_id == payment_id).values(live=False))


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


def book(attempt, at):
    """Book a paid attempt through the ledger (once, by its transaction id): its bill, or every
    share of its kiosk payment, which turns paid. A bill paid meanwhile by another payment owes
    the second money back through this order (the double-payment rule)."""
    if attempt.bill_id is not None:
        bill = db.session.get(Bill, attempt.bill_id, with_for_update=True, populate_existing=True)
        ledger.mark_paid(
            bill, attempt.amount_fen, CHANNEL, attempt.transaction_id, at=at, out_trade_no=attempt.out_trade_no
        )
        return
    payment = db.session.get(Payment, attempt.payment_id, with_for_update=True, populate_existing=True)
    order = payment.orders[0]
    if order.transaction_id is not None:
        return  # booked already
    order.transaction_id, order.paid_at = attempt.transaction_id, at
    db.session.flush()
    for refund_id in ledger.book_order(order.id, CHANNEL, attempt.transaction_id, payment.id, at):
        pushes.after_commit(queue.enqueue, REFUND_JOB, refund_id)
    if payment.status == PaymentStatus.closed:
        alert("PAID_AFTER_CLOSE", payment=payment.id)  # money is in: the close is overruled
    mark_paid(payment.id, PaymentStatus.pending, at)
    db.session.expire_all()


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
    """The bills' micropay attempts (window or kiosk) whose outcome is unknown (or whose request
    died), newest first (the console lists them)."""
    query = (
        db.select(MicropayAttempt)
        .where(_of_bills(bill_ids), _unsettled(now))
        .order_by(MicropayAttempt.created_at.desc())
    )
    return db.session.execute(query).scalars().all()


def bill_of(attempt):
    """The attempt's bill: a kiosk's, the first bill its payment holds (staff scope checks by it)."""
    if attempt.bill_id is not None:
        return attempt.bill_id
    shares = db.select(PaymentBill.bill_id).where(PaymentBill.payment_id == attempt.payment_id)
    return db.session.execute(shares.order_by(PaymentBill.bill_id).limit(1)).scalar_one_or_none()


def unresolved_by_bill(bill_ids, now=None):
    """``unresolved`` by bill: ``{bill_id: [attempt]}``; a kiosk's attempt under each bill it holds."""
    attempts = unresolved(bill_ids, now)
    kiosk = [a.payment_id for a in attempts if a.payment_id]
    held = {}
    if kiosk:
        shares = db.select(PaymentBill.payment_id, PaymentBill.bill_id).where(
            PaymentBill.payment_id.in_(kiosk), PaymentBill.bill_id.in_(bill_ids)
        )
        for payment_id, bill_id in db.session.execute(shares):
            held.setdefault(payment_id, []).append(bill_id)
    by_bill = {}
    for attempt in attempts:
        for bill_id in [attempt.bill_id] if attempt.bill_id else held.get(attempt.payment_id, []):
            by_bill.setdefault(bill_id, []).append(attempt)
    return by_bill


def settle(attempt_id, now=None):
    """Settle an unknown micropay by asking WeChat (the console's retry); returns its new status.

    SUCCESS books it (once); a final failure marks it failed; still unresolved, the reverse is
    tried again (reversed, or it stays unknown). A kiosk payment that took nothing is closed.
    Raises NotFound, Conflict (MICROPAY_SETTLED: already settled, e.g. by a second click).
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
        attempt.transition(MicropayStatus.paid)
        attempt.transaction_id, attempt.note = answer["transaction_id"], state
        book(attempt, now or dt.datetime.now(dt.timezone.utc))
        log.info("micropay %s settled: paid", attempt.out_trade_no)
    elif state in FAILED_STATES or state == "ORDERNOTEXIST":  # long after the call: it never reached WeChat
        attempt.transition(MicropayStatus.reversed if state == "REVOKED" else MicropayStatus.failed)
        attempt.note = state
        _free(attempt.payment_id)
    elif client.reverse(attempt.out_trade_no):
        attempt.transition(MicropayStatus.reversed)
        attempt.note = state or "QUERY_FAILED"
        _free(attempt.payment_id)
    else:
        if attempt.status == MicropayStatus.paying:
            attempt.transition(MicropayStatus.unknown)
        attempt.note = state or "QUERY_FAILED"
    log.info("micropay %s: %s (%s)", attempt.out_trade_no, attempt.status.value, attempt.note)
    return attempt.status
