"""Paying at the kiosk (R11, R13 刷脸付): the session patient's due bills at the kiosk's hospital,
paid with the payment or face code scanned there (micropay, reversed when unresolved) or with a
native QR code; the same reserve and ledger as every other channel."""

import datetime as dt
import threading

import pytest

from postpay.billing.models import Bill
from postpay.extensions import db
from postpay.payments.models import LedgerEntry, MicropayAttempt, Payment
from tests.conftest import bearer, count_statements
from tests.console.conftest import flash

CST = dt.timezone(dt.timedelta(hours=8))


@pytest.fixture
def fast(app):
    app.config["POSTPAY_MICROPAY_POLL_SECONDS"] = 0.02
    app.config["POSTPAY_MICROPAY_RESOLVE_SECONDS"] = 0.3
    return app


@pytest.fixture
def patient(person, signed):
    """A signed patient: ``(patient json with id_number_plain)``."""
    token, found = person("o-k-pay", name="陈阿婆", birth="19460203")
    assert signed(token, found["id"], "13655550101").status_code == 201
    return found | {"token": token}


def open_session(client, kiosk, patient):
    """The patient identifies at the kiosk with the e-voucher (R8): the session token."""
    person = {
        "name": patient["name"],
        "id_number": patient["id_number_plain"],
        "insured_region": "320602",
        "insurance_type": "employee",
        "insured_status": "normal",
    }
    code = client.post("/sandbox/medins/ecodes", json=person).get_json()["ecode"]
    opened = kiosk.open("/kiosk/v1/sessions", json={"ecode": code})
    assert opened.status_code == 201, opened.get_json()
    return opened.get_json()["session"]


def due_bill(his, patient, no, fen, day="2026-11-21", hospital="NT01"):
    """A finished visit's due bill (overdue: its day is past) through the HIS; its id."""
    caller = his.at(hospital)
    visit = caller.visit(no, patient, registered_at="%sT08:00:00+08:00" % day)
    caller.items(no, (no + "-1", "exam", "检查", 1, fen))
    caller.event(no, "visit_finished", at="%sT10:00:00+08:00" % day)
    return visit["bill_id"]


def code(client, **kind):
    return client.post("/sandbox/wechatpay/payment-codes", json=kind).get_json()["auth_code"]


def pay(kiosk, session, bill_ids, **how):
    return kiosk.open("/kiosk/v1/payments", json={"session": session, "bill_ids": bill_ids} | how)


def poll(kiosk, session, payment_id):
    return kiosk.open("/kiosk/v1/payments/%s?session=%s" % (payment_id, session), method="GET")


def booked(app, bill_ids):
    with app.app_context():
        return sorted(
            (e.bill_id, e.channel, e.amount_fen) for e in LedgerEntry.query.filter(LedgerEntry.bill_id.in_(bill_ids))
        )


def statuses(app, bill_ids):
    with app.app_context():
        return [db.session.get(Bill, b).status.value for b in bill_ids]


def test_the_kiosk_lists_the_patients_due_bills_here_oldest_first_in_constant_queries_R11(
    app, client, kiosk, his, patient
):
    newer = due_bill(his, patient, "K-2", 3000, day="2026-11-22")
    older = due_bill(his, patient, "K-1", 2000, day="2026-11-20")
    due_bill(his, patient, "K-HA", 5000, hospital="HA01")  # another hospital's: not this kiosk's to take
    session = open_session(client, kiosk, patient)
    path = "/kiosk/v1/bills?session=%s" % session
    listed = kiosk.open(path, method="GET")
    assert listed.status_code == 200, listed.get_json()
    bills = listed.get_json()["bills"]
    assert [b["id"] for b in bills] == [older, newer]
    assert bills[0]["amount_fen"] == 2000 and bills[0]["overdue"] is True and bills[0]["held"] is False
    assert [i["name"] for i in bills[0]["items"]] == ["检查"]
    few = count_statements(app, lambda: kiosk.open(path, method="GET"))
    for n in range(3, 9):
        due_bill(his, patient, "K-%d" % n, 1000 + n, day="2026-11-%02d" % n)
    many = count_statements(app, lambda: kiosk.open(path, method="GET"))
    assert len(kiosk.open(path, method="GET").get_json()["bills"]) == 8
    assert few == many == 6, (few, many)  # the device, the patient, its hospital; bills, items, held


def test_pay_two_bills_with_the_payment_code_scanned_at_the_kiosk_R13(app, client, kiosk, his, patient):
    ids = [due_bill(his, patient, "K-10", 2000), due_bill(his, patient, "K-11", 3050, day="2026-11-22")]
    session = open_session(client, kiosk, patient)
    paid = pay(kiosk, session, ids, auth_code=code(client))
    assert paid.status_code == 201, paid.get_json()
    payment = paid.get_json()["payment"]
    assert (payment["method"], payment["status"], payment["total_fen"]) == ("code", "paid", 5050)
    assert statuses(app, ids) == ["paid", "paid"]
    assert booked(app, ids) == sorted([(ids[0], "micropay", 2000), (ids[1], "micropay", 3050)])
    with app.app_context():
        attempt = MicropayAttempt.query.one()
        assert attempt.payment_id == payment["id"] and attempt.bill_id is None and attempt.status.value == "paid"
    assert poll(kiosk, session, payment["id"]).get_json()["payment"]["status"] == "paid"
    assert kiosk.open("/kiosk/v1/bills?session=%s" % session, method="GET").get_json()["bills"] == []
    seen = client.get("/api/v1/bills/%s" % ids[0], headers=bearer(patient["token"])).get_json()["bill"]
    assert [(p["id"], p["channel"], p["amount_fen"]) for p in seen["payments"]] == [(payment["id"], "micropay", 2000)]


@pytest.mark.parametrize("kind", [{"never_confirm": True}, {"system_error": True}], ids=["userpaying", "systemerror"])
def test_an_unresolved_code_is_reversed_and_frees_the_bills_R13(fast, client, kiosk, his, patient, kind):
    bill = due_bill(his, patient, "K-20", 2000)
    session = open_session(client, kiosk, patient)
    failed = pay(kiosk, session, [bill], auth_code=code(client, **kind))
    assert failed.status_code == 422 and failed.get_json()["error"]["code"] == "MICROPAY_REVERSED"
    assert "已撤销" in failed.get_json()["error"]["message"]
    assert booked(fast, [bill]) == [] and statuses(fast, [bill]) == ["due"]
    with fast.app_context():
        assert MicropayAttempt.query.one().status.value == "reversed"
        assert Payment.query.one().status.value == "closed"
    again = pay(kiosk, session, [bill], auth_code=code(client))  # the bill is free: a new code pays it
    assert again.status_code == 201 and again.get_json()["payment"]["status"] == "paid"


def test_a_refused_code_takes_nothing_and_frees_the_bills_R13(app, client, kiosk, his, patient):
    bill = due_bill(his, patient, "K-21", 2000)
    session = open_session(client, kiosk, patient)
    refused = pay(kiosk, session, [bill], auth_code=code(client, balance_fen=100))
    assert refused.status_code == 422 and refused.get_json()["error"]["code"] == "MICROPAY_REFUSED"
    assert booked(app, [bill]) == [] and statuses(app, [bill]) == ["due"]
    bad = pay(kiosk, session, [bill], auth_code="123")
    assert bad.status_code == 422 and bad.get_json()["error"]["code"] == "INVALID_AUTH_CODE"


def test_an_unknown_code_holds_the_bills_until_staff_settle_it_once_R13(fast, client, kiosk, his, patient, staff):
    bill = due_bill(his, patient, "K-22", 2000)
    session = open_session(client, kiosk, patient)
    unknown = pay(kiosk, session, [bill], auth_code=code(client, never_confirm=True, reverse_failures=3))
    assert unknown.status_code == 409 and unknown.get_json()["error"]["code"] == "MICROPAY_UNKNOWN"
    assert "请勿重复付款" in unknown.get_json()["error"]["message"]
    held = pay(kiosk, session, [bill], method="qr")
    assert held.status_code == 409 and held.get_json()["error"]["code"] == "BILL_NOT_PAYABLE"
    with fast.app_context():
        attempt = MicropayAttempt.query.one()
        attempt_id, out_trade_no = attempt.id, attempt.out_trade_no
    clerk = staff("kp1")
    assert "结果未明" in flash(clerk, clerk.post("/console/bills/%s/payments" % bill, data={"mode": "cash"}))
    assert out_trade_no in clerk.get("/console/patients/%s" % patient["id"]).text
    assert client.post("/sandbox/wechatpay/micropay/%s/confirm" % out_trade_no).status_code == 200
    flash(clerk, clerk.post("/console/micropay/%s/settle" % attempt_id))
    assert booked(fast, [bill]) == [(bill, "micropay", 2000)] and statuses(fast, [bill]) == ["paid"]
    with fast.app_context():
        assert Payment.query.one().status.value == "paid"
    again = clerk.post("/console/micropay/%s/settle" % attempt_id)
    assert "已处理" in flash(clerk, again) and len(booked(fast, [bill])) == 1


def test_pay_by_qr_code_scanned_and_paid_then_polled_R11_R13(app, client, kiosk, his, patient):
    ids = [due_bill(his, patient, "K-30", 4200)]
    session = open_session(client, kiosk, patient)
    placed = pay(kiosk, session, ids, method="qr")
    assert placed.status_code == 201, placed.get_json()
    payment = placed.get_json()["payment"]
    assert payment["method"] == "qr" and payment["status"] == "pending"
    assert payment["code_url"].startswith("weixin://wxpay/bizpayurl?pr=")
    listed = kiosk.open("/kiosk/v1/bills?session=%s" % session, method="GET").get_json()["bills"]
    assert listed[0]["held"] is True
    scanned = client.post("/sandbox/wechatpay/native/scan", json={"code_url": payment["code_url"]}).get_json()
    assert scanned["delivered"] is True and scanned["status"] == 200
    polled = poll(kiosk, session, payment["id"]).get_json()["payment"]
    assert polled["status"] == "paid" and polled["paid_at"] and polled["code_url"] is None
    assert booked(app, ids) == [(ids[0], "wechat", 4200)] and statuses(app, ids) == ["paid"]
    # the same notification again (WeChat retries) books nothing twice
    assert (
        client.post("/sandbox/wechatpay/orders/%s/renotify" % _out_trade_no(app, payment["id"])).get_json()["status"]
        == 200
    )
    assert booked(app, ids) == [(ids[0], "wechat", 4200)]


def _out_trade_no(app, payment_id):
    with app.app_context():
        return db.session.get(Payment, payment_id).out_trade_no


def test_a_qr_notification_with_another_amount_books_nothing_R11(app, client, kiosk, his, patient):
    ids = [due_bill(his, patient, "K-31", 4200)]
    session = open_session(client, kiosk, patient)
    payment = pay(kiosk, session, ids, method="qr").get_json()["payment"]
    tampered = client.post(
        "/sandbox/wechatpay/native/scan", json={"code_url": payment["code_url"], "tamper": {"amount": 1}}
    ).get_json()
    assert tampered["status"] == 200  # taken, not applied: an alert went out
    assert booked(app, ids) == [] and statuses(app, ids) == ["due"]
    with app.app_context():
        assert db.session.get(Payment, payment["id"]).status.value == "pending"


def test_bills_held_by_another_payment_are_not_payable_R11(app, client, kiosk, his, patient):
    ids = [due_bill(his, patient, "K-40", 2000), due_bill(his, patient, "K-41", 2000, day="2026-11-22")]
    session = open_session(client, kiosk, patient)
    assert pay(kiosk, session, ids[:1], method="qr").status_code == 201
    taken = pay(kiosk, session, ids, auth_code=code(client))
    assert taken.status_code == 409 and taken.get_json()["error"]["code"] == "BILL_NOT_PAYABLE"
    reasons = {b["id"]: b["reason"] for b in taken.get_json()["error"]["details"]["bills"]}
    assert reasons == {ids[0]: "PENDING_PAYMENT"}
    with app.app_context():
        assert MicropayAttempt.query.count() == 0  # refused before WeChat was asked
    assert pay(kiosk, session, ids[1:], auth_code=code(client)).status_code == 201


def test_another_patients_bills_and_payments_are_not_found_at_the_kiosk_R8_R11(
    app, client, kiosk, his, patient, person, signed
):
    token, other = person("o-k-other", name="李大爷", birth="19500101")
    assert signed(token, other["id"], "13655550102").status_code == 201
    theirs = due_bill(his, other, "K-50", 2000)
    mine = due_bill(his, patient, "K-51", 2000)
    session = open_session(client, kiosk, patient)
    for how in ({"method": "qr"}, {"auth_code": code(client)}):
        resp = pay(kiosk, session, [mine, theirs], **how)
        assert resp.status_code == 404 and resp.get_json()["error"]["code"] == "NOT_FOUND", resp.get_json()
    with app.app_context():
        assert Payment.query.count() == 0
    payment = pay(kiosk, session, [mine], method="qr").get_json()["payment"]
    assert poll(kiosk, session, payment["id"]).status_code == 200
    other_session = open_session(client, kiosk, other)
    assert poll(kiosk, other_session, payment["id"]).status_code == 404
    assert poll(kiosk, session, "py_nope").status_code == 404


def test_a_payment_needs_a_code_or_the_qr_method_and_a_live_session(client, kiosk, his, patient):
    bill = due_bill(his, patient, "K-60", 2000)
    session = open_session(client, kiosk, patient)
    for how in ({}, {"method": "qr", "auth_code": "134567890123456789"}):
        resp = pay(kiosk, session, [bill], **how)
        assert resp.status_code == 422 and resp.get_json()["error"]["code"] == "VALIDATION_ERROR"
    expired = pay(kiosk, "x" * 32, [bill], method="qr")
    assert expired.status_code == 401 and expired.get_json()["error"]["code"] == "SESSION_EXPIRED"
    bad = kiosk.open("/kiosk/v1/bills", method="GET")
    assert bad.status_code == 400 and bad.get_json()["error"]["code"] == "VALIDATION_ERROR"
    unsigned = client.get("/kiosk/v1/bills?session=%s" % session)
    assert unsigned.status_code == 401


def test_kiosk_payment_calls_are_signed_query_and_all(client, kiosk, his, patient):
    bill = due_bill(his, patient, "K-70", 2000)
    session = open_session(client, kiosk, patient)
    path = "/kiosk/v1/bills?session=%s" % session
    headers = kiosk.headers("GET", "/kiosk/v1/bills?session=%s" % ("y" * 32), b"")
    swapped = client.get(path, headers=headers)  # signed for another query
    assert swapped.status_code == 401 and swapped.get_json()["error"]["code"] == "BAD_SIGNATURE"
    body = b'{"session": "%s", "bill_ids": ["%s"], "method": "qr"}' % (session.encode(), bill.encode())
    headers = kiosk.headers("POST", "/kiosk/v1/payments", body.replace(b"qr", b"xx"))
    forged = client.post("/kiosk/v1/payments", data=body, headers=headers, content_type="application/json")
    assert forged.status_code == 401
    assert kiosk.open("/kiosk/v1/payments", data=body.decode()).status_code == 201


def test_ten_kiosk_requests_racing_for_one_bill_exactly_one_takes_it_R11(app, client, kiosk, his, patient):
    bill = due_bill(his, patient, "K-80", 2000)
    session = open_session(client, kiosk, patient)
    results, barrier = [], threading.Barrier(10)

    def go():
        barrier.wait()
        results.append(pay(kiosk, session, [bill], method="qr").status_code)

    threads = [threading.Thread(target=go) for _ in range(10)]
    [t.start() for t in threads]
    [t.join(30) for t in threads]
    assert sorted(results) == [201] + [409] * 9, results
    with app.app_context():
        assert Payment.query.filter_by(status="pending").count() == 1
