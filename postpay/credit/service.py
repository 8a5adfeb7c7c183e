"""Credit (R3, R17, R18): reminders for overdue bills, malicious-arrears suspension at every
hospital on the hub, and credit repair by payment. Every change of credit state is audited."""

import datetime as dt
import logging

import requests
from flask import current_app
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from postpay import clients, pushes, queue
from postpay.accounts.models import User
from postpay.billing.models import Bill, BillStatus
from postpay.clock import SHANGHAI, day_start, utcnow
from postpay.contracts.models import Contract
from postpay.credit.models import CreditEvent, CreditRecord, Reminder
from postpay.extensions import db
from postpay.family.models import Binding, BindingStatus
from postpay.security import blind_index, mask_phone, new_id
from postpay.visits.messages import send_once, thing
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
    records = (
        db.session.execute(
            db.select(CreditRecord).where(CreditRecord.patient_id == patient_id, CreditRecord.repaired_at.is_(None))
        )
        .scalars()
        .all()
    )
    if not records:
        return False  # the common case of a late payment: nothing to repair, one query
    db.session.flush()  # the bill just paid must not count as overdue
    overdue = db.session.execute(
        db.select(Bill.id)
        .where(Bill.patient_id == patient_id, Bill.status == BillStatus.due, Bill.due_at < now)
        .limit(1)
    ).first()
    if overdue:
        return False
    for record in records:
        record.repaired_at = now
        db.session.add(CreditEvent(patient_id=patient_id, record_id=record.id, kind="repaired", at=now))
    db.session.flush()
    log.info("patient %s: credit repaired", patient_id)
    return True


def arrears_sweep(now, batch=1000):
    """R18: bills still unpaid 30 days after they became overdue suspend their patient, in batches
    (one record per patient and batch, naming the bills, audited). Returns how many bills were counted."""
    cutoff = now - dt.timedelta(days=current_app.config["POSTPAY_ARREARS_DAYS"])
    counted = 0
    while True:
        rows = db.session.execute(
            db.select(Bill.id, Bill.patient_id)
            .where(Bill.status == BillStatus.due, Bill.in_arrears.is_(False), Bill.due_at <= cutoff)
            .order_by(Bill.due_at)
            .limit(batch)
            .with_for_update(skip_locked=True)
        ).all()
        by_patient = {}
        for bill_id, patient_id in rows:
            by_patient.setdefault(patient_id, []).append(bill_id)
        records = [
            CreditRecord(id=new_id("cr"), patient_id=p, bill_ids=ids, created_at=now) for p, ids in by_patient.items()
        ]
        db.session.add_all(records)
        db.session.flush()  # the records first: the events point at them
        db.session.add_all(
            CreditEvent(
                patient_id=r.patient_id, record_id=r.id, kind="suspended", at=now, detail={"bill_ids": r.bill_ids}
            )
            for r in records
        )
        db.session.execute(db.update(Bill).where(Bill.id.in_([r[0] for r in rows])).values(in_arrears=True))
        db.session.commit()
        if records:
            log.warning("%d patient(s) suspended for arrears", len(records))
        counted += len(rows)
        if len(rows) < batch:
            return counted


def in_quiet_hours(now):
    start, end = (dt.time.fromisoformat(t) for t in current_app.config["POSTPAY_QUIET_HOURS"].split("-"))
    local = now.astimezone(SHANGHAI).time()
    return local >= start or local < end if start > end else start <= local < end


def _morning(now):
    end = dt.time.fromisoformat(current_app.config["POSTPAY_QUIET_HOURS"].split("-")[1])
    local = now.astimezone(SHANGHAI)
    day = local.date() + dt.timedelta(days=1 if local.time() >= end else 0)
    return day_start(day, end)


def _recipients(bills):
    """For each bill: the contract phone, and each relative bound with ``pay`` (WeChat phone and account);
    plus the patient's own accounts. Two queries for the whole batch."""
    patient_ids = {b.patient_id for b in bills}
    contracts = {}
    for c in db.session.execute(
        db.select(Contract).where(Contract.patient_id.in_(patient_ids)).order_by(Contract.signed_at)
    ).scalars():
        contracts[c.patient_id] = c.phone  # the latest contract wins
    accounts = {}
    own = db.select(User.id, User.patient_id.label("pid"), User.phone, db.literal(True).label("pays"))
    bound = (
        db.select(User.id, Binding.relative_patient_id.label("pid"), User.phone, Binding.permissions)
        .join(Binding, Binding.user_id == User.id)
        .where(Binding.status == BindingStatus.active)
    )
    for user_id, pid, phone, pays in (
        db.session.execute(own.where(User.patient_id.in_(patient_ids))).all()
        + db.session.execute(bound.where(Binding.relative_patient_id.in_(patient_ids))).all()
    ):
        relative = pays is not True
        if relative and "pay" not in pays:
            continue
        accounts.setdefault(pid, []).append((user_id, phone if relative else None))
    found = {}
    for bill in bills:
        phones = [contracts[bill.patient_id]] if bill.patient_id in contracts else []
        phones += [phone for _, phone in accounts.get(bill.patient_id, []) if phone]
        found[bill.id] = (list(dict.fromkeys(phones)), [u for u, _ in accounts.get(bill.patient_id, [])])
    return found


def _claim_all(rows):
    """Insert the reminders not yet claimed; returns the ids of those this sweep claimed."""
    if not rows:
        return []
    insert = pg_insert if db.engine.dialect.name == "postgresql" else sqlite_insert
    statement = (
        insert(Reminder)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["bill_id", "stage", "recipient"])
        .returning(Reminder.id)
    )
    return [row[0] for row in db.session.execute(statement)]


def _requeue_unsent():
    """Queue again the reminders an earlier run claimed that no worker sent (the worker was killed,
    or the sweep died between its commit and the queueing), for bills still due. Sending claims
    each reminder atomically, so one queued twice still goes out once (issue 9). Returns how many."""
    ids = (
        db.session.execute(
            db.select(Reminder.id)
            .join(Bill, Bill.id == Reminder.bill_id)
            .where(Reminder.sent.is_(False), Bill.status == BillStatus.due)
        )
        .scalars()
        .all()
    )
    queue.enqueue_chunks("postpay.credit.jobs.send_reminders", ids)
    return len(ids)


def reminder_sweep(now, batch=2000):
    """R17: reminders when a bill is overdue, then on the configured days of arrears, to the contract
    phone and every relative bound with ``pay`` (SMS), and to the patient's and those relatives'
    accounts (subscribe message). Each (bill, stage, recipient) is claimed in one batch insert before
    anything is sent; the sending is queued (``send_reminder``), and claimed reminders still unsent
    are queued again. No SMS in quiet hours: the bills wait for the morning. Returns how many
    reminders were queued."""
    stages = sorted(current_app.config["POSTPAY_REMINDER_DAYS"])
    queued = 0 if in_quiet_hours(now) else _requeue_unsent()
    while True:
        bills = db.session.execute(
            db.select(Bill.id, Bill.patient_id, Bill.due_at)
            .where(Bill.status == BillStatus.due, Bill.next_reminder_at <= now)
            .order_by(Bill.next_reminder_at)
            .limit(batch)
        ).all()
        if not bills:
            return queued
        if in_quiet_hours(now):
            db.session.execute(
                db.update(Bill).where(Bill.id.in_([b.id for b in bills])).values(next_reminder_at=_morning(now))
            )
            db.session.commit()
            return queued
        recipients, rows, updates = _recipients(bills), [], []
        for bill in bills:
            stage = max([s for s in stages if s <= (now - bill.due_at).days], default=stages[0])
            phones, users = recipients[bill.id]
            rows += [
                {
                    "bill_id": bill.id,
                    "stage": stage,
                    "recipient": "sms:" + blind_index(p, "phone"),
                    "phone": p,
                    "user_id": None,
                }
                for p in phones
            ]
            rows += [
                {"bill_id": bill.id, "stage": stage, "recipient": "wx:" + u, "phone": None, "user_id": u} for u in users
            ]
            later = [s for s in stages if s > stage]
            updates.append({"b_id": bill.id, "next": bill.due_at + dt.timedelta(days=later[0]) if later else None})
        claimed = _claim_all(rows)
        db.session.execute(
            db.update(Bill.__table__)
            .where(Bill.__table__.c.id == db.bindparam("b_id"))
            .values(next_reminder_at=db.bindparam("next")),
            updates,
        )
        db.session.commit()
        queue.enqueue_chunks("postpay.credit.jobs.send_reminders", claimed)
        queued += len(claimed)
        pushes.flush()


def send_reminder(reminder_id):
    """Send one claimed reminder, once (a retried job finds it sent)."""
    # One atomic claim, on every database: of two workers holding the same reminder (a re-queued
    # one, issue 9), only the one whose UPDATE changed the row sends it.
    still_due = db.select(Bill.id).where(Bill.id == Reminder.bill_id, Bill.status == BillStatus.due).exists()
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
    amount = "%d.%02d" % divmod(bill.total_fen, 100)
    if reminder.phone:
        try:
            clients.sms_gateway().send(reminder.phone, "bill_overdue", [bill.hospital.name, amount])
        except (SmsError, requests.RequestException) as e:
            log.error("reminder to %s failed: %s", mask_phone(reminder.phone), e)
            return False
        return True
    data = {
        "thing1": {"value": thing(bill.hospital.name)},
        "amount2": {"value": "%s元" % amount},
        "thing3": {"value": "诊后付费用已逾期，请尽快缴费"},
    }
    return bool(send_once("bill_overdue", db.session.get(User, reminder.user_id), data, "pages/bills/index"))
