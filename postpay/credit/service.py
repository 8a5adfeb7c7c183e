"""Credit (R3, R17, R18): reminders for overdue bills, malicious-arrears suspension at every
hospital on the hub, and credit repair by payment. Every change of credit state is audited and
told (``postpay/credit/notices.py``). A bill held for an admission counts for neither (R14): its
clock stops, and a discharge makes it due 24 h later (``postpay/billing/service.py`` ``set_hold``)."""

import datetime as dt
import logging

from flask import current_app
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from postpay import pushes, queue
from postpay.billing.models import Bill, BillStatus
from postpay.clock import SHANGHAI, day_start, utcnow
from postpay.credit.models import CreditEvent, CreditRecord, Reminder
from postpay.credit.reminders import recipients
from postpay.extensions import db
from postpay.security import blind_index, new_id

log = logging.getLogger(__name__)

NOTICES = "postpay.credit.jobs.send_credit_notices"
#: Not held for an admission (R14): only such a bill's clock runs.
RUNNING = Bill.hold_reason.is_(None)


def is_suspended(patient_id):
    """True while the patient has an unrepaired malicious-arrears record (R3, R18)."""
    query = db.select(CreditRecord.id).where(CreditRecord.patient_id == patient_id, CreditRecord.repaired_at.is_(None))
    return db.session.execute(query.limit(1)).first() is not None


def record_arrears(patient_id, bill_ids, now=None):
    """Write a malicious-arrears record that suspends post-pay at every hospital (R18), audited."""
    record = CreditRecord(patient_id=patient_id, bill_ids=list(bill_ids), created_at=now or utcnow())
    db.session.add(record)
    db.session.flush()
    event = CreditEvent(
        patient_id=patient_id,
        record_id=record.id,
        kind="suspended",
        at=record.created_at,
        detail={"bill_ids": list(bill_ids)},
    )
    db.session.add(event)
    db.session.flush()
    pushes.after_commit(queue.enqueue_chunks, NOTICES, [event.id])
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
        .where(Bill.patient_id == patient_id, Bill.status == BillStatus.due, Bill.due_at < now, RUNNING)
        .limit(1)
    ).first()
    if overdue:
        return False
    events = [CreditEvent(patient_id=patient_id, record_id=r.id, kind="repaired", at=now) for r in records]
    for record in records:
        record.repaired_at = now
    db.session.add_all(events)
    db.session.flush()
    pushes.after_commit(queue.enqueue_chunks, NOTICES, [e.id for e in events])
    log.info("patient %s: credit repaired", patient_id)
    return True


def arrears_sweep(now, batch=1000):
    """R18: bills still unpaid 30 days after they became overdue suspend their patient, in batches
    (one record per patient and batch, naming the bills, audited, told). A bill held for an
    admission does not count (R14). Not in quiet hours: the record and its notice wait for the
    morning. Returns how many bills were counted."""
    if in_quiet_hours(now):
        return 0
    cutoff = now - dt.timedelta(days=current_app.config["POSTPAY_ARREARS_DAYS"])
    counted = 0
    while True:
        rows = db.session.execute(
            db.select(Bill.id, Bill.patient_id)
            .where(Bill.status == BillStatus.due, Bill.in_arrears.is_(False), Bill.due_at <= cutoff, RUNNING)
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
        events = [
            CreditEvent(
                id=new_id("ce"),
                patient_id=r.patient_id,
                record_id=r.id,
                kind="suspended",
                at=now,
                detail={"bill_ids": r.bill_ids},
            )
            for r in records
        ]
        db.session.add_all(events)
        db.session.execute(db.update(Bill).where(Bill.id.in_([r[0] for r in rows])).values(in_arrears=True))
        notices = [e.id for e in events]  # read before the commit expires them
        db.session.commit()
        queue.enqueue_chunks(NOTICES, notices)
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


def _claim_all(rows):
    """Insert the reminders not yet claimed; returns the ids of those this sweep claimed."""
    if not rows:
        return []
    insert = pg_insert if db.engine.dialect.name == "postgresql" else sqlite_insert
    statement = (
        insert(Reminder)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["bill_id", "due_at", "stage", "recipient"])
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
            .where(Reminder.sent.is_(False), Bill.status == BillStatus.due, RUNNING, Bill.due_at == Reminder.due_at)
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
    are queued again. No SMS in quiet hours: the bills wait for the morning. A bill held for an
    admission gets none (R14); a discharge restarts its stages. Returns how many reminders were queued."""
    stages = sorted(current_app.config["POSTPAY_REMINDER_DAYS"])
    queued = 0 if in_quiet_hours(now) else _requeue_unsent()
    while True:
        bills = db.session.execute(
            db.select(Bill.id, Bill.patient_id, Bill.due_at)
            .where(Bill.status == BillStatus.due, Bill.next_reminder_at <= now, RUNNING)
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
        found, rows, updates = recipients({b.patient_id for b in bills}), [], []
        for bill in bills:
            stage = max([s for s in stages if s <= (now - bill.due_at).days], default=stages[0])
            phones, users = found[bill.patient_id]
            claim = {"bill_id": bill.id, "due_at": bill.due_at, "stage": stage}
            rows += [
                claim | {"recipient": "sms:" + blind_index(p, "phone"), "phone": p, "user_id": None, "binding_id": b}
                for p, b in phones
            ]
            rows += [claim | {"recipient": "wx:" + u, "phone": None, "user_id": u, "binding_id": b} for u, b in users]
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
