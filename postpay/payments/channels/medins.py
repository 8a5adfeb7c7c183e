"""The medical-insurance channel (R13 共济付, R14): WeChat's medical-insurance order over the
platform's settlement, and the cash part's JSAPI order beside it.

- ``place``: the cash part's JSAPI order, when there is one, and ``/v3/med-ins/orders``. Both
  requests are built from stored rows (the medical-insurance one is stored before it is sent:
  names are encrypted with random padding), so a retry sends the same and WeChat sees one order.
- ``apply``: ``MEDICAL_INSURANCE.SUCCESS`` (or the order query's same resource), checked against
  the stored split, applied once per ``mix_trade_no``; the bills are booked per channel
  (``medins`` for the insurance part, ``wechat`` for the cash part) through the ledger.
- ``query``: WeChat stops notifying after about 30 s: 6301 asks the platform, then WeChat's
  order query. ``close``: the upload revoked (6401), the cash order closed, the bills freed.
- ``refund_item`` / ``refund``: a voided item goes back through each part's own channel, in the
  proportion the bill was paid in: the insurance part through 6203 (``InsuranceRefund``), the
  cash part as an ordinary ``Refund`` on the cash order, sent by the WeChat channel's job.
  After every 6203 that succeeded, ``refund_sync`` tells WeChat (``/v3/med-ins/refunds/notify``).

Every platform call names the hospital's own 定点医药机构编号 (``Hospital.med_inst_no``); the
payAuthNo a settlement was uploaded with is kept encrypted in its payment's ``order_request``
(``PAY_AUTH``) for the WeChat order and the refunds, and is never logged.
"""

import datetime as dt
import logging
import secrets

import requests
from flask import current_app

from postpay import authz, clients, pushes, queue
from postpay.api import iso
from postpay.clock import from_rfc3339, utcnow
from postpay.errors import Conflict, Forbidden, NotFound, Upstream
from postpay.extensions import db
from postpay.insurance.models import (
    OPEN,
    InsuranceRefund,
    InsuranceRefundStatus,
    InsuranceSettlement,
    SettlementStatus,
)
from postpay.payments import ledger, merchant
from postpay.payments.alerts import alert
from postpay.payments.models import Payment, PaymentBill, PaymentKind, PaymentOrder, PaymentStatus, Refund, trade_no
from postpay.security import decrypt, encrypt
from wechat import pay_medins
from wechat.medins import MedinsError
from wechat.pay import PayError

log = logging.getLogger(__name__)

REFUND_JOB = "postpay.payments.channels.medins.refund_job"
REFUND_SYNC_JOB = "postpay.payments.channels.medins.refund_sync_job"
#: Field kind of the encrypted payAuthNo in ``Payment.order_request``.
PAY_AUTH = "pay_auth_no"
#: The cash part of a refund goes through the WeChat channel (queued by name: channels never import each other).
CASH_REFUND_JOB = "postpay.payments.channels.wechat.refund_job"


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


def place(settlement, user, payer, now):
    """Place the settlement's orders at WeChat (once): the cash part's JSAPI order, when there is
    one, then the medical-insurance order. The caller has checked the payer and the holds.
    Raises Upstream."""
    payment = settlement.payment
    if "med_ins" not in payment.order_request:
        payment.expires_at = now + dt.timedelta(minutes=current_app.config["POSTPAY_ORDER_MINUTES"])  # quote: 10
        if settlement.own_pay_fen and settlement.cash_order_id is None:
            cash = PaymentOrder(
                payment=payment,
                hospital=settlement.hospital,
                mchid=settlement.hospital.mchid,
                out_trade_no=trade_no("K", now),
                amount_fen=settlement.own_pay_fen,
            )
            db.session.add(cash)
            db.session.flush()
            settlement.cash_order_id = cash.id
        payment.order_request = payment.order_request | {"med_ins": _medins_request(settlement, user, payer)}
        db.session.commit()  # stored before WeChat hears of it: a retry sends the same
    client = clients.wechat_pay()
    try:
        body = dict(payment.order_request["med_ins"], pay_auth_no=kept_auth(payment))
        if settlement.cash_order is not None:
            body["prepay_id"] = merchant.place(client, _cash_request(settlement, user))
        answer = pay_medins.create_order(client, body)
    except (PayError, requests.RequestException) as e:
        log.error("medical-insurance order %s failed: %s", payment.out_trade_no, e)
        raise Upstream("微信医保支付下单失败，请稍后重试") from None
    settlement.mix_trade_no, payment.prepay_id = answer["mix_trade_no"], body.get("prepay_id")
    settlement.transition(SettlementStatus.ordered)
    settlement.ordered_at = now
    db.session.flush()
    return settlement


def _cash_request(settlement, user):
    """The JSAPI order for the cash part, built from stored rows only: the same on every retry."""
    cash, payment = settlement.cash_order, settlement.payment
    fields = {
        "description": "门诊医保结算个人自付",
        "out_trade_no": cash.out_trade_no,
        "time_expire": iso(payment.expires_at.replace(microsecond=0)),
        "attach": payment.id,
        "notify_url": notify_url(),
        "amount": {"total": cash.amount_fen, "currency": "CNY"},
    }
    return merchant.jsapi_request(cash.mchid, user.openid, fields)


def _medins_request(settlement, user, payer):
    """``/v3/med-ins/orders`` as the provider (wechatpay-apiv3/wechatpay-skills,
    create_partner_med_ins_order.go): our appid and the payer's openid under it, the hospital as
    sub_mchid with its med_inst_no and Tencent's city_id. Stored without ``pay_auth_no``, which is
    added, decrypted, when it is sent."""
    cfg, payment, patient, hospital = current_app.config, settlement.payment, settlement.patient, settlement.hospital
    client = clients.wechat_pay()
    body = {
        "mix_pay_type": settlement.mix_pay_type,
        "order_type": "DIAG_PAY",
        "appid": cfg["WECHAT_APPID"],
        "sub_mchid": hospital.mchid,
        "openid": user.openid,
        "payer": pay_medins.person(client, payer.name, payer.id_number),
        "pay_for_relatives": patient.id != payer.id,
        "out_trade_no": payment.out_trade_no,
        "serial_no": payment.out_trade_no[:20],
        "pay_order_id": settlement.pay_ord_id,
        "geo_location": payment.order_request["geo_location"],
        "city_id": hospital.medins_city_id,
        "med_inst_name": hospital.name,
        "med_inst_no": hospital.med_inst_no,
        "med_ins_order_create_time": iso(settlement.created_at.replace(microsecond=0)),
        "total_fee": settlement.fee_sum_fen,
        "med_ins_gov_fee": settlement.fund_pay_fen,
        "med_ins_self_fee": settlement.psn_acct_pay_fen + settlement.acct_mulaid_pay_fen,
        "med_ins_other_fee": 0,
        "med_ins_cash_fee": settlement.own_pay_fen,
        "wechat_pay_cash_fee": settlement.own_pay_fen,
        "callback_url": notify_url(),
        "attach": settlement.id,
    }
    if body["pay_for_relatives"]:  # a child pays for a parent: the relative's name and id digest
        body["relative"] = pay_medins.person(client, patient.name, patient.id_number)
    return body


def refund_item(bill, item, reason, share):
    """Refunds owed for ``item`` of ``bill``, paid through settlement ``share.payment``: the insurance
    part (``InsuranceRefund``) and the cash part (``Refund``), each sent by its own job. Returns the
    cash part's refund, if any."""
    settlement = InsuranceSettlement.query.filter_by(payment_id=share.payment_id).one()
    ins_left = ledger.paid(bill.id, "medins") - ledger.owed_medins(bill.id)
    cash_left = ledger.paid(bill.id, "wechat") - ledger.owed_wechat(bill.id)
    paid = ins_left + cash_left
    cash = min(item.amount_fen * cash_left // paid, cash_left) if paid > 0 else 0
    insurance = min(item.amount_fen - cash, ins_left)
    cash = min(item.amount_fen - insurance, cash_left)
    found = [None, None]
    if insurance > 0:
        found[0] = InsuranceRefund(
            settlement_id=settlement.id,
            bill_id=bill.id,
            item_id=item.id,
            app_refd_sn="IR%s" % secrets.token_hex(12).upper(),
            amount_fen=insurance,
            reason=reason[:200],
        )
        db.session.add(found[0])
    if cash > 0:
        found[1] = Refund(
            bill_id=bill.id, item_id=item.id, order_id=settlement.cash_order_id, amount_fen=cash, reason=reason[:200]
        )
        db.session.add(found[1])
    db.session.flush()
    if found[0] is not None:
        pushes.after_commit(queue.enqueue, REFUND_JOB, found[0].id)
    if found[1] is not None:
        pushes.after_commit(queue.enqueue, CASH_REFUND_JOB, found[1].id)
    log.info("item %s voided on settled bill %s: %s fen insurance, %s fen cash", item.id, bill.id, insurance, cash)
    return found[1]


def _refund_parts(settlement, owed):
    """The fund's and the personal accounts' shares of ``owed`` (6203 names both), in the proportion
    the settlement was paid in, never more than each has left."""
    done = db.session.execute(
        db.select(
            db.func.coalesce(db.func.sum(InsuranceRefund.fund_refd_fen), 0),
            db.func.coalesce(db.func.sum(InsuranceRefund.psn_acct_refd_fen + InsuranceRefund.mulaid_refd_fen), 0),
        ).where(
            InsuranceRefund.settlement_id == settlement.id,
            InsuranceRefund.status == InsuranceRefundStatus.succeeded,
        )
    ).one()
    fund_left = settlement.fund_pay_fen - done[0]
    accounts_left = settlement.psn_acct_pay_fen + settlement.acct_mulaid_pay_fen - done[1]
    fund = min(owed.amount_fen * settlement.fund_pay_fen // max(settlement.insurance_fen, 1), fund_left)
    fund = max(fund, owed.amount_fen - accounts_left)
    return fund, owed.amount_fen - fund


def refund(refund_id):
    """6203 for one insurance refund. Safe to run twice: the same appRefdSn is one refund at the
    platform. A refusal marks it failed and raises an alert; an unreachable platform raises. A
    success queues the refund sync to WeChat (``refund_sync_job``)."""
    owed = db.session.get(InsuranceRefund, refund_id, with_for_update=True)
    if owed is None or owed.status != InsuranceRefundStatus.requested:
        return
    settlement = db.session.get(InsuranceSettlement, owed.settlement_id)
    fund, accounts = _refund_parts(settlement, owed)
    now = utcnow()
    try:
        answer = clients.medical_insurance().refund(
            settlement.pay_ord_id, owed.app_refd_sn, fund, accounts, kept_auth(settlement.payment), owed.reason, now
        )
    except MedinsError as e:
        owed.transition(InsuranceRefundStatus.failed)
        alert("MEDINS_REFUND_FAILED", refund=owed.id, code=e.code)
        db.session.flush()
        return
    except requests.RequestException as e:
        log.error("insurance refund %s not sent: %s", owed.id, e)
        raise
    owed.transition(InsuranceRefundStatus.succeeded)
    owed.trx_sn, owed.settled_at = answer["trx_sn"], now
    owed.fund_refd_fen = answer["fund_refd_fen"]
    owed.psn_acct_refd_fen = answer["psn_acct_refd_fen"]
    owed.mulaid_refd_fen = answer["mulaid_refd_fen"]
    ledger.book_refund(owed.bill_id, "medins", owed.amount_fen, owed.trx_sn)
    db.session.flush()
    pushes.after_commit(queue.enqueue, REFUND_SYNC_JOB, owed.id)


def refund_job(refund_id):
    """The job: carry an insurance refund to the platform."""
    refund(refund_id)
    db.session.commit()
    pushes.flush()


def refund_sync(refund_id):
    """Tell WeChat that the insurance part of a mixed order was refunded (``/v3/med-ins/refunds/notify``),
    after the 6203 succeeded. Safe to run twice: the notification names the same ``out_refund_no``
    (the cash part's when the item had one, as the reference asks; else our appRefdSn) with the same
    amounts. A refusal raises an alert; an unreachable WeChat raises (the job is retried)."""
    owed = db.session.get(InsuranceRefund, refund_id)
    if owed is None or owed.status != InsuranceRefundStatus.succeeded:
        return
    settlement = db.session.get(InsuranceSettlement, owed.settlement_id)
    cash = Refund.query.filter_by(item_id=owed.item_id).one_or_none()
    body = {
        "sub_mchid": settlement.hospital.mchid,
        "med_refund_total_fee": owed.amount_fen,
        "med_refund_gov_fee": owed.fund_refd_fen,
        "med_refund_self_fee": owed.psn_acct_refd_fen + owed.mulaid_refd_fen,
        "med_refund_other_fee": 0,
        "refund_time": iso(owed.settled_at.replace(microsecond=0)),
        "out_refund_no": cash.out_refund_no if cash is not None else owed.app_refd_sn,
    }
    try:
        pay_medins.notify_refund(clients.wechat_pay(), settlement.mix_trade_no, body)
    except PayError as e:
        alert("MEDINS_REFUND_SYNC_FAILED", refund=owed.id, code=e.code)
        return
    log.info("insurance refund %s told to WeChat (%s)", owed.id, settlement.mix_trade_no)


def refund_sync_job(refund_id):
    """The job: tell WeChat of one insurance refund."""
    refund_sync(refund_id)
