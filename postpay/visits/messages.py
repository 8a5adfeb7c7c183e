"""WeChat messages for key visit events, due bills (R16), refunds' results and ready
e-receipts, sent from RQ jobs, each on the app the person uses (``User.last_app``).

A mini-program user gets a subscribe message: it spends one of the one-time quotas the
mini-program reported for that user and template; errcode 43101 (the user refused or used it)
drops the quota. An official-account user gets a template message (``visits/templates.py``), which
needs no quota. A person with both apps gets one message, on the app they last signed in with.
A Redis key per (event, user), whatever the app, keeps a re-run job from sending twice.
"""

import logging

from flask import current_app

from postpay import authz, clients, queue
from postpay.accounts.models import APP_OA, User
from postpay.api import iso
from postpay.billing import privacy
from postpay.billing.models import Bill, BillReceipt
from postpay.extensions import db
from postpay.family.models import Binding, BindingStatus
from postpay.insurance.models import InsuranceRefund, InsuranceRefundStatus, InsuranceSettlement
from postpay.payments.models import Payment, PaymentBill, PaymentOrder, Refund, RefundStatus
from postpay.visits import templates
from postpay.visits.models import SubscriptionQuota, Visit, VisitEvent
from wechat.miniprogram import WeChatError

log = logging.getLogger(__name__)

TITLES = {"called": "请到诊室就诊", "report_ready": "检查检验报告已出", "visit_finished": "本次就诊已结束"}


def thing(text, tail=""):
    """A ``thing`` keyword's value: WeChat refuses more than 20 characters, so a longer text is cut
    with "…", keeping ``tail`` whole."""
    room = 20 - len(tail)
    return (text if len(text) <= room else text[: room - 1] + "…") + tail


def recipients(patient_id, permission):
    """Accounts to tell: the patient's own, and relatives whose active binding grants ``permission``."""
    own = db.select(User).where(User.patient_id == patient_id)
    bound = (
        db.select(User)
        .join(Binding, Binding.user_id == User.id)
        .where(Binding.relative_patient_id == patient_id, Binding.status == BindingStatus.active)
    )
    users = {u.id: u for u in db.session.execute(own).scalars()}
    for user in db.session.execute(bound.add_columns(Binding.permissions)).all():
        if permission in user[1]:
            users.setdefault(user[0].id, user[0])
    return list(users.values())


def _spend_quota(user_id, template_id):
    """Take one quota; False when none is left (the update touches no row)."""
    result = db.session.execute(
        db.update(SubscriptionQuota)
        .where(
            SubscriptionQuota.user_id == user_id,
            SubscriptionQuota.template_id == template_id,
            SubscriptionQuota.remaining > 0,
        )
        .values(remaining=SubscriptionQuota.remaining - 1)
    )
    return result.rowcount == 1


def _send(kind, key, users, data, page):
    sent = 0
    for user in users:
        if queue.once("msg:%s:%s" % (key, user.id)):
            sent += send_once(kind, user, data, page)
    return sent


def send_once(kind, user, data, page):
    """One message of ``kind`` to ``user`` on their app: a template message in the official account,
    else a subscribe message if a quota is left. Someone who unfollowed the official account but
    also uses the mini-program gets the subscribe message there. Returns 1 if sent."""
    if user.last_app == APP_OA and user.oa_openid:
        outcome = templates.send(kind, user, data)
        if outcome != templates.NOT_FOLLOWING or not user.openid:
            return int(outcome == templates.SENT)
    template_id = current_app.config["WECHAT_SUBSCRIBE_TEMPLATES"].get(kind)
    if not user.openid:
        return 0
    if not template_id or not _spend_quota(user.id, template_id):
        return 0
    db.session.commit()  # the quota is spent before the send: never sent twice on one quota
    try:
        clients.wechat().send_subscribe_message(user.openid, template_id, data, page=page)
        return 1
    except WeChatError as e:
        if e.errcode == 43101:  # refused or used up on WeChat's side: our count is stale
            db.session.execute(
                db.update(SubscriptionQuota)
                .where(SubscriptionQuota.user_id == user.id, SubscriptionQuota.template_id == template_id)
                .values(remaining=0)
            )
            db.session.commit()
        else:
            log.error("subscribe message to %s failed: %s", user.id, e.errcode)
        return 0


def send_for_event(event_id):
    """R16; R19: a relative the patient did not share with reads "隐私项目" for a sensitive event
    or a department on the hospital's sensitive list."""
    event = db.session.get(VisitEvent, event_id)
    visit = db.session.get(Visit, event.visit_id)
    data = {
        "thing1": {"value": thing(visit.hospital.name)},
        "thing2": {"value": thing(visit.department or "", " " + TITLES.get(event.type, "")).strip()},
        "time3": {"value": iso(event.at)[:16].replace("T", " ")},
    }
    private = data | {"thing2": {"value": thing(privacy.PRIVATE["name"], " " + TITLES.get(event.type, ""))}}
    hidden = event.sensitive or privacy.mentions(visit.hospital, {"department": visit.department})
    page, sent = "pages/visit/index?id=%s" % visit.id, 0
    for user in recipients(visit.patient_id, "accompany"):
        shown = data if not hidden or authz.reveals_sensitive(user, visit.patient_id) else private
        sent += _send(event.type, "event:%s" % event.id, [user], shown, page)
    return sent


def send_for_bill(bill_id):
    bill = db.session.get(Bill, bill_id)
    data = {
        "thing1": {"value": thing(bill.hospital.name)},
        "amount2": {"value": yuan(bill.total_fen)},
        "time3": {"value": iso(bill.due_at)[:16].replace("T", " ")},
    }
    users = recipients(bill.patient_id, "pay")
    return _send("bill_due", "bill:%s" % bill.id, users, data, "pages/bills/index")


def send_for_refund(refund_id):
    """The payer learns how a WeChat refund ended: succeeded or failed (issue 18)."""
    refund = db.session.get(Refund, refund_id)
    if refund is None or refund.order_id is None or refund.status not in (RefundStatus.succeeded, RefundStatus.failed):
        return 0
    order = db.session.get(PaymentOrder, refund.order_id)
    succeeded = refund.status == RefundStatus.succeeded
    return _refund_result(refund, order.payment_id, order.hospital.name, succeeded)


def send_for_insurance_refund(refund_id):
    """The payer learns how an insurance refund (6203) ended, as for a WeChat refund."""
    refund = db.session.get(InsuranceRefund, refund_id)
    if refund is None or refund.status not in (InsuranceRefundStatus.succeeded, InsuranceRefundStatus.failed):
        return 0
    settlement = db.session.get(InsuranceSettlement, refund.settlement_id)
    succeeded = refund.status == InsuranceRefundStatus.succeeded
    return _refund_result(refund, settlement.payment_id, settlement.hospital.name, succeeded)


def _refund_result(refund, payment_id, hospital_name, succeeded):
    payer_id = db.session.get(Payment, payment_id).payer_user_id
    # a kiosk's payment has no payer account: the patient (and who may pay for them) hear of it
    if payer_id:
        users = [db.session.get(User, payer_id)]
    else:
        users = recipients(db.session.get(Bill, refund.bill_id).patient_id, "pay")
    data = {
        "thing1": {"value": thing(hospital_name)},
        "amount2": {"value": yuan(refund.amount_fen)},
        "phrase3": {"value": "退款成功" if succeeded else "退款失败"},
        "thing4": {"value": thing(refund.reason or "退款")},
    }
    return _send("refund_result", "refund:%s" % refund.id, users, data, "pages/payments/index")


def yuan(fen):
    return "%d.%02d元" % divmod(fen, 100)


def send_for_receipt(bill_id):
    """The patient and whoever paid the bill learn its e-receipt is ready (once each, once for one
    person who is both)."""
    bill = db.session.get(Bill, bill_id)
    receipt = db.session.get(BillReceipt, bill_id)
    payers = db.select(Payment.payer_user_id).join(PaymentBill, PaymentBill.payment_id == Payment.id)
    payers = payers.where(PaymentBill.bill_id == bill_id, Payment.paid_at.isnot(None))
    users = db.session.execute(
        db.select(User).where(db.or_(User.patient_id == bill.patient_id, User.id.in_(payers))).order_by(User.id)
    ).scalars()
    data = {
        "thing1": {"value": thing(bill.hospital.name)},
        "amount2": {"value": yuan(receipt.amount_fen)},
        "character_string3": {"value": receipt.receipt_no},
        "time4": {"value": iso(receipt.issued_at)[:16].replace("T", " ")},
    }
    return _send("receipt_ready", "receipt:%s" % bill_id, list(users), data, "pages/bills/index?id=%s" % bill_id)


def add_quota(user, template_ids):
    """The mini-program reports templates the user accepted in wx.requestSubscribeMessage."""
    allowed = set(current_app.config["WECHAT_SUBSCRIBE_TEMPLATES"].values())
    for template_id in dict.fromkeys(template_ids):
        if template_id not in allowed:
            continue
        quota = db.session.get(SubscriptionQuota, (user.id, template_id), with_for_update=True)
        if quota is None:
            quota = SubscriptionQuota(user_id=user.id, template_id=template_id, remaining=0)
            db.session.add(quota)
        quota.remaining = min(quota.remaining + 1, 50)
    db.session.flush()
    rows = db.session.execute(db.select(SubscriptionQuota).where(SubscriptionQuota.user_id == user.id)).scalars()
    return {q.template_id: q.remaining for q in rows}


def send_event_messages(event_id):
    """The job: subscribe messages for a key visit event, to the patient and accompanying relatives."""
    send_for_event(event_id)
    db.session.commit()


def send_bill_due_messages(bill_id):
    """The job: subscribe messages for a bill that has become due."""
    send_for_bill(bill_id)
    db.session.commit()


def send_refund_messages(refund_id):
    """The job: the payer is told a refund succeeded or failed."""
    send_for_refund(refund_id)
    db.session.commit()


def send_insurance_refund_messages(refund_id):
    """The job: the payer is told an insurance refund succeeded or failed."""
    send_for_insurance_refund(refund_id)
    db.session.commit()


def send_receipt_messages(bill_id):
    """The job: the patient and the payer are told the bill's e-receipt is ready."""
    send_for_receipt(bill_id)
    db.session.commit()
