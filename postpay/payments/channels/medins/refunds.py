"""A voided item of a settled bill given back: 6203 for the insurance part, the cash part queued
to the WeChat channel, and the refund sync to WeChat after every 6203."""

import logging
import secrets

import requests

from postpay import clients, pushes, queue
from postpay.api import iso
from postpay.clock import utcnow
from postpay.extensions import db
from postpay.insurance.models import (
    InsuranceRefund,
    InsuranceRefundStatus,
    InsuranceSettlement,
)
from postpay.payments import ledger
from postpay.payments.alerts import alert
from postpay.payments.channels.medins.core import kept_auth
from postpay.payments.models import Refund
from wechat import pay_medins
from wechat.medins import MedinsError
from wechat.pay import PayError

log = logging.getLogger(__name__)

REFUND_JOB = "postpay.payments.channels.medins.refund_job"
REFUND_SYNC_JOB = "postpay.payments.channels.medins.refund_sync_job"
#: The payer is told how an insurance refund ended, as for a WeChat refund (issue 18).
REFUND_MESSAGE_JOB = "postpay.visits.messages.send_insurance_refund_messages"
#: The cash part of a refund goes through the WeChat channel (queued by name: channels never import each other).
CASH_REFUND_JOB = "postpay.payments.channels.wechat.refund_job"


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
        pushes.after_commit(queue.enqueue, REFUND_MESSAGE_JOB, owed.id)
        return
    except requests.RequestException as e:
        log.error("insurance refund %s not sent: %s", owed.id, e)
        raise
    owed.transition(InsuranceRefundStatus.succeeded)
    owed.trx_sn, owed.settled_at = answer["trx_sn"], now
    owed.fund_refd_fen = answer["fund_refd_fen"]
    owed.psn_acct_refd_fen = answer["psn_acct_refd_fen"]
    owed.mulaid_refd_fen = answer["mulaid_refd_fen"]
    accounts = owed.psn_acct_refd_fen + owed.mulaid_refd_fen
    ledger.book_refund(owed.bill_id, "medins", owed.amount_fen, owed.trx_sn, owed.id, now, owed.fund_refd_fen, accounts)
    db.session.flush()
    pushes.after_commit(queue.enqueue, REFUND_SYNC_JOB, owed.id)
    pushes.after_commit(queue.enqueue, REFUND_MESSAGE_JOB, owed.id)


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
