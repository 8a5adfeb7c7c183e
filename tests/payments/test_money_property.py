"""Property: over random sequences of pay, notify, duplicate notify, void and window payment,
every bill keeps exactly its final total (paid - refunded = total) and is never paid twice."""

import datetime as dt
import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from postpay.billing.models import Bill, BillStatus, Item
from postpay.extensions import db
from postpay.payments import ledger, sweeps
from tests.conftest import bearer

OPS = ["pay_a", "pay_b", "pay_ab", "notify", "dup", "void_a", "void_b", "window_a", "window_b", "close"]
counter = itertools.count()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(st.sampled_from(OPS), min_size=1, max_size=8))
def test_paid_minus_refunded_is_the_final_total(app, client, family, his, ops):
    run = next(counter)
    bills = {}
    for name in ("a", "b"):
        no = "PR%d%s" % (run, name)
        visit = his.visit(no, family["mum_patient"], registered_at="2026-11-21T08:00:00+08:00")
        his.items(no, ("1", "exam", "CT", 1, 30000), ("2", "lab", "血常规", 1, 2000))
        his.event(no, "visit_finished", at="2026-11-21T10:00:00+08:00")
        bills[name] = (no, visit["bill_id"])
    payments, voided, keys = [], set(), itertools.count()
    for op in ops:
        if op.startswith("pay_"):
            ids = [bills[n][1] for n in op[4:]]
            resp = client.post(
                "/api/v1/payments",
                json={"bill_ids": ids},
                headers=bearer(family["son"]) | {"Idempotency-Key": "prop-%d-%d" % (run, next(keys))},
            )
            if resp.status_code == 201:
                payments.append(resp.get_json()["payment"]["out_trade_no"])
        elif op == "notify" and payments:
            client.post("/sandbox/wechatpay/orders/%s/pay" % payments[-1])
        elif op == "dup" and payments:
            client.post("/sandbox/wechatpay/orders/%s/renotify" % payments[-1])
        elif op.startswith("void_"):
            no = bills[op[-1]][0]
            item_no = "1" if (no, "1") not in voided else "2"
            if (no, item_no) not in voided:
                his.open("/his/v1/visits/%s/items/%s/void" % (no, item_no), json={"reason": "未做"})
                voided.add((no, item_no))
        elif op.startswith("window_"):
            with app.app_context():
                bill = db.session.get(Bill, bills[op[-1]][1])
                if bill.status == BillStatus.due:  # the window sees a paid bill and takes nothing
                    ledger.mark_paid(bill, bill.total_fen, "window_cash", "receipt-%d-%s" % (run, op))
                    db.session.commit()
        elif op == "close":
            with app.app_context():
                sweeps.close_expired(dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=31))
    with app.app_context():
        for _, bill_id in bills.values():
            bill = db.session.get(Bill, bill_id)
            live_total = sum(i.amount_fen for i in Item.query.filter_by(bill_id=bill_id, voided_at=None))
            assert bill.total_fen == live_total
            kept = ledger.balance(bill_id)
            if bill.status == BillStatus.paid:
                assert kept == bill.total_fen, (ops, kept, bill.total_fen)
            else:
                assert kept == 0, (ops, bill.status, kept)
