"""The settlement feed never skips or repeats an entry under concurrent bookings (issue 18), on
PostgreSQL: a hospital's numbers are taken under its counter row's lock, held to the commit, so a
later number never commits before an earlier one."""

import threading
import time

import pytest

from postpay.billing.models import Bill
from postpay.extensions import db
from postpay.payments import ledger
from tests.his.conftest import feed


@pytest.fixture(autouse=True)
def postgresql_only(app):
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        pytest.skip("row locks: PostgreSQL only (SQLite serialises every write)")


def test_a_later_booking_waits_for_the_earlier_ones_commit(app, client, his, family, due_bill):
    first, second = due_bill(family["son_patient"], "SC1", 1000), due_bill(family["son_patient"], "SC2", 2000)
    booked, go, done = threading.Event(), threading.Event(), threading.Event()

    def book(bill_id, reference, before_commit):
        with app.app_context():
            bill = db.session.get(Bill, bill_id)
            ledger.mark_paid(bill, bill.total_fen, "window_cash", reference)
            before_commit()
            db.session.commit()
        if bill_id == second:
            done.set()

    early = threading.Thread(target=book, args=(first, "WSC1", lambda: (booked.set(), go.wait(30))))
    early.start()
    assert booked.wait(30)  # numbered, not committed
    late = threading.Thread(target=book, args=(second, "WSC2", lambda: None))
    late.start()
    time.sleep(1)
    assert not done.is_set()  # the second booking waits on the counter row
    assert feed(client, his)["entries"] == []  # and a reader sees neither yet
    go.set()
    early.join(30)
    late.join(30)
    assert [(e["seq"], e["bill_id"]) for e in feed(client, his)["entries"]] == [(1, first), (2, second)]


def test_a_reader_paging_during_concurrent_payments_sees_every_entry_once(app, client, his, family, due_bill, pay):
    bills = [due_bill(family["son_patient"], "SD%02d" % n, 1000 + n) for n in range(12)]
    payments = [pay(family["son"], [b], key="settle-conc-%04d" % n).get_json()["payment"] for n, b in enumerate(bills)]
    seen, finished = [], threading.Event()

    def read():
        cursor, reader = None, app.test_client()
        while len(seen) < len(bills):
            page = feed(reader, his, cursor=cursor, limit=3)
            seen.extend(page["entries"])
            cursor = page["next_cursor"]
        finished.set()

    def pays(payment):
        app.test_client().post("/sandbox/wechatpay/orders/%s/pay" % payment["out_trade_no"])

    reader = threading.Thread(target=read)
    reader.start()
    payers = [threading.Thread(target=pays, args=(p,)) for p in payments]
    [t.start() for t in payers]
    [t.join(60) for t in payers]
    assert finished.wait(60), [e["seq"] for e in seen]
    assert [e["seq"] for e in seen] == list(range(1, 13))  # in order, none skipped, none twice
    assert sorted(e["bill_id"] for e in seen) == sorted(bills)
