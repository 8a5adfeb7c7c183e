"""Faults (issue 9), on real servers of the test's own (tests/servers.py), so they can be stopped
and restarted mid-run: Redis gone, PostgreSQL restarted during a burst of notifications, an RQ
worker killed in the middle of sending reminders."""

import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import pytest

from postpay.billing.models import Bill, BillStatus
from postpay.credit.models import Reminder
from postpay.extensions import db
from postpay.payments.models import LedgerEntry, Payment, PaymentStatus
from postpay.schedule import run_sweeps
from tests.conftest import bearer
from tests.servers import Postgres, Redis, pg_bin

needs_redis = pytest.mark.skipif(not shutil.which("redis-server"), reason="redis-server is not installed")
needs_pg = pytest.mark.skipif(pg_bin() is None, reason="PostgreSQL server binaries are not installed")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def own_redis():
    server = Redis().start()
    yield server
    server.stop()


@pytest.fixture
def own_postgres():
    server = Postgres().init()
    server.create_database()
    yield server
    server.stop()


def notification_for(app, client, payment):
    """Pay in the sandbox with WeChat unable to reach us; the exact notification it would send."""
    app.config["WECHATPAY_NOTIFY_URL"] = "http://127.0.0.1:9/nowhere"
    client.post("/sandbox/wechatpay/orders/%s/pay" % payment["out_trade_no"])
    saved = json.loads(app.extensions["redis"].get("sbx:pay:last:" + payment["out_trade_no"]))
    return saved["headers"], saved["body"]


@needs_redis
def test_redis_stopped_routes_answer_503_and_notify_still_records_the_payment(
    own_redis, app, client, his, family, due_bill, pay
):
    bill = due_bill(family["mum_patient"], "F1", 30000)
    payment = pay(family["son"], [bill]).get_json()["payment"]
    headers, body = notification_for(app, client, payment)

    own_redis.stop()
    for resp in (
        client.get("/api/v1/bills/outstanding", headers=bearer(family["son"])),
        client.get("/api/v1/payments/%s" % payment["id"], headers=bearer(family["son"])),
        his.open("/his/v1/visits/F1/events", json={"type": "called", "at": "2026-11-21T09:00:00+08:00"}),
    ):
        assert resp.status_code == 503, resp.data
        assert resp.get_json()["error"]["code"] == "SERVICE_UNAVAILABLE"

    answer = client.post("/wechat/pay/notify", data=body.encode(), headers=headers)
    assert answer.status_code == 200, answer.data
    with app.app_context():
        assert db.session.get(Bill, bill).status == BillStatus.paid
        assert db.session.get(Payment, payment["id"]).status == PaymentStatus.paid
        assert LedgerEntry.query.count() == 1

    own_redis.start()  # back, empty: the HIS is served again; logins are gone, so the app says 401
    assert his.event("F1", "called", at="2026-11-21T09:05:00+08:00")
    assert client.get("/api/v1/bills/outstanding", headers=bearer(family["son"])).status_code == 401


@pytest.fixture
def config(config, request):
    """The fault tests point the app at their own servers."""
    for name in ("own_redis", "own_postgres"):
        if name in request.fixturenames:
            server = request.getfixturevalue(name)
            key = "REDIS_URL" if name == "own_redis" else "SQLALCHEMY_DATABASE_URI"
            config[key] = server.url
    return config


@needs_pg
def test_postgres_restarted_during_a_burst_retries_converge_nothing_lost_or_doubled(
    own_postgres, app, client, family, due_bill, pay
):
    orders = []
    for n in range(10):
        bill = due_bill(family["mum_patient"], "PG%d" % n, 1000 + n)
        orders.append(pay(family["son"], [bill], key="fault-key-%04d" % n).get_json()["payment"]["out_trade_no"])
    restarted, statuses = threading.Event(), []

    def wechat():
        """WeChat: each user pays, then WeChat keeps delivering until the database is back."""
        sender = app.test_client()
        for no in orders:
            statuses.append(sender.post("/sandbox/wechatpay/orders/%s/pay" % no).get_json()["status"])
        while not restarted.is_set():
            for no in orders:
                statuses.append(sender.post("/sandbox/wechatpay/orders/%s/renotify" % no).get_json()["status"])

    thread = threading.Thread(target=wechat)
    thread.start()
    while not statuses:
        time.sleep(0.01)
    own_postgres.restart()
    time.sleep(0.3)
    restarted.set()
    thread.join(60)
    assert any(s != 200 for s in statuses), "the restart did not hit the burst"
    for no in orders:  # WeChat's retries
        for _ in range(50):
            if client.post("/sandbox/wechatpay/orders/%s/renotify" % no).get_json()["status"] == 200:
                break
            time.sleep(0.1)
    for no in orders:  # and late duplicates
        assert client.post("/sandbox/wechatpay/orders/%s/renotify" % no).get_json()["status"] == 200
    with app.app_context():
        assert {p.status for p in Payment.query.all()} == {PaymentStatus.paid}
        assert Bill.query.filter(Bill.status == BillStatus.paid).count() == 10
        entries = LedgerEntry.query.all()
        assert len(entries) == 10 and len({e.bill_id for e in entries}) == 10


MUM_PHONE, SON_PHONE = "13622220001", "13622220002"


def reminder_texts(client):
    texts = []
    for number in (MUM_PHONE, SON_PHONE):
        messages = client.get("/sandbox/sms/outbox?phone=" + number).get_json()["messages"]
        texts += [(number, m["text"]) for m in messages if "就诊费用" in m["text"]]
    return texts


def worker_process(app, config, tmp_path):
    """A real `flask jobs worker --burst` in its own process, configured like the test app."""
    settings = dict(config, POSTPAY_SANDBOX_URL=app.config["POSTPAY_SANDBOX_URL"], LOG_LEVEL="WARNING")
    (tmp_path / "config.py").write_text("".join("%s = %r\n" % kv for kv in settings.items() if kv[0].isupper()))
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(POSTPAY_INSTANCE_PATH=str(tmp_path), POSTPAY_SANDBOX="1")  # a file cannot turn it on
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "app", "jobs", "worker", "--burst"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@needs_redis
def test_a_worker_killed_mid_sweep_then_a_rerun_sends_no_sms_twice_R17(
    own_redis, app, client, config, tmp_path, person, bind, signed, phone, his
):
    mum_token, mum = person("o-f-mum", name="吴母", birth="19500101")
    son_token, _ = person("o-f-son", name="吴子")
    assert signed(mum_token, mum["id"], MUM_PHONE).status_code == 201
    bind(son_token, mum_token, mum, permissions=["view", "pay"])
    phone(son_token, SON_PHONE)
    for day in range(1, 16):  # 15 bills, each with its own amount, so each SMS text is its own
        no = "RQ%d" % day
        his.visit(no, mum, registered_at="2026-11-%02dT08:00:00+08:00" % day)
        his.items(no, ("1", "exam", "CT", 1, 10000 + day))
        his.event(no, "visit_finished", at="2026-11-%02dT10:00:00+08:00" % day)
    now = dt.datetime.fromisoformat("2026-11-20T10:30:00+08:00")
    with app.app_context():
        run_sweeps(now)  # claims 30 reminders (2 phones x 15 bills) and queues their sending
        total = Reminder.query.filter(Reminder.phone.isnot(None)).count()
    assert total == 30

    worker = worker_process(app, config, tmp_path)
    deadline = time.monotonic() + 240  # leaves as soon as 4 are out; a busy machine forks jobs slowly
    while len(reminder_texts(client)) < 4 and time.monotonic() < deadline and worker.poll() is None:
        time.sleep(0.005)
    worker.send_signal(signal.SIGKILL)
    worker.wait(10)
    at_kill = len(reminder_texts(client))
    assert 4 <= at_kill < total, "the worker was not killed mid-way (%d of %d sent)" % (at_kill, total)

    with app.app_context():
        run_sweeps(now)  # the re-run
    from tests.conftest import run_jobs

    run_jobs(app)
    texts = reminder_texts(client)
    assert len(texts) == len(set(texts)), "an SMS went out twice"
    # At most once: only a reminder whose SMS was in flight when the worker died may be missing.
    assert len(texts) >= total - 1
    with app.app_context():
        assert Reminder.query.filter(Reminder.sent.is_(False)).count() == 0
