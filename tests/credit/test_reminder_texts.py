"""Reminders that say what they mean (R17, R18): a text per stage naming the hospital, the visit
day and the amount; a relative's names the patient, masked, and the relationship; notices on
suspension and on repair, by SMS and subscribe message, each once; `jobs run-sweeps` delivers
without a real Redis."""

import datetime as dt
import re

import pytest

from postpay.credit.jobs import send_credit_notices
from postpay.credit.models import CreditEvent
from postpay.credit.service import reminder_sweep
from tests.conftest import bearer, count_statements, make_id_number, run_jobs
from tests.credit.test_credit import outbox, sweep

MUM_PHONE, SON_PHONE = "13611112001", "13611112002"
HOSPITAL, DAY, AMOUNT = "南通市第一人民医院", "11月20日", "300.00元"


@pytest.fixture
def family(app, client, person, bind, signed, phone, his):
    """朱秀英 (a woman: even 17th digit) signed; her son pays for her. Her bill is due 2026-11-21 10:00."""
    mum_token, mum = person("o-t-mum", name="朱秀英", id_number=make_id_number(birth="19500101", seq=2))
    son_token, _ = person("o-t-son", name="周子")
    assert signed(mum_token, mum["id"], MUM_PHONE).status_code == 201
    bind(son_token, mum_token, mum, permissions=["view", "pay"], relationship="parent")
    phone(son_token, SON_PHONE)
    visit = his.visit("T1", mum, registered_at="2026-11-20T08:00:00+08:00")
    his.items("T1", ("1", "exam", "CT", 1, 30000))
    his.event("T1", "visit_finished", at="2026-11-20T10:00:00+08:00")
    return {"mum": mum_token, "son": son_token, "bill": visit["bill_id"], "mum_patient": mum}


def texts(client, phone, word="就诊费用"):
    return [t for t in outbox(client, phone) if word in t]


def test_each_stage_has_its_own_text_naming_hospital_day_and_amount_R17(client, runner, family):
    stages = [
        ("2026-11-21T10:30:00+08:00", "已超过24小时未结清"),
        ("2026-11-28T10:30:00+08:00", "已逾期7天未缴"),
        ("2026-12-11T10:30:00+08:00", "已逾期20天未缴"),
        ("2026-12-20T10:30:00+08:00", "明日起暂停先诊疗后付费，并记入信用档案"),
    ]
    for n, (now, words) in enumerate(stages, 1):
        sweep(runner, now)
        mine, sons = texts(client, MUM_PHONE), texts(client, SON_PHONE)
        assert len(mine) == len(sons) == n
        for text in (mine[-1], sons[-1]):
            assert words in text and HOSPITAL in text and DAY in text and AMOUNT in text
        assert mine[-1].startswith("【先诊疗后付费】您于11月20日")
        assert sons[-1].startswith("【先诊疗后付费】您的母亲 朱*英于11月20日")
        assert "朱秀英" not in sons[-1]
    assert "逾期满30天将暂停" in texts(client, SON_PHONE)[2]
    metrics = client.get("/metrics").get_data(as_text=True)  # two SMS per stage: the patient's and her son's
    for stage in (0, 7, 20, 29):
        assert 'postpay_reminders_sent_total{channel="sms",stage="%d"} 2.0' % stage in metrics


def test_a_relative_s_overdue_message_names_the_day_R17(client, runner, family):
    client.post("/sandbox/wechat/subscriptions", json={"openid": "o-t-son", "template_id": "TPL_BILL_OVERDUE"})
    client.post("/api/v1/subscriptions", json={"template_ids": ["TPL_BILL_OVERDUE"]}, headers=bearer(family["son"]))
    sweep(runner, "2026-12-20T10:30:00+08:00")  # straight to the last stage
    messages = client.get("/sandbox/wechat/messages?openid=o-t-son").get_json()["messages"]
    assert [m["data"]["thing3"]["value"] for m in messages] == ["明日起暂停先诊疗后付费，并记入信用档案"]


def subscribe_credit(client, family, times):
    for _ in range(times):
        client.post("/sandbox/wechat/subscriptions", json={"openid": "o-t-son", "template_id": "TPL_CREDIT_STATUS"})
        client.post(
            "/api/v1/subscriptions", json={"template_ids": ["TPL_CREDIT_STATUS"]}, headers=bearer(family["son"])
        )


def test_suspension_and_repair_are_told_by_sms_and_message_R18(app, client, runner, family):
    subscribe_credit(client, family, 2)
    sweep(runner, "2026-12-21T10:00:00+08:00")
    for phone, whom in ((MUM_PHONE, "您在"), (SON_PHONE, "您的母亲 朱*英在")):
        [notice] = texts(client, phone, "先诊疗后付费已在所有接入医院暂停")
        assert whom in notice and HOSPITAL in notice and AMOUNT in notice and "信用档案" in notice
    paid = client.post(
        "/api/v1/payments",
        json={"bill_ids": [family["bill"]]},
        headers=bearer(family["son"]) | {"Idempotency-Key": "repair-notice-01"},
    )
    assert paid.status_code == 201, paid.get_json()
    client.post("/sandbox/wechatpay/orders/%s/pay" % paid.get_json()["payment"]["out_trade_no"])
    run_jobs(app)
    for phone, whom in ((MUM_PHONE, "您的逾期欠费"), (SON_PHONE, "您的母亲 朱*英的逾期欠费")):
        [notice] = texts(client, phone, "先诊疗后付费已恢复")
        assert notice.startswith("【先诊疗后付费】" + whom)
    messages = client.get("/sandbox/wechat/messages?openid=o-t-son").get_json()["messages"]
    assert [m["template_id"] for m in messages] == ["TPL_CREDIT_STATUS"] * 2
    assert [m["data"]["phrase1"]["value"] for m in messages] == ["已暂停", "已恢复"]
    assert messages[0]["data"]["thing2"]["value"] == "朱*英 逾期满30天，已记入信用档案"


def test_each_credit_notice_goes_out_once_with_many_workers_R18(app, client, runner, family):
    sweep(runner, "2026-12-21T10:00:00+08:00")
    with app.app_context():
        ids = [e.id for e in CreditEvent.query.all()]
        send_credit_notices(ids)  # a second worker, or a retried job
        send_credit_notices(ids)
    assert len(texts(client, SON_PHONE, "先诊疗后付费已在所有接入医院暂停")) == 1


def test_no_suspension_nor_notice_in_quiet_hours_it_waits_for_the_morning_R17_R18(client, runner, family):
    sweep(runner, "2026-12-21T22:00:00+08:00")  # 30 days and 12 hours, but it is night
    assert texts(client, SON_PHONE, "暂停") == []
    eligibility = client.get("/api/v1/postpay/eligibility", headers=bearer(family["mum"])).get_json()
    assert eligibility["eligible"] is True
    sweep(runner, "2026-12-22T08:00:00+08:00")
    assert len(texts(client, SON_PHONE, "先诊疗后付费已在所有接入医院暂停")) == 1


def test_run_sweeps_without_redis_delivers_before_it_exits_R17(config, client, runner, family):
    """`make run` (no REDIS_URL): the command's in-process Redis has no worker, so it runs the jobs itself."""
    if config["REDIS_URL"]:
        pytest.skip("a real Redis: the command only queues (the next test)")
    out = runner.invoke(args=["jobs", "run-sweeps", "--now", "2026-11-21T10:30:00+08:00"])
    assert out.exit_code == 0, out.output
    assert "reminders: 4" in out.output
    ran = re.search(r"jobs run here \(no REDIS_URL\): (\d+), failed: (\d+)", out.output)
    assert int(ran.group(1)) >= 1 and ran.group(2) == "0"
    assert len(texts(client, MUM_PHONE)) == len(texts(client, SON_PHONE)) == 1


def test_run_sweeps_with_redis_only_queues_for_the_workers_R17(app, config, client, runner, family):
    if not config["REDIS_URL"]:
        pytest.skip("no real Redis: the command runs its jobs itself (the test above)")
    out = runner.invoke(args=["jobs", "run-sweeps", "--now", "2026-11-21T10:30:00+08:00"])
    assert out.exit_code == 0 and "jobs run here" not in out.output
    assert texts(client, SON_PHONE) == []
    run_jobs(app)
    assert len(texts(client, SON_PHONE)) == 1


def test_the_reminder_sweep_reads_recipients_in_constant_queries_R17(app, client, his, family):
    """A sweep over one overdue bill, then one over four more: the same number of statements (the
    recipients of a whole batch are read at once)."""
    now = dt.datetime.fromisoformat("2026-11-28T10:30:00+08:00")

    def swept():
        with app.app_context():
            reminder_sweep(now)

    one = count_statements(app, swept)
    for day in range(21, 25):
        no = "Q%d" % day
        his.visit(no, family["mum_patient"], registered_at="2026-11-%02dT08:00:00+08:00" % day)
        his.items(no, ("1", "exam", "CT", 1, 100 * day))
        his.event(no, "visit_finished", at="2026-11-%02dT10:00:00+08:00" % day)
    four = count_statements(app, swept)
    assert one == four == 8
