"""Notify throughput (issue 5, issue 9 P2): WeChat Pay success notifications, each verified,
decrypted and applied to its own pending payment, sent by wrk (a C load generator, so the
sender does not eat the 2 cores it measures) against gunicorn on PostgreSQL + Redis.

    DATABASE_URL=postgresql://postgres@127.0.0.1/bench REDIS_URL=redis://127.0.0.1:6379/13 \\
        .venv/bin/python bench/notify.py

In the same run, the same wrk and gunicorn send a notification with a bad signature
(refused before any database work): the floor of the HTTP stack, for a ratio.
It empties that database and Redis db.
"""

import datetime as dt
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.common import partner_transaction  # noqa: E402
from bench.payments import setup  # noqa: E402
from postpay.accounts.models import Patient, User  # noqa: E402
from postpay.billing.models import Bill, BillStatus  # noqa: E402
from postpay.clock import utcnow  # noqa: E402
from postpay.extensions import db  # noqa: E402
from postpay.hospitals.service import upsert_hospital  # noqa: E402
from postpay.payments.models import Payment, PaymentBill, PaymentOrder, PaymentStatus  # noqa: E402
from postpay.security import new_id, new_token  # noqa: E402

N = int(os.environ.get("BENCH_NOTIFICATIONS", "5000"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "8"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "16"))

LUA = """
local data = dofile(%(data)r)
local count, step = 0, %(threads)d
function setup(thread) thread:set("idx", count); count = count + 1 end
function request()
  local r = data[idx %% #data + 1]
  idx = idx + step
  return wrk.format("POST", "/wechat/pay/notify", r[1], r[2])
end
"""


def pending_payments(app, n, mchid, hospital_id):
    """``n`` pending single-order payments of one bill each, written in bulk; their out_trade_nos."""
    now = utcnow()
    patient = Patient(
        name="压测",
        id_number="320602198001010011",
        id_number_index=new_token(),
        birth_date=dt.date(1980, 1, 1),
        sex="M",
        insured_region="320602",
        insurance_type="employee",
        insured_status="normal",
        verified_at=now,
    )
    user = User(openid="bench-notify", patient=patient)
    db.session.add_all([patient, user])
    db.session.flush()
    bills, payments, orders, shares, numbers = [], [], [], [], []
    for k in range(n):
        bill_id, pay_id, order_id, no = new_id("bl"), new_id("py"), new_id("po"), "BN%012d" % k
        bills.append(
            dict(
                id=bill_id,
                patient_id=patient.id,
                hospital_id=hospital_id,
                visit_day=dt.date(2000, 1, 1) + dt.timedelta(k),
                part=1,
                status=BillStatus.due,
                total_fen=3000,
                finalised_at=now,
                due_at=now + dt.timedelta(hours=24),  # paid within the day it is due (R11)
                in_arrears=False,
                created_at=now,
            )
        )
        payments.append(
            dict(
                id=pay_id,
                payer_user_id=user.id,
                idempotency_key="bench-%d" % k,
                request_digest="-",
                status=PaymentStatus.pending,
                total_fen=3000,
                out_trade_no=no,
                combined=False,
                order_request={},
                expires_at=now + dt.timedelta(minutes=30),
                created_at=now,
            )
        )
        orders.append(
            dict(id=order_id, payment_id=pay_id, hospital_id=hospital_id, mchid=mchid, out_trade_no=no, amount_fen=3000)
        )
        shares.append(dict(payment_id=pay_id, bill_id=bill_id, order_id=order_id, amount_fen=3000, live=True))
        numbers.append(no)
    for model, rows in ((Bill, bills), (Payment, payments), (PaymentOrder, orders), (PaymentBill, shares)):
        db.session.execute(db.insert(model), rows)
    db.session.commit()
    return numbers


def deliveries(app, numbers, mchid):
    from wechat.sandbox.pay_notify import notification

    out = []
    with app.test_request_context():
        for k, no in enumerate(numbers):
            tx = partner_transaction(app, mchid, no, "4200%018d" % k, 3000)
            out.append(notification("TRANSACTION.SUCCESS", "支付成功", "transaction", tx))
    return out


def lua_table(items):
    def headers(h):
        return "{%s}" % ", ".join("[%r] = %r" % (k, v) for k, v in h.items() if k != "Content-Length")

    return "return {\n%s\n}\n" % ",\n".join("{%s, [==[%s]==]}" % (headers(h), b) for h, b in items)


def wrk(url, items, folder, name, threads=2):
    """Run wrk over ``items`` (headers, body); returns (requests, seconds, non-2xx, median ms)."""
    data = os.path.join(folder, name + ".lua-data")
    with open(data, "w", encoding="utf-8") as f:
        f.write(lua_table(items))
    script = os.path.join(folder, name + ".lua")
    with open(script, "w") as f:
        f.write(LUA % {"data": data, "threads": threads})
    out = subprocess.run(
        ["wrk", "-t%d" % threads, "-c%d" % CONNECTIONS, "-d%ds" % SECONDS, "--latency", "-s", script, url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    done = re.search(r"(\d+) requests in ([\d.]+)(m?s)", out)
    seconds = float(done.group(2)) / (1000 if done.group(3) == "ms" else 1)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    median = re.search(r"50%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 0.001, "ms": 1, "s": 1000}[median.group(2)]
    return int(done.group(1)), seconds, int(bad.group(1)) if bad else 0, float(median.group(1)) * scale


def run():
    """Returns a dict of figures."""
    if not shutil.which("wrk"):
        sys.exit("wrk is missing: apt-get install wrk")
    app, server, url = setup()
    folder = tempfile.mkdtemp(prefix="bench-notify-")
    try:
        with app.app_context():
            hospital = upsert_hospital("BN1", "压测医院", "1900009901", "s")[0]
            db.session.commit()
            numbers = pending_payments(app, N, hospital.mchid, hospital.id)
        items = deliveries(app, numbers, "1900009901")
        forged = [(dict(h, **{"Wechatpay-Signature": h["Wechatpay-Signature"][::-1]}), b) for h, b in items[:50]]
        f_requests, f_seconds, f_bad, f_median = wrk(url, forged, folder, "forged")
        requests_, seconds, bad, median = wrk(url, items, folder, "notify")
        server.terminate()  # let the requests still in flight finish before counting
        server.wait(10)
        with app.app_context():
            applied = db.session.execute(
                db.select(db.func.count()).select_from(Bill).where(Bill.status == BillStatus.paid)
            ).scalar_one()
            ledger_rows = db.session.execute(db.text("SELECT count(*) FROM ledger_entries")).scalar_one()
            twice = db.session.execute(
                db.text(
                    "SELECT count(*) FROM (SELECT bill_id FROM ledger_entries GROUP BY bill_id HAVING count(*) > 1) t"
                )
            ).scalar_one()
        return {
            "applied_per_s": applied / seconds,
            "applied": applied,
            "requests": requests_,
            "non_2xx": bad,
            "median_ms": median,
            "ledger_rows": ledger_rows,
            "paid_twice": twice,
            "floor_per_s": f_requests / f_seconds,
            "floor_refused": f_bad,
        }
    finally:
        if server.poll() is None:
            server.terminate()
            server.wait(10)
        shutil.rmtree(folder, ignore_errors=True)


def main():
    r = run()
    print("| probe | figure |\n|---|---|")
    print(
        "| notify: verified + applied per second (wrk, %d connections, %d s) | %.0f/s (%d applied, %d requests, "
        "%d non-2xx, median %.1f ms) |"
        % (CONNECTIONS, SECONDS, r["applied_per_s"], r["applied"], r["requests"], r["non_2xx"], r["median_ms"])
    )
    print("| ledger rows after the run; bills booked twice | %d; %d |" % (r["ledger_rows"], r["paid_twice"]))
    print(
        "| floor: bad signature refused, same stack | %.0f/s (%d refused); applied/floor %.2f |"
        % (r["floor_per_s"], r["floor_refused"], r["applied_per_s"] / r["floor_per_s"])
    )


if __name__ == "__main__":
    main()
