"""Reminders (R17), arrears (R18) and credit repair, driven by `jobs run-sweeps --now`."""

import threading

import pytest

from postpay.credit.models import CreditEvent, CreditRecord
from postpay.extensions import db
from postpay.schedule import run_sweeps
from tests.conftest import bearer, run_jobs

MUM_PHONE, SON_PHONE = "13611110001", "13611110002"


@pytest.fixture
def overdue(app, client, person, bind, signed, phone, his):
    """Mum signed (contract phone MUM_PHONE); her son pays for her (WeChat phone SON_PHONE).
    Her bill at NT01 was finalised 2026-11-20 10:00, so it is due 2026-11-21 10:00 (+08:00)."""
    mum_token, mum = person("o-c-mum", name="周母", birth="19500101")
    son_token, son = person("o-c-son", name="周子")
    assert signed(mum_token, mum["id"], MUM_PHONE).status_code == 201
    bind(son_token, mum_token, mum, permissions=["view", "pay"])
    phone(son_token, SON_PHONE)
    visit = his.visit("K1", mum, registered_at="2026-11-20T08:00:00+08:00")
    his.items("K1", ("1", "exam", "CT", 1, 30000))
    his.event("K1", "visit_finished", at="2026-11-20T10:00:00+08:00")
    return {"mum": mum_token, "son": son_token, "mum_patient": mum, "bill": visit["bill_id"]}


def sweep(runner, now):
    """The sweeps as of ``now``, then the jobs they queued, as the workers would run them."""
    out = runner.invoke(args=["jobs", "run-sweeps", "--now", now])
    assert out.exit_code == 0, out.output
    run_jobs(runner.app)
    return out.output


def outbox(client, phone):
    return [m["text"] for m in client.get("/sandbox/sms/outbox?phone=" + phone).get_json()["messages"]]


def test_overdue_bills_are_reminded_once_per_stage_and_recipient_R17(client, runner, overdue):
    sweep(runner, "2026-11-21T09:59:00+08:00")
    assert outbox(client, MUM_PHONE)[-1].startswith("【先诊疗后付费】您的验证码")  # only the signing code so far
    sweep(runner, "2026-11-21T10:30:00+08:00")
    for phone in (MUM_PHONE, SON_PHONE):
        texts = [t for t in outbox(client, phone) if "就诊费用" in t]
        assert len(texts) == 1 and "南通市第一人民医院" in texts[0] and "300.00元" in texts[0] and "小程序" in texts[0]
    sweep(runner, "2026-11-21T11:30:00+08:00")  # a re-run sends nothing new
    sweep(runner, "2026-11-28T10:30:00+08:00")  # day 7 of the arrears
    for phone in (MUM_PHONE, SON_PHONE):
        assert len([t for t in outbox(client, phone) if "就诊费用" in t]) == 2


def test_subscribe_messages_remind_the_patient_and_paying_relatives_once_R17(client, runner, overdue):
    for token, openid in ((overdue["son"], "o-c-son"), (overdue["mum"], "o-c-mum")):
        client.post("/sandbox/wechat/subscriptions", json={"openid": openid, "template_id": "TPL_BILL_OVERDUE"})
        client.post("/api/v1/subscriptions", json={"template_ids": ["TPL_BILL_OVERDUE"]}, headers=bearer(token))
    sweep(runner, "2026-11-21T23:30:00+08:00")  # quiet hours: the bill waits for the morning
    sweep(runner, "2026-11-22T08:30:00+08:00")
    for openid in ("o-c-son", "o-c-mum"):
        messages = client.get("/sandbox/wechat/messages?openid=" + openid).get_json()["messages"]
        assert [m["template_id"] for m in messages] == ["TPL_BILL_OVERDUE"]
        assert messages[0]["data"]["amount2"]["value"] == "300.00元"


def test_no_sms_in_quiet_hours_it_waits_for_the_morning_R17(client, runner, overdue):
    sweep(runner, "2026-11-21T22:30:00+08:00")  # overdue since 10:00, but it is night now
    assert not [t for t in outbox(client, SON_PHONE) if "就诊费用" in t]
    sweep(runner, "2026-11-22T07:59:00+08:00")
    assert not [t for t in outbox(client, SON_PHONE) if "就诊费用" in t]
    sweep(runner, "2026-11-22T08:00:00+08:00")
    assert len([t for t in outbox(client, SON_PHONE) if "就诊费用" in t]) == 1


def test_a_reminder_job_run_twice_sends_once_R17(app, client, runner, overdue):
    from postpay.credit.jobs import send_reminder
    from postpay.credit.models import Reminder

    runner.invoke(args=["jobs", "run-sweeps", "--now", "2026-11-21T10:30:00+08:00"])
    with app.app_context():
        ids = [r.id for r in Reminder.query.all()]
        for reminder_id in ids + ids:  # a retried job, or a worker that died after sending
            send_reminder(reminder_id)
    assert len([t for t in outbox(client, MUM_PHONE) if "就诊费用" in t]) == 1


def test_two_sweeps_at_once_send_each_reminder_once_R17(app, client, overdue):
    import datetime as dt

    now = dt.datetime.fromisoformat("2026-11-21T10:30:00+08:00")

    def go():
        with app.app_context():
            run_sweeps(now)

    threads = [threading.Thread(target=go) for _ in range(2)]
    [t.start() for t in threads]
    [t.join(30) for t in threads]
    run_jobs(app)
    run_jobs(app)  # a second worker over the same queue
    assert len([t for t in outbox(client, MUM_PHONE) if "就诊费用" in t]) == 1
    assert len([t for t in outbox(client, SON_PHONE) if "就诊费用" in t]) == 1


def test_thirty_days_overdue_suspends_everywhere_and_paying_repairs_R18(app, client, runner, overdue, his):
    sweep(runner, "2026-12-21T09:00:00+08:00")  # 29 days 23 hours: not yet
    eligibility = client.get("/api/v1/postpay/eligibility", headers=bearer(overdue["mum"])).get_json()
    assert "ARREARS" not in [r["code"] for r in eligibility["reasons"]]
    sweep(runner, "2026-12-21T10:00:00+08:00")
    eligibility = client.get("/api/v1/postpay/eligibility", headers=bearer(overdue["mum"])).get_json()
    assert [r["code"] for r in eligibility["reasons"]] == ["ARREARS"]
    at_another_hospital = his.at("HA01").visit("K2", overdue["mum_patient"])  # the hub shares the record
    assert at_another_hospital["postpay"] is False
    assert [r["code"] for r in at_another_hospital["reasons"]] == ["ARREARS"]
    paid = client.post(
        "/api/v1/payments",
        json={"bill_ids": [overdue["bill"]]},
        headers=bearer(overdue["son"]) | {"Idempotency-Key": "repair-key-001"},
    )
    assert paid.status_code == 201, paid.get_json()
    client.post("/sandbox/wechatpay/orders/%s/pay" % paid.get_json()["payment"]["out_trade_no"])
    eligibility = client.get("/api/v1/postpay/eligibility", headers=bearer(overdue["mum"])).get_json()
    assert eligibility["eligible"] is True
    with app.app_context():
        record = CreditRecord.query.one()
        assert record.bill_ids == [overdue["bill"]] and record.repaired_at is not None
        assert sorted(e.kind for e in CreditEvent.query) == ["repaired", "suspended"]  # the audit trail
    sweep(runner, "2026-12-22T10:00:00+08:00")  # a paid bill is never counted again
    with app.app_context():
        assert CreditRecord.query.count() == 1
        assert db.session.query(CreditEvent).count() == 2


def test_the_scheduler_queues_each_sweep_once_per_period_for_any_number_of_workers(app, redis):
    from rq import SimpleWorker

    from postpay.queue import SWEEPS, queue
    from postpay.schedule import SCHEDULE, schedule_due

    with app.app_context():
        first = schedule_due()
        second = schedule_due()  # another worker's scheduler in the same period
        assert first == [name for name, _, _ in SCHEDULE] and second == []
        q = queue(SWEEPS)
        assert len(q) == len(SCHEDULE)
        SimpleWorker([q], connection=q.connection).work(burst=True)
        assert len(q) == 0 and q.failed_job_registry.count == 0
