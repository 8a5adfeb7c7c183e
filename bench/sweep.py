"""Sweep benchmark (issue 6): the credit and payment sweeps over N bills of which D are due.

    DATABASE_URL=postgresql://postgres@127.0.0.1/bench REDIS_URL=redis://127.0.0.1:6379/13 \\
        .venv/bin/python bench/sweep.py [--bills 1000000 100000] [--due 10000]

Rows are made with server-side SQL (generate_series), then `run_sweeps(now)` is timed. Half the due
bills are 2 hours overdue (first reminder), half 31 days (day-29 reminder and arrears).
It empties that database and Redis db. The SMS gateway is the sandbox on a local port.
"""

import argparse
import datetime as dt
import os
import sys
import threading
import time

from sqlalchemy import text
from werkzeug.serving import make_server

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from app import create_app  # noqa: E402
from bench.common import empty_schema, scratch_instance  # noqa: E402
from postpay.extensions import db  # noqa: E402

NOW = dt.datetime(2026, 11, 22, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))

FILL = """
INSERT INTO hospitals (id, code, name, mchid, his_secret, pay_now_categories, excluded_kinds, sensitive_terms,
                       created_at)
VALUES ('hp_bench', 'BENCH', '基准医院', '1900000999', :secret, '[]', '[]', '[]', now());
INSERT INTO patients (id, name, id_number, id_number_index, birth_date, sex, verified_at, created_at, updated_at,
                      insured_region, insurance_type, insured_status)
SELECT 'pt_' || g, '患者', :idn, 'idx' || g, DATE '1960-01-01', 'M', now(), now(), now(), '320602', 'employee', 'normal'
FROM generate_series(1, 2000) g;
INSERT INTO contracts (id, patient_id, status, channel, commitment_version, commitment_sha256, phone,
                       signature_png, signed_at)
SELECT 'ct_' || g, 'pt_' || g, 'active', 'kiosk', '2026.1', 'x', :phone, '\\x89504e47', now()
FROM generate_series(1, 2000) g;
INSERT INTO bills (id, patient_id, hospital_id, visit_day, part, status, total_fen, created_at, in_arrears,
                   finalised_at, due_at, paid_at)
SELECT 'bl_' || g, 'pt_' || (1 + g % 2000), 'hp_bench', DATE '2020-01-01' + (g / 2000), 1 + g % 7, 'paid', 1000, now(),
       false, now() - interval '40 days', now() - interval '39 days', now() - interval '38 days'
FROM generate_series(1, :paid) g;
INSERT INTO bills (id, patient_id, hospital_id, visit_day, part, status, total_fen, created_at, in_arrears,
                   finalised_at, due_at, next_reminder_at)
SELECT 'bd_' || g, 'pt_' || (1 + g % 2000), 'hp_bench', DATE '2026-11-01', 10 + g / 2000, 'due', 2500, now(), false,
       :due_at - interval '1 day' - (g % 2) * interval '31 days', :due_at - (g % 2) * interval '31 days',
       :due_at - (g % 2) * interval '31 days'
FROM generate_series(1, :due) g;
ANALYZE;
"""


def setup():
    scratch_instance()
    app = create_app()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    app.config["POSTPAY_SANDBOX_URL"] = "http://127.0.0.1:%d/sandbox" % server.server_port
    return app


def run(app, bills, due):
    from postpay import security
    from postpay.schedule import run_sweeps

    empty_schema(app)
    with app.app_context():
        params = {
            "secret": security.encrypt("s", "his_secret"),
            "idn": security.encrypt("320602196001010011", "id_number"),
            "phone": security.encrypt("13900000000", "phone"),
            "paid": bills - due,
            "due": due,
            "due_at": NOW - dt.timedelta(hours=2),
        }
        start = time.perf_counter()
        with db.engine.begin() as conn:
            for statement in FILL.split(";"):
                if statement.strip():
                    conn.execute(text(statement), params)
        filled = time.perf_counter() - start
        start = time.perf_counter()
        results = run_sweeps(NOW)
        swept = time.perf_counter() - start
    return filled, swept, results


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bills", type=int, nargs="+", default=[1_000_000, 100_000])
    parser.add_argument("--due", type=int, default=10_000)
    args = parser.parse_args()
    app = setup()
    times = {}
    print("| bills | due | fill s | sweeps s | results |\n|---|---|---|---|---|")
    for bills in args.bills:
        filled, swept, results = run(app, bills, args.due)
        times[bills] = swept
        print("| %d | %d | %.1f | %.2f | %s |" % (bills, args.due, filled, swept, dict(results)))
    if len(times) == 2:
        big, small = max(times), min(times)
        print("\nratio %d/%d bills at equal due: %.2fx" % (big, small, times[big] / times[small]))


if __name__ == "__main__":
    main()
