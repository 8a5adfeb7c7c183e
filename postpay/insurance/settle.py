"""Medical-insurance orders settle: WeChat's ``MEDICAL_INSURANCE.SUCCESS`` notification (verified
and decrypted like every WeChat Pay notification), or polling, since WeChat stops notifying
after about 30 s: 6301 asks the platform, then WeChat's order query gives the same resource
the notification would. Either way one function applies it: checked against the stored split,
applied once per ``mix_trade_no``, the bills booked per channel (``medins`` for the insurance
part, ``wechat`` for the cash part) through the one transition that marks a bill paid."""

import datetime as dt
import logging

import requests
from flask import current_app

from postpay import clients, pushes
from postpay.extensions import db
from postpay.insurance.models import OPEN, InsuranceSettlement, SettlementStatus
from postpay.payments import ledger
from postpay.payments.alerts import alert
from postpay.payments.models import Payment, PaymentBill, PaymentKind, PaymentStatus
from wechat import pay_medins
from wechat.medins import MedinsError
from wechat.pay import NotificationError, PayError

log = logging.getLogger(__name__)

__all__ = ["alert", "apply_order", "handle", "notify_url", "poll_pending", "refresh", "release", "withdraw"]


def notify_url():
    """Where WeChat sends medical-insurance notifications: ``WECHATPAY_MEDINS_NOTIFY_URL``, by default
    beside ``WECHATPAY_NOTIFY_URL``."""
    cfg = current_app.config
    return cfg.get("WECHATPAY_MEDINS_NOTIFY_URL") or cfg["WECHATPAY_NOTIFY_URL"].rsplit("/", 1)[0] + "/med-ins-notify"


def handle(headers, body):
    """One delivery to the medical-insurance notify URL. Returns the HTTP status for WeChat."""
    try:
        event, resource = clients.wechat_pay().verify_notification(headers, body)
    except NotificationError as e:
        log.warning("medical-insurance notification refused: %s", e)
        return 401
    if event.get("event_type", "").startswith("MEDICAL_INSURANCE."):
        apply_order(resource)
    else:  # the cash part's own notification: it settles with the medical-insurance order
        log.info("notification %s at the medical-insurance URL noted", event.get("event_type"))
    return 200


def release(settlement, status, now):
    """End an unsettled settlement (cancelled or failed): its payment closes, its bills are free."""
    settlement.transition(status)
    settlement.cancelled_at = now
    payment = settlement.payment
    if payment.status == PaymentStatus.pending:
        payment.transition(PaymentStatus.closed)
        payment.closed_at = now
    db.session.execute(db.update(PaymentBill).where(PaymentBill.payment_id == payment.id).values(live=False))
    db.session.flush()


def withdraw(settlement):
    """Revoke the upload at the platform (6401) and close the cash order at WeChat, as far as they went.
    Raises MedinsError, PayError, requests.RequestException."""
    if settlement.pay_ord_id:
        settlement_state = clients.medical_insurance().query_order(settlement.pay_ord_id, settlement.pay_token)
        if settlement_state["state"] not in ("revoked", "failed"):
            clients.medical_insurance().revoke_upload(settlement.pay_ord_id, settlement.pay_token, "患者取消医保结算")
    cash = settlement.cash_order
    if cash is not None and settlement.payment.prepay_id:
        try:
            clients.wechat_pay().close(cash.out_trade_no, cash.mchid)
        except PayError as e:
            if e.code != "ORDER_NOT_EXIST":
                raise


def _expected(settlement):
    return {
        "appid": current_app.config["WECHAT_APPID"],
        "sub_mchid": settlement.hospital.mchid,
        "mix_trade_no": settlement.mix_trade_no,
        "total_fee": settlement.fee_sum_fen,
        "med_ins_gov_fee": settlement.fund_pay_fen,
        "med_ins_self_fee": settlement.psn_acct_pay_fen + settlement.acct_mulaid_pay_fen,
        "med_ins_other_fee": 0,
        "med_ins_cash_fee": settlement.own_pay_fen,
    }


def apply_order(resource):
    """Apply WeChat's view of a medical-insurance order (notification or query), once."""
    found = db.session.execute(
        db.select(InsuranceSettlement, Payment)
        .join(Payment, Payment.id == InsuranceSettlement.payment_id)
        .where(Payment.out_trade_no == resource.get("out_trade_no"), Payment.kind == PaymentKind.medins)
        .with_for_update()
    ).first()
    if found is None:
        log.warning("medical-insurance notification for unknown order %s", resource.get("out_trade_no"))
        return
    settlement, payment = found
    if settlement.status == SettlementStatus.settled:
        if resource.get("mix_trade_no") != settlement.mix_trade_no:
            alert("SECOND_TRANSACTION", order=payment.out_trade_no, second=resource.get("mix_trade_no"))
        return  # a duplicate delivery writes nothing
    expected = _expected(settlement)
    got = {k: resource.get(k) for k in expected}
    if got != expected:
        alert("MISMATCH", order=payment.out_trade_no, got=got, expected=expected)
        return
    status = resource.get("mix_pay_status")
    if status == pay_medins.MIX_FAIL and settlement.status == SettlementStatus.ordered:
        release(settlement, SettlementStatus.failed, dt.datetime.now(dt.timezone.utc))
        return
    if status != pay_medins.MIX_SUCCESS:
        return
    if settlement.status != SettlementStatus.ordered:
        alert("PAID_AFTER_CLOSE", payment=payment.id, settlement=settlement.id, status=settlement.status.value)
        return
    at = _parse(resource.get("paid_time"))
    cash_tx = None
    if settlement.own_pay_fen:
        cash_tx = _cash_transaction(settlement)
        if cash_tx is None:
            return
    _book(settlement, payment, at, cash_tx)


def _cash_transaction(settlement):
    """The cash part's WeChat transaction id, if WeChat says it was paid in full; else None (alerted)."""
    cash = settlement.cash_order
    try:
        tx = clients.wechat_pay().query(cash.out_trade_no, cash.mchid)
    except (PayError, requests.RequestException) as e:
        log.warning("query of cash order %s failed: %s", cash.out_trade_no, e)
        return None
    amount = tx.get("amount") or {}
    if tx.get("trade_state") != "SUCCESS" or (amount.get("total"), amount.get("currency")) != (cash.amount_fen, "CNY"):
        alert("CASH_PART_NOT_PAID", order=cash.out_trade_no, state=tx.get("trade_state"), total=amount.get("total"))
        return None
    return tx["transaction_id"]


def _book(settlement, payment, at, cash_tx):
    """Each bill's share of the insurance and cash parts, in proportion, the remainders on the last bill."""
    shares = sorted(payment.bills, key=lambda s: s.bill_id)
    cash_left, ins_left = settlement.own_pay_fen, settlement.insurance_fen
    for n, share in enumerate(shares):
        last = n == len(shares) - 1
        cash = cash_left if last else settlement.own_pay_fen * share.amount_fen // settlement.fee_sum_fen
        insurance = ins_left if last else share.amount_fen - cash
        cash_left, ins_left = cash_left - cash, ins_left - insurance
        if insurance:
            ledger.mark_paid(share.bill, insurance, "medins", settlement.pay_ord_id, payment.id, None, at)
        if cash:
            ledger.mark_paid(share.bill, cash, "wechat", cash_tx, payment.id, settlement.cash_order_id, at)
    if settlement.cash_order is not None:
        settlement.cash_order.transaction_id, settlement.cash_order.paid_at = cash_tx, at
    settlement.transition(SettlementStatus.settled)
    settlement.settled_at = payment.paid_at = at
    payment.transition(PaymentStatus.paid)
    db.session.flush()
    log.info("settlement %s settled (%s)", settlement.id, settlement.mix_trade_no)


def refresh(settlement, now):
    """An ordered settlement asks the platform (6301) and, once settled there, WeChat; one past its
    time is withdrawn. Upstream failures are logged: the next poll tries again."""
    try:
        if settlement.status == SettlementStatus.ordered:
            state = clients.medical_insurance().query_order(settlement.pay_ord_id, settlement.pay_token)
            if state["state"] in ("settled", "refunded"):
                settlement.setl_id = state["setl_id"]
                hospital = settlement.hospital
                apply_order(
                    pay_medins.query_order(clients.wechat_pay(), settlement.payment.out_trade_no, hospital.mchid)
                )
            elif state["state"] in ("failed", "revoked"):
                release(settlement, SettlementStatus.failed, now)
        if settlement.status in OPEN and settlement.payment.expires_at < now:
            withdraw(settlement)
            release(settlement, SettlementStatus.cancelled, now)
    except (MedinsError, PayError, requests.RequestException) as e:
        log.warning("refreshing settlement %s failed: %s", settlement.id, e)
    return settlement


def poll_pending(now, batch=200):
    """The scheduled poll: every unsettled settlement, oldest first. Returns how many settled."""
    ids = (
        db.session.execute(
            db.select(InsuranceSettlement.id)
            .where(InsuranceSettlement.status.in_(OPEN))
            .order_by(InsuranceSettlement.created_at)
            .limit(batch)
        )
        .scalars()
        .all()
    )
    settled = 0
    for settlement_id in ids:
        settlement = db.session.get(InsuranceSettlement, settlement_id, with_for_update=True)
        if settlement.status == SettlementStatus.ordered or settlement.payment.expires_at < now:
            refresh(settlement, now)
        db.session.commit()
        pushes.flush()
        settled += settlement.status == SettlementStatus.settled
    return settled


def _parse(text):
    try:
        return dt.datetime.fromisoformat(text).astimezone(dt.timezone.utc)
    except (TypeError, ValueError, OverflowError):
        return dt.datetime.now(dt.timezone.utc)
