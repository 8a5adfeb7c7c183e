"""The baseline of probe P1: a bare Flask + SQLAlchemy endpoint that reads the same rows as
``GET /api/v1/bills/outstanding`` (the payer's bindings, the unpaid bills of those patients
with their patient and hospital, the bills' visits and items) and answers them as JSON. No
authentication, no decryption, no masking, no ordering rules: what any Flask app must pay.

    gunicorn -c gunicorn.conf.py 'bench.bare:create_app()'    # DATABASE_URL, BENCH_USER_ID
"""

import os
from collections import defaultdict

from flask import Flask, jsonify
from sqlalchemy import bindparam, create_engine, text

import postpay.config as cfg

BINDINGS = text("SELECT relative_patient_id FROM family_bindings WHERE user_id = :u AND status = 'active'")
BILLS = text(
    "SELECT b.id, b.patient_id, p.name, b.hospital_id, h.code, h.name, b.total_fen, b.due_at, b.status "
    "FROM bills b JOIN patients p ON p.id = b.patient_id JOIN hospitals h ON h.id = b.hospital_id "
    "WHERE b.patient_id IN :p AND b.status IN ('open', 'due')"
).bindparams(bindparam("p", expanding=True))
VISITS = text("SELECT id, bill_id FROM visits WHERE bill_id IN :b").bindparams(bindparam("b", expanding=True))
ITEMS = text(
    "SELECT id, visit_id, his_item_no, name, category, quantity_milli, unit_price_fen, amount_fen, deferred "
    "FROM items WHERE visit_id IN :v"
).bindparams(bindparam("v", expanding=True))


def create_app():
    app = Flask(__name__)
    engine = create_engine(cfg.normalize_database_url(os.environ["DATABASE_URL"]), pool_size=10)
    user_id = os.environ["BENCH_USER_ID"]
    own = os.environ["BENCH_PATIENT_ID"]

    @app.get("/bare/outstanding")
    def outstanding():
        with engine.connect() as conn:
            patients = [own] + [r[0] for r in conn.execute(BINDINGS, {"u": user_id})]
            bills = conn.execute(BILLS, {"p": patients}).all()
            visits = conn.execute(VISITS, {"b": [b[0] for b in bills]}).all()
            items = conn.execute(ITEMS, {"v": [v[0] for v in visits]}).all()
        by_visit = defaultdict(list)
        for i in items:
            by_visit[i[1]].append(
                {
                    "id": i[0],
                    "his_item_no": i[2],
                    "name": i[3],
                    "category": i[4],
                    "quantity": i[5] / 1000,
                    "unit_price_fen": i[6],
                    "amount_fen": i[7],
                    "deferred": i[8],
                }
            )
        visits_of = defaultdict(list)
        for v in visits:
            visits_of[v[1]].append(v[0])
        return jsonify(
            {
                "bills": [
                    {
                        "id": b[0],
                        "patient": {"id": b[1], "name": b[2]},
                        "hospital_id": b[3],
                        "hospital": {"code": b[4], "name": b[5]},
                        "amount_fen": b[6],
                        "due_at": b[7].isoformat() if b[7] else None,
                        "status": b[8],
                        "visit_ids": visits_of[b[0]],
                        "items": [i for v in visits_of[b[0]] for i in by_visit[v]],
                    }
                    for b in bills
                ]
            }
        )

    return app
