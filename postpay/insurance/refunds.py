"""A voided item (R12) of a bill settled with medical insurance: each part goes back through
its own channel. The item's amount is split in the proportion the bill was paid in: the
insurance part through 6203 (``InsuranceRefund``), the cash part through WeChat Pay (an
ordinary ``Refund`` on the cash order, sent by the existing refund job)."""

import logging
import secrets

import requests

from postpay import clients, pushes, queue
from postpay.clock import utcnow
from postpay.extensions import db
from postpay.insurance.models import InsuranceRefund, InsuranceRefundStatus, InsuranceSettlement
from postpay.payments.alerts import alert
from postpay.payments.models import LedgerEntry, Refund, RefundStatus
from wechat.medins import MedinsError

log = logging.getLogger(__name__)


def _paid(bill_id, channel):
    return int(
        db.session.execute(
            db.select(db.func.coalesce(db.func.sum(LedgerEntry.amount_fen), 0)).where(
                LedgerEntry.bill_id == bill_id, LedgerEntry.kind == "paid", LedgerEntry.channel == channel
            )
        ).scalar_one()
    )


def _owed(model, failed, bill_id):
    return int(
        db.session.execute(
            db.select(db.func.coalesce(db.func.sum(model.amount_fen), 0)).where(
                model.bill_id == bill_id, model.status != failed
            )
        ).scalar_one()
    )


def request_for_item(bill, item, reason, share):
    """Refunds owed for ``item`` of ``bill``, paid through settlement ``share.payment``:
    ``(insurance_refund or None, cash_refund or None)``; each sent by its own job."""
    settlement = InsuranceSettlement.query.filter_by(payment_id=share.payment_id).one()
    ins_left = _paid(bill.id, "medins") - _owed(InsuranceRefund, InsuranceRefundStatus.failed, bill.id)
    cash_left = _paid(bill.id, "wechat") - _owed(Refund, RefundStatus.failed, bill.id)
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
        pushes.after_commit(queue.enqueue, "postpay.insurance.refunds.send_job", found[0].id)
    if found[1] is not None:
        pushes.after_commit(queue.enqueue, "postpay.payments.refunds.send_job", found[1].id)
    log.info("item %s voided on settled bill %s: %s fen insurance, %s fen cash", item.id, bill.id, insurance, cash)
    return tuple(found)


def send(refund_id):
    """6203 for one insurance refund. Safe to run twice: the same appRefdSn is one refund at the
    platform. A refusal marks it failed and raises an alert; an unreachable platform raises."""
    refund = db.session.get(InsuranceRefund, refund_id, with_for_update=True)
    if refund is None or refund.status != InsuranceRefundStatus.requested:
        return
    settlement = db.session.get(InsuranceSettlement, refund.settlement_id)
    try:
        answer = clients.medical_insurance().refund(
            settlement.pay_ord_id, refund.app_refd_sn, refund.amount_fen, refund.reason
        )
    except MedinsError as e:
        refund.transition(InsuranceRefundStatus.failed)
        alert("MEDINS_REFUND_FAILED", refund=refund.id, code=e.code)
        db.session.flush()
        return
    except requests.RequestException as e:
        log.error("insurance refund %s not sent: %s", refund.id, e)
        raise
    refund.transition(InsuranceRefundStatus.succeeded)
    refund.trx_sn, refund.settled_at = answer["trx_sn"], utcnow()
    refund.fund_refd_fen = answer["fund_refd_fen"]
    refund.psn_acct_refd_fen = answer["psn_acct_refd_fen"]
    refund.mulaid_refd_fen = answer["mulaid_refd_fen"]
    db.session.add(
        LedgerEntry(
            bill_id=refund.bill_id,
            kind="refund",
            channel="medins",
            amount_fen=-refund.amount_fen,
            reference=refund.trx_sn,
        )
    )
    db.session.flush()


def send_job(refund_id):
    """The job: carry an insurance refund to the platform."""
    send(refund_id)
    db.session.commit()
