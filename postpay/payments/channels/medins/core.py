"""The medical-insurance channel's core: who may pay, and a settlement applied, refreshed,
withdrawn and closed. ``__init__`` tells the whole channel."""

import datetime as dt
import logging

import requests
from flask import current_app

from postpay import authz, clients, counters, pushes
from postpay.clock import from_rfc3339
from postpay.errors import Conflict, Forbidden, NotFound
from postpay.extensions import db
from postpay.insurance.models import (
    OPEN,
    InsuranceSettlement,
    SettlementStatus,
)
from postpay.payments import ledger, merchant
from postpay.payments.alerts import alert
from postpay.payments.models import Payment, PaymentBill, PaymentKind, PaymentStatus
from postpay.security import decrypt, encrypt
from wechat import pay_medins
from wechat.medins import MedinsError
from wechat.pay import PayError

log = logging.getLogger(__name__)

#: Field kind of the encrypted payAuthNo in ``Payment.order_request``.
PAY_AUTH = "pay_auth_no"


def check_payer(user, patient_id, mutual_aid_id):
    """The payer may pay for the patient (``pay``) and spend the 共济 account: the payer's own, or
    a relative's who granted ``mutual_aid`` (only the holder grants it; ``pay`` alone is not
    enough). Asked at the quote and again at every later step taken on the payer's behalf.

    Raises NotFound (no relation), Forbidden (PERMISSION_DENIED), Conflict (409, MUTUAL_AID_NOT_ALLOWED).
    """
    authz.require_all(user, {patient_id}, "pay")
    if mutual_aid_id is None:
        return
    try:
        authz.patient_for(user, mutual_aid_id, "mutual_aid")
    except Forbidden:
        raise Conflict(
            "共济付只能使用本人的医保个人账户，或已由账户本人授权共济的亲属的个人账户", code="MUTUAL_AID_NOT_ALLOWED"
        ) from None


def may_go_on(payer, payment):
    """Whether ``payer`` may still go on with the settlement of ``payment`` (R15: a binding revoked since)."""
    settlement = InsuranceSettlement.query.filter_by(payment_id=payment.id).one()
    try:
        check_payer(payer, settlement.patient_id, settlement.mutual_aid_patient_id)
    except (NotFound, Forbidden, Conflict):
        return False
    return True


def notify_url():
    """Where WeChat sends medical-insurance notifications: ``WECHATPAY_MEDINS_NOTIFY_URL``, by default
    beside ``WECHATPAY_NOTIFY_URL``."""
    cfg = current_app.config
    return cfg.get("WECHATPAY_MEDINS_NOTIFY_URL") or cfg["WECHATPAY_NOTIFY_URL"].rsplit("/", 1)[0] + "/med-ins-notify"


def person(patient):
    """A patient as the platform's calls take it."""
    return {
        "name": patient.name,
        "id_number": patient.id_number,
        "insurance_type": patient.insurance_type,
        "psn_no": patient.psn_no,
        "insured_region": patient.insured_region,
    }


def keep_auth(payment, pay_auth_no, geo_location):
    """Keep what the upload was made with (the payAuthNo encrypted) for the WeChat order and refunds."""
    payment.order_request = {PAY_AUTH: encrypt(pay_auth_no, PAY_AUTH), "geo_location": geo_location}


def kept_auth(payment):
    """The payAuthNo the settlement of ``payment`` was uploaded with."""
    return decrypt(payment.order_request[PAY_AUTH], PAY_AUTH)


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
        client, org, who = clients.medical_insurance(), settlement.hospital.med_inst_no, person(settlement.patient)
        settlement_state = client.query_order(org, settlement.pay_ord_id, settlement.pay_token, who)
        if settlement_state["state"] not in ("revoked", "failed"):
            client.revoke_upload(org, settlement.pay_ord_id, settlement.pay_token, who)
    cash = settlement.cash_order
    if cash is not None and settlement.payment.prepay_id:
        try:
            merchant.close(clients.wechat_pay(), cash.out_trade_no, cash.mchid)
        except PayError as e:
            if e.code != "ORDER_NOT_EXIST":
                raise


def _expected(settlement):
    """What WeChat's view of the order must say: the appids the stored order named (the payer's
    app: the mini-program's, or the official account's as appid or as sub_appid), the hospital,
    the amounts."""
    placed = settlement.payment.order_request.get("med_ins") or {}
    return {
        "appid": placed.get("appid") or current_app.config["WECHAT_APPID"],
        "sub_appid": placed.get("sub_appid"),
        "sub_mchid": settlement.hospital.mchid,
        "mix_trade_no": settlement.mix_trade_no,
        "total_fee": settlement.fee_sum_fen,
        "med_ins_gov_fee": settlement.fund_pay_fen,
        "med_ins_self_fee": settlement.psn_acct_pay_fen + settlement.acct_mulaid_pay_fen,
        "med_ins_other_fee": 0,
        "med_ins_cash_fee": settlement.own_pay_fen,
    }


def apply(resource):
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
        counters.count("notifications", outcome="duplicate")
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
    at = from_rfc3339(resource.get("paid_time"))
    cash_tx = None
    if settlement.own_pay_fen:
        cash_tx = _cash_transaction(settlement)
        if cash_tx is None:
            return
    _book(settlement, payment, at, cash_tx)
    counters.count("notifications", outcome="applied")


def _cash_transaction(settlement):
    """The cash part's WeChat transaction id, if WeChat says it was paid in full; else None (alerted)."""
    cash = settlement.cash_order
    try:
        tx = merchant.query(clients.wechat_pay(), cash.out_trade_no, cash.mchid)
    except (PayError, requests.RequestException) as e:
        log.warning("query of cash order %s failed: %s", cash.out_trade_no, e)
        return None
    amount = tx.get("amount") or {}
    if tx.get("trade_state") != "SUCCESS" or (amount.get("total"), amount.get("currency")) != (cash.amount_fen, "CNY"):
        alert("CASH_PART_NOT_PAID", order=cash.out_trade_no, state=tx.get("trade_state"), total=amount.get("total"))
        return None
    return tx["transaction_id"]


def _book(settlement, payment, at, cash_tx):
    """Each bill's share of the insurance and cash parts, in proportion, the remainders on the last
    bill; the insurance part split between the fund and the personal accounts the same way."""
    shares = sorted(payment.bills, key=lambda s: s.bill_id)
    fund_total, ins_total = settlement.fund_pay_fen or 0, settlement.insurance_fen
    cash_left, ins_left, fund_left = settlement.own_pay_fen, ins_total, fund_total
    for n, share in enumerate(shares):
        last = n == len(shares) - 1
        cash = cash_left if last else settlement.own_pay_fen * share.amount_fen // settlement.fee_sum_fen
        insurance = ins_left if last else share.amount_fen - cash
        # The fund's part: in proportion, within what it has left, and at least what the accounts cannot pay.
        in_proportion = min(insurance * fund_total // max(ins_total, 1), fund_left)
        fund = fund_left if last else max(in_proportion, insurance - (ins_left - fund_left))
        cash_left, ins_left, fund_left = cash_left - cash, ins_left - insurance, fund_left - fund
        parts = ((fund, insurance - fund, settlement.pay_ord_id), (cash, cash_tx, settlement.cash_order_id))
        ledger.mark_settled(share.bill, payment.id, at, *parts)
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
            state = clients.medical_insurance().query_order(
                settlement.hospital.med_inst_no, settlement.pay_ord_id, settlement.pay_token, person(settlement.patient)
            )
            if state["state"] in ("settled", "refunded"):
                settlement.setl_id = state["setl_id"]
                hospital = settlement.hospital
                apply(pay_medins.query_order(clients.wechat_pay(), settlement.payment.out_trade_no, hospital.mchid))
            elif state["state"] in ("failed", "revoked"):
                release(settlement, SettlementStatus.failed, now)
        if settlement.status in OPEN and settlement.payment.expires_at < now:
            withdraw(settlement)
            release(settlement, SettlementStatus.cancelled, now)
    except (MedinsError, PayError, requests.RequestException) as e:
        log.warning("refreshing settlement %s failed: %s", settlement.id, e)
    return settlement


def query(payment, now):
    """The interface's query: the settlement of ``payment`` refreshed (locked)."""
    settlement = db.session.execute(
        db.select(InsuranceSettlement).where(InsuranceSettlement.payment_id == payment.id).with_for_update()
    ).scalar_one()
    return refresh(settlement, now).payment


def close(payment, now):
    """Withdraw the open settlement of ``payment``: one WeChat settled meanwhile is applied as paid
    (never lose money); else the upload is revoked (6401), the cash order closed, the bills freed.
    Commits; an upstream failure is logged and rolled back, left to the poll (the order expires).
    Returns True when it was withdrawn."""
    settlement = db.session.execute(
        db.select(InsuranceSettlement).where(InsuranceSettlement.payment_id == payment.id).with_for_update()
    ).scalar_one()
    refresh(settlement, now)
    if settlement.status not in OPEN:
        db.session.commit()
        pushes.flush()
        return False
    try:
        withdraw(settlement)
    except (MedinsError, PayError, requests.RequestException) as e:
        log.error("withdrawing settlement %s failed: %s", settlement.id, e)
        db.session.rollback()
        return False
    release(settlement, SettlementStatus.cancelled, now)
    db.session.commit()
    pushes.flush()
    return True
