"""What the reminders (R17) and the credit notices (R18) say, and to whom.

Each reminder stage has its own text naming the hospital, the visit day and the amount: overdue,
the days of arrears, and the last day before the record. A relative's text names the patient,
masked, and the relationship ("您的母亲 朱*英"); the patient's own says "您".
"""

import logging

import requests
from flask import current_app

from postpay import clients, counters
from postpay.accounts.models import User
from postpay.billing.models import Bill, BillStatus
from postpay.contracts.models import Contract
from postpay.credit.models import Reminder
from postpay.extensions import db
from postpay.family.models import Binding, BindingStatus
from postpay.security import mask_name, mask_phone
from postpay.visits.messages import send_once, thing
from wechat.sms import SmsError

log = logging.getLogger(__name__)

#: What the patient is to the relative, by the binding's relationship and the patient's sex.
KIN = {
    ("parent", "M"): "父亲",
    ("parent", "F"): "母亲",
    ("spouse", "M"): "丈夫",
    ("spouse", "F"): "妻子",
    ("child", "M"): "儿子",
    ("child", "F"): "女儿",
}


def subject(binding, patient):
    """Whom the text speaks of: "您", or for a relative "您的母亲 朱*英"."""
    if binding is None:
        return "您"
    return "您的%s %s" % (KIN.get((binding.relationship, patient.sex), "家人"), mask_name(patient.name))


def recipients(patient_ids):
    """For each patient: the phones (the latest contract's, then each relative bound with ``pay``)
    and the accounts (the patient's own, and those relatives'), each with the relative's binding id
    or None. Three queries for any number of patients."""
    found = {pid: {"phones": {}, "users": {}} for pid in patient_ids}
    for c in db.session.execute(
        db.select(Contract).where(Contract.patient_id.in_(patient_ids)).order_by(Contract.signed_at)
    ).scalars():
        found[c.patient_id]["phones"] = {c.phone: None}  # the latest contract wins
    for user_id, pid in db.session.execute(db.select(User.id, User.patient_id).where(User.patient_id.in_(patient_ids))):
        found[pid]["users"][user_id] = None
    bound = (
        db.select(User.id, User.phone, Binding.relative_patient_id, Binding.id, Binding.permissions)
        .join(Binding, Binding.user_id == User.id)
        .where(Binding.status == BindingStatus.active, Binding.relative_patient_id.in_(patient_ids))
    )
    for user_id, phone, pid, binding_id, permissions in db.session.execute(bound):
        if "pay" in permissions:
            if phone:
                found[pid]["phones"].setdefault(phone, binding_id)
            found[pid]["users"].setdefault(user_id, binding_id)
    return {pid: (list(r["phones"].items()), list(r["users"].items())) for pid, r in found.items()}


def _day(bill):
    return "%d月%d日" % (bill.visit_day.month, bill.visit_day.day)


def amount(fen):
    return "%d.%02d" % divmod(fen, 100)


def stage_text(bill, stage, whom):
    """The SMS template and its parameters, and the subscribe message's line, for a reminder stage."""
    last = current_app.config["POSTPAY_ARREARS_DAYS"] - 1
    params = [whom, _day(bill), bill.hospital.name, amount(bill.total_fen)]
    if stage <= 0:
        return "bill_overdue", params, "%s费用已逾期，请尽快缴费" % _day(bill)
    if stage >= last:
        return "bill_overdue_last", params + [stage], "明日起暂停先诊疗后付费，并记入信用档案"
    days = current_app.config["POSTPAY_ARREARS_DAYS"]
    return "bill_overdue_days", params + [stage, days], "%s费用已逾期%d天，请尽快缴费" % (_day(bill), stage)


def send_sms(phone, template, params):
    """One SMS; False (logged, phone masked) when the gateway refused it or could not be reached."""
    try:
        clients.sms_gateway().send(phone, template, params)
    except (SmsError, requests.RequestException) as e:
        log.error("%s to %s failed: %s", template, mask_phone(phone), e)
        return False
    return True


def send_reminder(reminder_id):
    """Send one claimed reminder, once (a retried job finds it sent), while its bill is still due,
    not held for an admission, and due when the reminder was claimed (R14: a discharge restarts)."""
    # One atomic claim, on every database: of two workers holding the same reminder (a re-queued
    # one, issue 9), only the one whose UPDATE changed the row sends it.
    still_due = (
        db.select(Bill.id)
        .where(
            Bill.id == Reminder.bill_id,
            Bill.status == BillStatus.due,
            Bill.hold_reason.is_(None),
            Bill.due_at == Reminder.due_at,
        )
        .exists()
    )
    claimed = db.session.execute(
        db.update(Reminder)
        .where(Reminder.id == reminder_id, Reminder.sent.is_(False), still_due)
        .values(sent=True)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()  # marked before sending: at most once, even if this worker dies now
    if claimed != 1:
        return False
    reminder = db.session.get(Reminder, reminder_id)
    bill = db.session.get(Bill, reminder.bill_id)
    binding = db.session.get(Binding, reminder.binding_id) if reminder.binding_id else None
    template, params, line = stage_text(bill, reminder.stage, subject(binding, bill.patient))
    if reminder.phone:
        sent = send_sms(reminder.phone, template, params)
        if sent:
            counters.count("reminders_sent", stage=reminder.stage, channel="sms")
        return sent
    data = {
        "thing1": {"value": thing(bill.hospital.name)},
        "amount2": {"value": "%s元" % amount(bill.total_fen)},
        "thing3": {"value": thing(line)},
    }
    sent = bool(send_once("bill_overdue", db.session.get(User, reminder.user_id), data, "pages/bills/index"))
    if sent:
        counters.count("reminders_sent", stage=reminder.stage, channel="subscribe")
    return sent
