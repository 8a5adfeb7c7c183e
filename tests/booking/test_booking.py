"""Booking for oneself or a bound elder (R15): hold a place, pay the registration fee like any bill,
release an unpaid place after 15 minutes, cancel with a refund, the SMS and the day-before reminder."""

import datetime as dt

from postpay.billing.models import Bill, BillStatus
from postpay.booking.models import Slot
from postpay.credit.models import CreditRecord, Reminder
from postpay.extensions import db
from postpay.payments.models import Refund
from tests.booking.conftest import CST, ELDER_PHONE, SON_PHONE, local_day, slot
from tests.conftest import bearer, run_jobs


def sweep(runner, now):
    out = runner.invoke(args=["jobs", "run-sweeps", "--now", now.isoformat()])
    assert out.exit_code == 0, out.output
    run_jobs(runner.app)


def outbox(client, phone):
    return [m["text"] for m in client.get("/sandbox/sms/outbox?phone=" + phone).get_json()["messages"]]


def pay_fee(client, token, bill_id, key="fee-pay-key-0001"):
    resp = client.post(
        "/api/v1/payments", json={"bill_ids": [bill_id]}, headers=bearer(token) | {"Idempotency-Key": key}
    )
    assert resp.status_code == 201, resp.get_json()
    payment = resp.get_json()["payment"]
    client.post("/sandbox/wechatpay/orders/%s/pay" % payment["out_trade_no"])
    return payment


def test_a_son_books_for_his_bound_mother_pays_the_fee_and_she_gets_an_sms_R15(
    app, client, runner, family, publish, hospital_id, book
):
    day = local_day(2)
    assert publish([slot("S1", day, capacity=2, fee_fen=1200)], day).status_code == 200
    nt01 = hospital_id()
    resp = book(family["son"], family["elder_patient"]["id"], nt01, "S1")
    assert resp.status_code == 201, resp.get_json()
    appointment = resp.get_json()["appointment"]
    assert appointment["status"] == "held" and appointment["fee_fen"] == 1200
    assert appointment["patient"] == {"id": family["elder_patient"]["id"], "name": "钱*", "relationship": "parent"}
    assert book(family["son"], family["elder_patient"]["id"], nt01, "S1").get_json() == resp.get_json()  # same key
    bill = client.get("/api/v1/bills/%s" % appointment["bill_id"], headers=bearer(family["son"])).get_json()["bill"]
    assert (bill["status"], bill["amount_fen"], bill["due_at"]) == ("due", 1200, appointment["hold_until"])
    assert [(i["name"], i["amount_fen"]) for i in bill["items"]] == [("挂号费", 1200)]
    (listed,) = client.get("/api/v1/bills/outstanding", headers=bearer(family["son"])).get_json()["bills"]
    assert (listed["id"], listed["visit_ids"], [i["name"] for i in listed["items"]]) == (bill["id"], [], ["挂号费"])
    shown = client.get("/api/v1/hospitals/%s/schedules?date=%s" % (nt01, day), headers=bearer(family["son"]))
    assert [(s["his_slot_id"], s["capacity"], s["free"]) for s in shown.get_json()["slots"]] == [("S1", 2, 1)]
    pay_fee(client, family["son"], appointment["bill_id"])
    sweep(runner, dt.datetime.now(CST))
    mine = client.get("/api/v1/appointments/%s" % appointment["id"], headers=bearer(family["elder"])).get_json()
    assert mine["appointment"]["status"] == "booked" and mine["appointment"]["patient"]["name"] == "钱母"
    (text,) = [t for t in outbox(client, ELDER_PHONE) if "预约" in t]
    assert (
        "南通市第一人民医院" in text
        and "心内科" in text
        and "%d年%d月%d日09:00-09:30" % (day.year, day.month, day.day) in text
    )
    sweep(runner, dt.datetime.now(CST))  # a second run sends nothing again
    assert len([t for t in outbox(client, ELDER_PHONE) if "预约" in t]) == 1


def test_pay_does_not_imply_book_and_a_stranger_sees_nothing_R15(
    client, person, bind, family, publish, hospital_id, book
):
    day = local_day(2)
    publish([slot("S1", day)], day)
    payer_token, _ = person("o-b-payer")
    bind(payer_token, family["elder"], family["elder_patient"], permissions=["view", "pay"], relationship="child")
    refused = book(payer_token, family["elder_patient"]["id"], hospital_id(), "S1")
    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "PERMISSION_DENIED"
    stranger, _ = person("o-b-stranger")
    assert book(stranger, family["elder_patient"]["id"], hospital_id(), "S1").status_code == 404


def test_an_unpaid_place_is_released_after_15_minutes_without_reminder_or_arrears_R15(
    app, client, runner, family, publish, hospital_id, book
):
    day = local_day(2)
    publish([slot("S1", day, capacity=1)], day)
    appointment = book(family["son"], family["elder_patient"]["id"], hospital_id(), "S1").get_json()["appointment"]
    full = book(family["elder"], family["elder_patient"]["id"], hospital_id(), "S1", key="book-key-0002")
    assert full.status_code == 409 and full.get_json()["error"]["code"] == "ALREADY_BOOKED"
    sweep(runner, dt.datetime.now(CST) + dt.timedelta(minutes=14))
    assert (
        client.get("/api/v1/appointments", headers=bearer(family["son"])).get_json()["appointments"][0]["status"]
        == "held"
    )
    sweep(runner, dt.datetime.now(CST) + dt.timedelta(minutes=16))
    (gone,) = client.get("/api/v1/appointments", headers=bearer(family["son"])).get_json()["appointments"]
    assert gone["status"] == "expired" and gone["slot"]["free"] == 1
    sweep(runner, dt.datetime.now(CST) + dt.timedelta(days=40))  # far past any due date: nothing follows
    with app.app_context():
        bill = db.session.get(Bill, appointment["bill_id"])
        assert bill.status == BillStatus.closed and bill.total_fen == 0
        assert Reminder.query.count() == 0 and CreditRecord.query.count() == 0
    again = book(family["son"], family["elder_patient"]["id"], hospital_id(), "S1", key="book-key-0003")
    assert again.status_code == 201, again.get_json()  # the place went back


def test_the_fee_cannot_be_paid_after_the_place_was_released_R15(client, runner, family, publish, hospital_id, book):
    day = local_day(2)
    publish([slot("S1", day)], day)
    appointment = book(family["son"], family["elder_patient"]["id"], hospital_id(), "S1").get_json()["appointment"]
    sweep(runner, dt.datetime.now(CST) + dt.timedelta(minutes=16))
    late = client.post(
        "/api/v1/payments",
        json={"bill_ids": [appointment["bill_id"]]},
        headers=bearer(family["son"]) | {"Idempotency-Key": "late-key-0001"},
    )
    assert late.status_code == 409 and late.get_json()["error"]["code"] == "BILL_NOT_PAYABLE"


def test_a_started_slot_cannot_be_booked_nor_cancelled_R15(app, client, family, publish, hospital_id, book):
    now = dt.datetime.now(CST)
    start = now + dt.timedelta(seconds=2)
    soon = {"his_slot_id": "S9", "start": start.isoformat(), "end": (start + dt.timedelta(minutes=30)).isoformat()}
    publish([soon | {"capacity": 3, "fee_fen": 500}], start.date())
    appointment = book(family["son"], family["elder_patient"]["id"], hospital_id(), "S9").get_json()["appointment"]
    with app.app_context():  # the slot starts
        db.session.execute(db.update(Slot).values(start_at=now - dt.timedelta(minutes=1)))
        db.session.commit()
    late = book(family["son"], family["son_patient"]["id"], hospital_id(), "S9", key="book-key-0002")
    assert late.status_code == 409 and late.get_json()["error"]["code"] == "SLOT_STARTED"
    cancel = client.delete("/api/v1/appointments/%s" % appointment["id"], headers=bearer(family["son"]))
    assert cancel.status_code == 409 and cancel.get_json()["error"]["code"] == "SLOT_STARTED"


def test_cancelling_a_paid_booking_refunds_the_fee_R15(app, client, runner, family, publish, hospital_id, book):
    day = local_day(2)
    publish([slot("S1", day, fee_fen=1500)], day)
    appointment = book(family["son"], family["elder_patient"]["id"], hospital_id(), "S1").get_json()["appointment"]
    pay_fee(client, family["son"], appointment["bill_id"])
    resp = client.delete("/api/v1/appointments/%s" % appointment["id"], headers=bearer(family["son"]))
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["appointment"]["status"] == "cancelled" and body["appointment"]["slot"]["free"] == 2
    assert body["refund"]["amount_fen"] == 1500
    run_jobs(app)
    with app.app_context():
        (refund,) = Refund.query.all()
        assert (refund.bill_id, refund.amount_fen) == (appointment["bill_id"], 1500) and refund.out_refund_no
    again = client.delete("/api/v1/appointments/%s" % appointment["id"], headers=bearer(family["son"]))
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "APPOINTMENT_STATE"


def test_the_elder_and_the_son_are_reminded_the_day_before_once_R15(client, runner, family, publish, hospital_id, book):
    day = local_day(2)
    publish([slot("S1", day, hour=14)], day)
    appointment = book(family["son"], family["elder_patient"]["id"], hospital_id(), "S1").get_json()["appointment"]
    pay_fee(client, family["son"], appointment["bill_id"])
    eve = day - dt.timedelta(days=1)
    sweep(runner, dt.datetime.combine(eve, dt.time(9, 30), CST))  # too early in the day
    sweep(runner, dt.datetime.combine(eve, dt.time(22, 0), CST))  # quiet hours
    assert not [t for t in outbox(client, SON_PHONE) if "就诊提醒" in t]
    sweep(runner, dt.datetime.combine(eve, dt.time(10, 30), CST))
    sweep(runner, dt.datetime.combine(eve, dt.time(11, 30), CST))
    for phone in (ELDER_PHONE, SON_PHONE):
        (text,) = [t for t in outbox(client, phone) if "就诊提醒" in t]
        assert "钱*" in text and "14:00" in text and "南通市第一人民医院心内科" in text


def test_a_pending_fee_payment_keeps_the_place_until_it_ends_R15(
    app, client, runner, family, publish, hospital_id, book
):
    day = local_day(2)
    publish([slot("S1", day)], day)
    appointment = book(family["son"], family["elder_patient"]["id"], hospital_id(), "S1").get_json()["appointment"]
    resp = client.post(
        "/api/v1/payments",
        json={"bill_ids": [appointment["bill_id"]]},
        headers=bearer(family["son"]) | {"Idempotency-Key": "pending-key-0001"},
    )
    payment = resp.get_json()["payment"]
    cancel = client.delete("/api/v1/appointments/%s" % appointment["id"], headers=bearer(family["son"]))
    assert cancel.status_code == 409 and cancel.get_json()["error"]["code"] == "PAYMENT_PENDING"
    sweep(runner, dt.datetime.now(CST) + dt.timedelta(minutes=16))  # the payment is still open: no release
    shown = client.get("/api/v1/appointments/%s" % appointment["id"], headers=bearer(family["son"])).get_json()
    assert shown["appointment"]["status"] == "held"
    client.post("/sandbox/wechatpay/orders/%s/pay" % payment["out_trade_no"])  # paid late, but before release
    sweep(runner, dt.datetime.now(CST) + dt.timedelta(minutes=17))
    shown = client.get("/api/v1/appointments/%s" % appointment["id"], headers=bearer(family["son"])).get_json()
    assert shown["appointment"]["status"] == "booked" and shown["appointment"]["paid_at"]
