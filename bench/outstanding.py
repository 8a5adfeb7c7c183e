"""Probe P1 (issue 9): ``GET /api/v1/bills/outstanding`` for a payer with 3 relatives x 3 bills x
10 items, loaded by wrk (a separate process), against a bare Flask + SQLAlchemy endpoint reading
the same rows (bench/bare.py) under the same gunicorn settings, in the same run.

    DATABASE_URL=postgresql://postgres@127.0.0.1/bench REDIS_URL=redis://127.0.0.1:6379/13 \\
        .venv/bin/python bench/outstanding.py

Rounds alternate app / bare; the figures are medians of the rounds. It empties that database
and Redis db.
"""

import datetime as dt
import os
import re
import statistics
import subprocess
import sys
import time

import requests

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from app import create_app  # noqa: E402
from bench.common import empty_schema, free_port, scratch_instance  # noqa: E402
from bench.payments import count_statements  # noqa: E402
from postpay import security  # noqa: E402
from postpay.accounts.models import Patient, User  # noqa: E402
from postpay.billing.models import Bill, BillStatus, Item  # noqa: E402
from postpay.clock import utcnow  # noqa: E402
from postpay.extensions import db  # noqa: E402
from postpay.family.models import Binding, BindingStatus  # noqa: E402
from postpay.hospitals.service import upsert_hospital  # noqa: E402
from postpay.security import new_token, token_digest  # noqa: E402
from postpay.visits.models import Visit  # noqa: E402

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "6"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "8"))
WORKERS, THREADS = os.environ.get("GUNICORN_WORKERS", "2"), os.environ.get("GUNICORN_THREADS", "8")


def patient(name, n):
    from postpay.accounts.identity import check_digit

    first17 = "32060219%02d0101%03d" % (40 + n, n)
    return Patient(
        name=name,
        id_number=first17 + check_digit(first17),
        id_number_index=security.blind_index(first17, "bench"),
        birth_date=dt.date(1940 + n, 1, 1),
        sex="F",
        insured_region="320602",
        insurance_type="employee",
        insured_status="normal",
        verified_at=utcnow(),
    )


def fill(app):
    """The payer, 3 relatives bound with ``pay``, 3 due bills each, 10 items a bill; (token, user, patient)."""
    with app.app_context():
        hospital = upsert_hospital("P1H", "压测医院", "1900008801", "s")[0]
        me = patient("付款人", 0)
        user = User(openid="bench-p1", patient=me)
        db.session.add_all([me, user])
        db.session.flush()
        for r in range(1, 4):
            elder = patient("亲属%d" % r, r)
            db.session.add(elder)
            db.session.flush()
            db.session.add(
                Binding(
                    user_id=user.id,
                    relative_patient_id=elder.id,
                    relationship="parent",
                    permissions=["pay", "view"],
                    status=BindingStatus.active,
                    consented_at=utcnow(),
                    consent_channel="miniprogram",
                )
            )
            for b in range(3):
                bill = Bill(
                    patient_id=elder.id,
                    hospital_id=hospital.id,
                    visit_day=dt.date(2026, 11, 1 + b),
                    status=BillStatus.due,
                    total_fen=10 * 1234,
                    finalised_at=utcnow(),
                    due_at=utcnow() + dt.timedelta(hours=b - 1),  # one overdue, two due later
                )
                visit = Visit(
                    hospital_id=hospital.id,
                    his_visit_no="P1-%d-%d" % (r, b),
                    patient_id=elder.id,
                    department="内科",
                    doctor="王医生",
                    registered_at=utcnow(),
                    postpay=True,
                    bill=bill,
                )
                db.session.add_all([bill, visit])
                db.session.flush()
                db.session.add_all(
                    Item(
                        visit_id=visit.id,
                        bill_id=bill.id,
                        his_item_no=str(k),
                        category="lab",
                        name="血常规检验%d" % k,
                        quantity_milli=1000,
                        unit_price_fen=1234,
                        amount_fen=1234,
                        deferred=True,
                    )
                    for k in range(10)
                )
        db.session.commit()
        token = new_token()
        app.extensions["redis"].set("auth:token:" + token_digest(token), user.id, ex=7200)
        return token, user.id, me.id


def serve(target, port, **env):
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", target],
        env=dict(os.environ, PORT=str(port), GUNICORN_WORKERS=WORKERS, GUNICORN_THREADS=THREADS, **env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return server


def wait_up(url, headers=None):
    for _ in range(200):
        try:
            if requests.get(url, headers=headers, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise RuntimeError("server at %s did not come up" % url)


def wrk(url, headers=()):
    """(requests per second, non-2xx, median ms) of one wrk round."""
    args = ["wrk", "-t2", "-c%d" % CONNECTIONS, "-d%ds" % SECONDS, "--latency"]
    for h in headers:
        args += ["-H", h]
    out = subprocess.run(args + [url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    median = re.search(r"50%\s+([\d.]+)(us|ms|s)", out)
    return (
        rps,
        int(bad.group(1)) if bad else 0,
        float(median.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[median.group(2)],
    )


def run():
    """Returns a dict of figures."""
    scratch_instance()
    app = create_app()
    empty_schema(app)
    token, user_id, patient_id = fill(app)
    auth = "Authorization: Bearer " + token
    with app.test_client() as client:
        resp = client.get("/api/v1/bills/outstanding", headers={"Authorization": "Bearer " + token})
        assert resp.status_code == 200 and len(resp.get_json()["bills"]) == 9, resp.data[:300]
        items = sum(len(b["items"]) for b in resp.get_json()["bills"])
        queries = count_statements(
            app, lambda: client.get("/api/v1/bills/outstanding", headers={"Authorization": "Bearer " + token})
        )
    app_port, bare_port = free_port(), free_port()
    servers = [
        serve("app:create_app()", app_port),
        serve("bench.bare:create_app()", bare_port, BENCH_USER_ID=user_id, BENCH_PATIENT_ID=patient_id),
    ]
    app_url = "http://127.0.0.1:%d/api/v1/bills/outstanding" % app_port
    bare_url = "http://127.0.0.1:%d/bare/outstanding" % bare_port
    try:
        wait_up(app_url, {"Authorization": "Bearer " + token})
        wait_up(bare_url)
        assert len(requests.get(bare_url, timeout=5).json()["bills"]) == 9
        rounds = {"app": [], "bare": []}
        wrk(app_url, [auth]), wrk(bare_url)  # warm both
        for _ in range(ROUNDS):
            rounds["app"].append(wrk(app_url, [auth]))
            rounds["bare"].append(wrk(bare_url))
    finally:
        for s in servers:
            s.terminate()
        for s in servers:
            s.wait(10)
    app_rps = statistics.median(r[0] for r in rounds["app"])
    bare_rps = statistics.median(r[0] for r in rounds["bare"])
    return {
        "app_rps": app_rps,
        "bare_rps": bare_rps,
        "ratio": app_rps / bare_rps,
        "app_median_ms": statistics.median(r[2] for r in rounds["app"]),
        "bare_median_ms": statistics.median(r[2] for r in rounds["bare"]),
        "non_2xx": sum(r[1] for rs in rounds.values() for r in rs),
        "queries": queries,
        "bills": 9,
        "items": items,
    }


def main():
    r = run()
    print("| probe | figure |\n|---|---|")
    print(
        "| outstanding (9 bills, %d items): app / bare req/s | %.0f / %.0f = %.2fx (medians of %d rounds, %d non-2xx) |"
        % (r["items"], r["app_rps"], r["bare_rps"], r["ratio"], ROUNDS, r["non_2xx"])
    )
    print("| outstanding: SQL queries per request | %d |" % r["queries"])


if __name__ == "__main__":
    main()
