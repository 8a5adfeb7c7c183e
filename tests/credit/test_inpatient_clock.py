"""R14 before R18: while a bill is held for an admission its clock stops (no reminder, no arrears
day); at discharge it is due 24 h later and the reminder stages start again. A migration lifts the
suspensions that only held bills caused. Time moves through `jobs run-sweeps --now`."""

import datetime as dt
import re
from pathlib import Path

import pytest
from flask_migrate import downgrade, upgrade

from postpay.billing.models import Bill
from postpay.credit.models import CreditEvent, CreditRecord
from postpay.extensions import db
from tests.conftest import bearer
from tests.credit.test_credit import MUM_PHONE, outbox, sweep

#: The revision before the inpatient clock stopped, as its migration names it.
BEFORE = re.search(
    r"^down_revision = [\"']([0-9a-f]+)[\"']",
    next((Path(__file__).parents[2] / "migrations" / "versions").glob("c7e1d4a9b352_*.py")).read_text(),
    re.M,
).group(1)


@pytest.fixture
def admitted(app, client, person, signed, his):
    """Mum's bill at NT01 is due 2026-11-21 10:00 (+08:00); she is admitted on 2026-11-20 at 12:00."""
    mum_token, mum = person("o-i-mum", name="钱母", birth="19500101")
    assert signed(mum_token, mum["id"], MUM_PHONE).status_code == 201
    visit = his.visit("I1", mum, registered_at="2026-11-20T08:00:00+08:00")
    his.items("I1", ("1", "exam", "CT", 1, 30000))
    his.event("I1", "visit_finished", at="2026-11-20T10:00:00+08:00")
    his.event("I1", "admitted", at="2026-11-20T12:00:00+08:00")
    return {"mum": mum_token, "bill": visit["bill_id"]}


def reminders(client):
    return [t for t in outbox(client, MUM_PHONE) if "就诊费用" in t]


def reasons(client, token):
    eligibility = client.get("/api/v1/postpay/eligibility", headers=bearer(token)).get_json()
    return [r["code"] for r in eligibility["reasons"]]


def test_admitted_for_40_days_no_reminder_and_no_record_R14_R17_R18(app, client, runner, admitted):
    for now in ("2026-11-21T10:30:00+08:00", "2026-11-28T10:30:00+08:00", "2026-12-21T10:30:00+08:00"):
        sweep(runner, now)
    sweep(runner, "2026-12-30T12:30:00+08:00")  # 40 days in hospital
    assert reminders(client) == []
    assert "ARREARS" not in reasons(client, admitted["mum"])
    with app.app_context():
        assert CreditRecord.query.count() == 0
        assert db.session.get(Bill, admitted["bill"]).in_arrears is False


def test_discharged_and_unpaid_30_days_later_is_recorded_R14_R17_R18(app, client, runner, his, admitted):
    sweep(runner, "2026-12-30T12:30:00+08:00")
    his.event("I1", "discharged", at="2026-12-30T09:00:00+08:00")  # due 2026-12-31 09:00
    with app.app_context():
        assert db.session.get(Bill, admitted["bill"]).due_at.isoformat() == "2026-12-31T01:00:00+00:00"
    sweep(runner, "2026-12-31T08:59:00+08:00")
    assert reminders(client) == []
    sweep(runner, "2026-12-31T09:30:00+08:00")  # the stages start again: overdue
    assert len(reminders(client)) == 1 and "已超过24小时未结清" in reminders(client)[0]
    sweep(runner, "2027-01-07T09:30:00+08:00")  # day 7 after discharge
    assert len(reminders(client)) == 2 and "已逾期7天" in reminders(client)[1]
    sweep(runner, "2027-01-30T08:30:00+08:00")  # 29 days 23.5 hours
    assert "ARREARS" not in reasons(client, admitted["mum"])
    sweep(runner, "2027-01-30T09:00:00+08:00")
    assert reasons(client, admitted["mum"]) == ["ARREARS"]
    with app.app_context():
        assert CreditRecord.query.one().bill_ids == [admitted["bill"]]


def test_stages_sent_before_an_admission_start_again_after_discharge_R14_R17(app, client, runner, his, person, signed):
    mum_token, mum = person("o-i-mum2", name="孙母", birth="19500101")
    assert signed(mum_token, mum["id"], MUM_PHONE).status_code == 201
    his.visit("I2", mum, registered_at="2026-11-20T08:00:00+08:00")
    his.items("I2", ("1", "exam", "CT", 1, 30000))
    his.event("I2", "visit_finished", at="2026-11-20T10:00:00+08:00")
    sweep(runner, "2026-11-21T10:30:00+08:00")
    assert len(reminders(client)) == 1
    his.event("I2", "admitted", at="2026-11-22T10:00:00+08:00")
    sweep(runner, "2026-11-28T10:30:00+08:00")  # day 7 would have come: held, nothing
    assert len(reminders(client)) == 1
    his.event("I2", "discharged", at="2026-12-05T10:00:00+08:00")
    sweep(runner, "2026-12-06T10:30:00+08:00")
    assert len(reminders(client)) == 2 and "已超过24小时未结清" in reminders(client)[1]


def test_migration_lifts_suspensions_only_held_bills_caused_R14_R18(app, client, runner, his, person, signed, admitted):
    """Before the fix, a held bill counted: an inpatient was suspended. The migration lifts that
    record (with a credit event saying why) and keeps one a bill overdue outside an admission caused."""
    other_token, other = person("o-i-other", name="李父", birth="19480101")
    assert signed(other_token, other["id"], "13611110009").status_code == 201
    his.visit("I3", other, registered_at="2026-11-20T08:00:00+08:00")
    his.items("I3", ("1", "exam", "CT", 1, 20000))
    his.event("I3", "visit_finished", at="2026-11-20T10:00:00+08:00")
    with app.app_context():
        downgrade(revision=BEFORE)
        bills = {b.patient_id: b.id for b in db.session.execute(db.select(Bill.patient_id, Bill.id)).all()}
        created = dt.datetime(2026, 12, 21, 2, tzinfo=dt.timezone.utc)
        for patient_id, bill_id in bills.items():  # the tables these touch are as they were then
            db.session.add(
                CreditRecord(id="cr_" + bill_id, patient_id=patient_id, bill_ids=[bill_id], created_at=created)
            )
            db.session.get(Bill, bill_id).in_arrears = True
        db.session.commit()
        upgrade()
        held = db.session.get(CreditRecord, "cr_" + admitted["bill"])
        kept = db.session.get(CreditRecord, "cr_" + bills[other["id"]])
        assert held.repaired_at is not None and kept.repaired_at is None
        event = CreditEvent.query.one()
        assert event.record_id == held.id and event.kind == "lifted" and "住院" in event.detail["reason"]
        assert db.session.get(Bill, admitted["bill"]).in_arrears is False
    assert "ARREARS" not in reasons(client, admitted["mum"])
    assert reasons(client, other_token) == ["ARREARS"]
