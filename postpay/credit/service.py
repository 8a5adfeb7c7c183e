"""Credit (R3, R17, R18): reminders for overdue bills, malicious-arrears suspension at every
hospital on the hub, and credit repair by payment. Every change of credit state is audited."""

import datetime as dt
import logging

import requests
from flask import current_app
from sqlalchemy.exc import IntegrityError

from postpay import clients
from postpay.accounts.models import User, utcnow
from postpay.api import SHANGHAI
from postpay.billing.models import Bill, BillStatus
from postpay.contracts.models import Contract
from postpay.credit.models import CreditEvent, CreditRecord, Reminder
from postpay.extensions import db
from postpay.family.models import Binding, BindingStatus
from postpay.security import blind_index, mask_phone
from wechat.sms import SmsError

log = logging.getLogger(__name__)


def is_suspended(patient_id):
    """True while the patient has an unrepaired malicious-arrears record (R3, R18)."""
    query = db.select(CreditRecord.id).where(CreditRecord.patient_id == patient_id, CreditRecord.repaired_at.is_(None))
    return db.session.execute(query.limit(1)).first() is not None


def record_arrears(patient_id, bill_ids, now=None):
    """Write a malicious-arrears record that suspends post-pay at every hospital (R18), audited."""
    record = CreditRecord(patient_id=patient_id, bill_ids=list(bill_ids), created_at=now or utcnow())
    db.session.add(record)
    db.session.flush()
    db.session.add(
        CreditEvent(
            patient_id=patient_id,
            record_id=record.id,
            kind="suspended",
            at=record.created_at,
            detail={"bill_ids": list(bill_ids)},
        )
    )
    db.session.flush()
    log.warning("patient %s suspended for arrears: %s", patient_id, ",".join(bill_ids))
    return record


def repair_if_clear(patient_id, now):
    """Credit repair: once no overdue bill of the patient is unpaid, the suspension lifts at once.
    The record stays, with its repair time."""
    overdue = db.session.execute(
        db.select(Bill.id)
        .where(Bill.patient_id == patient_id, Bill.status == BillStatus.due, Bill.due_at < now)
        .limit(1)
    ).first()
    if overdue:
        return False
    records = (
        db.session.execute(
            db.select(CreditRecord).where(CreditRecord.patient_id == patient_id, CreditRecord.repaired_at.is_(None))
        )
        .scalars()
        .all()
    )
    for record in records:
        record.repaired_at = now
        db.session.add(CreditEvent(patient_id=patient_id, record_id=record.id, kind="repaired", at=now))
    db.session.flush()
    if records:
        log.info("patient %s: credit repaired", patient_id)
    return bool(records)


def arrears_sweep(now, batch=1000):
    """R18: bills still unpaid 30 days after they became overdue suspend their patient. Returns how many bills."""
    cutoff = now - dt.timedelta(days=current_app.config["POSTPAY_ARREARS_DAYS"])
    bills = (
        db.session.execute(
            db.select(Bill)
            .where(Bill.status == BillStatus.due, Bill.in_arrears.is_(False), Bill.due_at <= cutoff)
            .order_by(Bill.due_at)
            .limit(batch)
            .with_for_update(skip_locked=True)
        )
        .scalars()
        .all()
    )
    by_patient = {}
    for bill in bills:
        bill.in_arrears = True
        by_patient.setdefault(bill.patient_id, []).append(bill.id)
    for patient_id, bill_ids in by_patient.items():
        record_arrears(patient_id, bill_ids, now)
    db.session.commit()
    return len(bills)


def in_quiet_hours(now):
    start, end = (dt.time.fromisoformat(t) for t in current_app.config["POSTPAY_QUIET_HOURS"].split("-"))
    local = now.astimezone(SHANGHAI).time()
    return local >= start or local < end if start > end else start <= local < end


def _morning(now):
    end = dt.time.fromisoformat(current_app.config["POSTPAY_QUIET_HOURS"].split("-")[1])
    local = now.astimezone(SHANGHAI)
    day = local.date() + dt.timedelta(days=1 if local.time() >= end else 0)
    return dt.datetime.combine(day, end, SHANGHAI)


def _claim(bill_id, stage, recipient):
    """Record the reminder before sending it: a re-run or a second worker finds it and sends nothing."""
    try:
        with db.session.begin_nested():
            db.session.add(Reminder(bill_id=bill_id, stage=stage, recipient=recipient))
        db.session.commit()
        return True
    except IntegrityError:
        return False


def _phones(bill):
    """The contract phone and the WeChat phones of every relative bound with ``pay``."""
    contract = db.session.execute(
        db.select(Contract).where(Contract.patient_id == bill.patient_id).order_by(Contract.signed_at.desc()).limit(1)
    ).scalar_one_or_none()
    phones = [contract.phone] if contract else []
    relatives = db.session.execute(
        db.select(User, Binding.permissions)
        .join(Binding, Binding.user_id == User.id)
        .where(
            Binding.relative_patient_id == bill.patient_id,
            Binding.status == BindingStatus.active,
            User.phone_index.isnot(None),
        )
    ).all()
    phones += [user.phone for user, permissions in relatives if "pay" in permissions]
    return list(dict.fromkeys(phones))


def _remind_accounts(bill, stage, amount):
    """The subscribe message to the patient's own accounts and to relatives bound with ``pay``."""
    from postpay.visits.messages import recipients, send_once

    data = {
        "thing1": {"value": bill.hospital.name[:20]},
        "amount2": {"value": "%s元" % amount},
        "thing3": {"value": "诊后付费用已逾期，请尽快缴费"},
    }
    sent = 0
    for user in recipients(bill.patient_id, "pay"):
        if _claim(bill.id, stage, "wx:" + user.id):
            sent += send_once("bill_overdue", user, data, "pages/bills/index")
    return sent


def reminder_sweep(now, batch=500):
    """R17: an SMS to the contract phone and to each paying relative when a bill is overdue, then on the
    configured days of arrears. Never an SMS in quiet hours: the bill waits for the morning."""
    stages = sorted(current_app.config["POSTPAY_REMINDER_DAYS"])
    bills = (
        db.session.execute(
            db.select(Bill)
            .where(Bill.status == BillStatus.due, Bill.next_reminder_at <= now)
            .order_by(Bill.next_reminder_at)
            .limit(batch)
        )
        .scalars()
        .all()
    )
    if bills and in_quiet_hours(now):
        morning = _morning(now)
        for bill in bills:
            bill.next_reminder_at = max(bill.next_reminder_at, morning)
        db.session.commit()
        return 0
    sent = 0
    for bill in bills:
        days = (now - bill.due_at).days
        stage = max([s for s in stages if s <= days], default=stages[0])
        amount = "%d.%02d" % divmod(bill.total_fen, 100)
        for phone in _phones(bill):
            if not _claim(bill.id, stage, "sms:" + blind_index(phone, "phone")):
                continue
            try:
                clients.sms_gateway().send(phone, "bill_overdue", [bill.hospital.name, amount])
                sent += 1
            except (SmsError, requests.RequestException) as e:
                log.error("reminder to %s failed: %s", mask_phone(phone), e)
        sent += _remind_accounts(bill, stage, amount)
        later = [s for s in stages if s > stage]
        bill.next_reminder_at = bill.due_at + dt.timedelta(days=later[0]) if later else None
        db.session.commit()
    return sent
