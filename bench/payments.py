"""Payments benchmark (issue 5, issue 9 P5): query counts and latency of one payment for 1 vs
10 bills against gunicorn, and the writes a duplicate delivery costs (throughput: bench/notify.py).

    DATABASE_URL=postgresql://postgres@127.0.0.1/bench REDIS_URL=redis://127.0.0.1:6379/13 \\
        .venv/bin/python bench/payments.py

It empties that database and Redis db. Figures are medians and ratios of one run.
"""

import datetime as dt
import os
import statistics
import subprocess
import sys
import time

import requests
from sqlalchemy import event

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from app import create_app  # noqa: E402
from bench.common import (  # noqa: E402
    empty_schema,
    free_port,
    partner_transaction,
    scratch_instance,
    sub_merchants,
    wechat_openid,
)
from postpay.accounts.models import Patient, User  # noqa: E402
from postpay.billing.models import Bill, BillStatus, Item  # noqa: E402
from postpay.clock import utcnow  # noqa: E402
from postpay.extensions import db  # noqa: E402
from postpay.hospitals.service import upsert_hospital  # noqa: E402
from postpay.security import new_token, token_digest  # noqa: E402
from postpay.visits.models import Visit  # noqa: E402


def setup():
    port = free_port()
    scratch_instance(PORT=str(port), POSTPAY_SANDBOX="1")
    app = create_app()
    empty_schema(app)
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "app:create_app()"],
        env=dict(
            os.environ,
            GUNICORN_WORKERS=os.environ.get("GUNICORN_WORKERS", "2"),
            GUNICORN_THREADS=os.environ.get("GUNICORN_THREADS", "8"),
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(100):
        try:
            requests.get("http://127.0.0.1:%d/openapi.json" % port, timeout=1)
            break
        except requests.RequestException:
            time.sleep(0.1)
    return app, server, "http://127.0.0.1:%d" % port


def payer_with_bills(app, count, hospitals, tag):
    """A payer and ``count`` due bills of its own, spread over ``hospitals``."""
    from postpay.accounts.identity import check_digit

    with app.app_context():
        first17 = "3206021980%02d%02d%03d" % (1 + count % 12, 1 + len(tag), hash(tag) % 1000)
        patient = Patient(
            name="测试",
            id_number=first17 + check_digit(first17),
            id_number_index=new_token(),
            birth_date=dt.date(1980, 1, 1),
            sex="M",
            insured_region="320602",
            insurance_type="employee",
            insured_status="normal",
            verified_at=utcnow(),
        )
        user = User(openid=wechat_openid(app, "bench-" + tag), patient=patient)
        db.session.add_all([patient, user])
        db.session.flush()
        bills = []
        for n in range(count):
            hospital_id = hospitals[n % len(hospitals)][0]
            bill = Bill(
                patient_id=patient.id,
                hospital_id=hospital_id,
                visit_day=dt.date(2026, 1, 1) + dt.timedelta(n),
                status=BillStatus.due,
                total_fen=3000,
                finalised_at=utcnow(),
                due_at=utcnow() + dt.timedelta(hours=24),  # paid within the day it is due (R11)
            )
            visit = Visit(
                hospital_id=hospital_id,
                his_visit_no="%s-%d" % (tag, n),
                patient_id=patient.id,
                department="内科",
                doctor="王",
                registered_at=utcnow(),
                postpay=True,
                bill=bill,
            )
            db.session.add_all([bill, visit])
            db.session.flush()
            for k in range(3):
                db.session.add(
                    Item(
                        visit_id=visit.id,
                        bill_id=bill.id,
                        his_item_no=str(k),
                        category="lab",
                        name="检验",
                        quantity_milli=1000,
                        unit_price_fen=1000,
                        amount_fen=1000,
                        deferred=True,
                    )
                )
            bills.append(bill.id)
        db.session.commit()
        token = new_token()
        app.extensions["redis"].set("auth:token:" + token_digest(token), user.id, ex=3600)
        return token, bills


def count_statements(app, fn, writes_only=False):
    """SQL statements (or only writes) the app runs while ``fn`` runs."""
    n = {"q": 0}

    def before(conn, cursor, statement, *_):
        n["q"] += not writes_only or statement.lstrip()[:6].upper() in ("INSERT", "UPDATE", "DELETE")

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", before)
    try:
        fn()
    finally:
        event.remove(engine, "before_cursor_execute", before)
    return n["q"]


def payment_latencies(app, url, cases, runs=31):
    """Median seconds of POST /api/v1/payments and its SQL query count, for each case
    (hospitals, bill count). The cases take turns, so a drift in the machine's load weighs
    on all of them alike."""
    times, queries = {c: [] for c in cases}, {}
    client = app.test_client()
    for r in range(runs):
        for hospitals, count in cases:
            tag = "lat%d-%d-%d" % (count, len(hospitals), r)
            token, bills = payer_with_bills(app, count, hospitals, tag)
            headers = {"Authorization": "Bearer " + token, "Idempotency-Key": "bench-key-" + tag}
            if r == 0:  # in-process once, to count the queries
                queries[hospitals, count] = count_statements(
                    app, lambda b=bills, h=headers: client.post("/api/v1/payments", json={"bill_ids": b}, headers=h)
                )
                continue
            start = time.perf_counter()
            resp = requests.post(url + "/api/v1/payments", json={"bill_ids": bills}, headers=headers, timeout=30)
            times[hospitals, count].append(time.perf_counter() - start)
            assert resp.status_code == 201, resp.text
    return {c: (statistics.median(times[c]), queries[c]) for c in cases}


def duplicate_writes(app, hospitals):
    """SQL writes of the first delivery of a notification, and of 15 more deliveries of it.
    (Throughput is bench/notify.py's: wrk, not Python senders.)"""
    from wechat.sandbox.pay_notify import notification

    client = app.test_client()
    token, bills = payer_with_bills(app, 1, hospitals[:1], "dup")
    headers = {"Authorization": "Bearer " + token, "Idempotency-Key": "bench-dup-key"}
    payment = client.post("/api/v1/payments", json={"bill_ids": bills}, headers=headers).get_json()["payment"]
    with app.test_request_context():
        tx = partner_transaction(
            app, hospitals[0][1], payment["out_trade_no"], "4200000000000000000001", payment["total_fen"]
        )
        h, b = notification("TRANSACTION.SUCCESS", "支付成功", "transaction", tx)

    def deliver(times):
        return lambda: [client.post("/wechat/pay/notify", data=b.encode(), headers=h) for _ in range(times)]

    return count_statements(app, deliver(1), writes_only=True), count_statements(app, deliver(15), writes_only=True)


def one_ten_ten(app, url):
    """P5's three cases on 10 fresh hospitals: 1 bill, 10 bills at one hospital, 10 at 10 (combine);
    ((median s, queries) x 3, hospitals)."""
    with app.app_context():
        rows = [upsert_hospital("B%02d" % n, "医院%d" % n, "19000003%02d" % n, "s")[0] for n in range(10)]
        hospitals = [(h.id, h.mchid) for h in rows]
        db.session.commit()
    sub_merchants(app, [mchid for _, mchid in hospitals])
    cases = ((tuple(hospitals[:1]), 1), (tuple(hospitals[:1]), 10), (tuple(hospitals), 10))
    return tuple(payment_latencies(app, url, cases).values()), hospitals


def main():
    app, server, url = setup()
    try:
        ((one, q1), (ten, q10), (ten_c, q10c)), hospitals = one_ten_ten(app, url)
        first, writes = duplicate_writes(app, hospitals)
        print("| probe | figure |\n|---|---|")
        print("| POST /payments, 1 bill: median latency | %.1f ms (%d SQL queries) |" % (one * 1000, q1))
        print(
            "| 10 bills, one hospital: median latency | %.1f ms (%d queries), ratio %.2fx |"
            % (ten * 1000, q10, ten / one)
        )
        print(
            "| 10 bills, 10 hospitals (combine): median | %.1f ms (%d queries), ratio %.2fx |"
            % (ten_c * 1000, q10c, ten_c / one)
        )
        print("| notify: first delivery; 15 duplicates after it | %d SQL writes; %d writes |" % (first, writes))
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
