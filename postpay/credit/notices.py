"""Credit notices (R18): the patient and the relatives who pay for them are told, by SMS and
subscribe message, when post-pay is suspended and when credit repair lifts it. Each (event,
recipient) goes out once, whichever worker runs the job."""

from flask import current_app

from postpay import queue
from postpay.accounts.models import Patient, User
from postpay.api import iso
from postpay.billing.models import Bill
from postpay.credit.models import CreditEvent, CreditRecord
from postpay.credit.reminders import amount, recipients, send_sms, subject
from postpay.extensions import db
from postpay.family.models import Binding
from postpay.security import mask_name
from postpay.visits.messages import send_once, thing

#: The subscribe message's status phrase and line, by event kind.
LINES = {
    "suspended": ("已暂停", "逾期满%d天，已记入信用档案"),
    "repaired": ("已恢复", "欠费已缴清，信用已修复"),
}


def _sms(event, record, whom):
    if event.kind != "suspended":
        return "credit_repaired", [whom]
    bills = db.session.execute(db.select(Bill).where(Bill.id.in_(record.bill_ids))).scalars().all()
    hospitals = "、".join(dict.fromkeys(b.hospital.name for b in bills)) or "医院"
    total = sum(b.total_fen for b in bills)
    return "credit_suspended", [whom, hospitals, amount(total), current_app.config["POSTPAY_ARREARS_DAYS"]]


def send_credit_notices(event_id):
    """The notices of one credit event (suspended, repaired, lifted). Returns how many went out."""
    event = db.session.get(CreditEvent, event_id)
    if event is None or event.kind not in LINES:
        return 0
    record = db.session.get(CreditRecord, event.record_id)
    patient = db.session.get(Patient, record.patient_id)
    phones, users = recipients([patient.id])[patient.id]
    query = db.select(Binding).where(Binding.relative_patient_id == patient.id)
    bindings = {b.id: b for b in db.session.execute(query).scalars()}
    phrase, line = LINES[event.kind]
    line = line.replace("%d", str(current_app.config["POSTPAY_ARREARS_DAYS"]))
    sent = 0
    for phone, binding_id in phones:
        if queue.once("credit:%s:sms:%s" % (event.id, phone)):
            sent += send_sms(phone, *_sms(event, record, subject(bindings.get(binding_id), patient)))
    for user_id, binding_id in users:
        if queue.once("credit:%s:wx:%s" % (event.id, user_id)):
            who = mask_name(patient.name) + " " if binding_id else ""
            data = {
                "phrase1": {"value": phrase},
                "thing2": {"value": thing(who + line)},
                "time3": {"value": iso(event.at)[:16].replace("T", " ")},
            }
            sent += send_once("credit_status", db.session.get(User, user_id), data, "pages/credit/index")
    return sent
