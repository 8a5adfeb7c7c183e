"""WeChat Pay notifications: forged, stale, duplicated, mismatched, unknown; refunds; double payment."""

import datetime as dt
import json
import threading
import time

import pytest

from postpay.billing.models import Bill, BillStatus
from postpay.extensions import db
from postpay.payments import ledger, sweeps
from postpay.payments.models import LedgerEntry, Payment, PaymentStatus, Refund
from tests.conftest import bearer, count_statements, run_jobs


@pytest.fixture
def undelivered(app):
    """WeChat cannot reach us: notifications are sent nowhere (set before the order is placed)."""
    app.config["WECHATPAY_NOTIFY_URL"] = "http://127.0.0.1:9/nowhere"


@pytest.fixture(params=["on_time", "overdue"])
def pending(request, family, due_bill, pay):
    """A pending payment by the son for his mother's 300-yuan bill: paid within its day (the bulk
    booking of ledger.book_order) or overdue (booked bill by bill, with the R18 repair check)."""
    bill = due_bill(family["mum_patient"], "W1", 30000, on_time=request.param == "on_time")
    payment = pay(family["son"], [bill]).get_json()["payment"]
    return payment | {"bill": bill}


def captured_notification(app, client, pending):
    """Pay in the sandbox, then read back the exact bytes it sent."""
    client.post("/sandbox/wechatpay/orders/%s/pay" % pending["out_trade_no"])
    saved = json.loads(app.extensions["redis"].get("sbx:pay:last:" + pending["out_trade_no"]))
    return saved["headers"], saved["body"]


def bill_status(app, bill_id):
    with app.app_context():
        return db.session.get(Bill, bill_id).status


@pytest.mark.parametrize("tamper", ["signature", "serial", "stale", "body", "nonce"])
def test_a_forged_or_stale_notification_gets_401_and_changes_nothing(app, client, undelivered, pending, tamper):
    headers, body = captured_notification(app, client, pending)
    headers = dict(headers)
    if tamper == "signature":
        headers["Wechatpay-Signature"] = headers["Wechatpay-Signature"][:-8] + "AAAAAAA="
    elif tamper == "serial":
        headers["Wechatpay-Serial"] = "PUB_KEY_ID_SOMEONE_ELSE"
    elif tamper == "stale":
        headers["Wechatpay-Timestamp"] = str(int(time.time()) - 301)
    elif tamper == "body":
        body = body.replace('"TRANSACTION.SUCCESS"', '"TRANSACTION.SUCCESS" ')
    elif tamper == "nonce":
        headers["Wechatpay-Nonce"] = "0" * 32
    resp = client.post("/wechat/pay/notify", data=body.encode(), headers=headers)
    assert resp.status_code == 401 and resp.get_json()["code"] == "FAIL"
    assert bill_status(app, pending["bill"]) == BillStatus.due


def test_an_unknown_serial_is_refused_without_any_fetch(app, client, pending, monkeypatch):
    import requests

    calls = []
    monkeypatch.setattr(
        requests.Session,
        "request",
        lambda *a, **k: calls.append(a) or (_ for _ in ()).throw(AssertionError("no network call may be made")),
    )
    headers = {
        "Wechatpay-Serial": "PUB_KEY_ID_UNKNOWN",
        "Wechatpay-Timestamp": str(int(time.time())),
        "Wechatpay-Nonce": "n",
        "Wechatpay-Signature": "x",
    }
    resp = client.post("/wechat/pay/notify", data=b"{}", headers=headers)
    assert resp.status_code == 401 and calls == []


def test_duplicates_in_sequence_and_concurrently_apply_once_and_write_nothing(app, client, pending):
    assert client.post("/sandbox/wechatpay/orders/%s/pay" % pending["out_trade_no"]).get_json()["status"] == 200
    assert bill_status(app, pending["bill"]) == BillStatus.paid

    def fifteen_in_sequence():
        for _ in range(15):
            assert (
                client.post("/sandbox/wechatpay/orders/%s/renotify" % pending["out_trade_no"]).get_json()["status"]
                == 200
            )

    assert count_statements(app, fifteen_in_sequence, writes_only=True) == 0

    def fifteen_at_once():
        threads = [
            threading.Thread(
                target=lambda: app.test_client().post("/sandbox/wechatpay/orders/%s/renotify" % pending["out_trade_no"])
            )
            for _ in range(15)
        ]
        [t.start() for t in threads]
        [t.join(30) for t in threads]

    assert count_statements(app, fifteen_at_once, writes_only=True) == 0
    with app.app_context():
        assert LedgerEntry.query.count() == 1 and Payment.query.one().status == PaymentStatus.paid
    assert app.extensions["redis"].llen("alerts:payments") == 0  # a duplicate is not a second transaction


@pytest.mark.parametrize(
    "tamper",
    [
        {"amount": 29999},
        {"currency": "USD"},
        {"sp_mchid": "1999999999"},
        {"sub_mchid": "1900000110"},  # another hospital's order number space
        {"sp_appid": "wx_other"},
    ],
)
def test_a_mismatch_marks_nothing_paid_and_raises_an_alert(app, client, pending, redis, tamper):
    resp = client.post("/sandbox/wechatpay/orders/%s/pay" % pending["out_trade_no"], json={"tamper": tamper})
    assert resp.get_json()["status"] == 200  # answered, so WeChat stops; people look at the alert
    assert bill_status(app, pending["bill"]) == BillStatus.due
    alert = json.loads(redis.lindex("alerts:payments", 0))
    assert alert["kind"] == "MISMATCH" and alert["order"] == pending["out_trade_no"]


def test_an_unknown_order_is_logged_and_answered_200(app, client, pending, caplog):
    resp = client.post(
        "/sandbox/wechatpay/orders/%s/pay" % pending["out_trade_no"],
        json={"tamper": {"out_trade_no": "P0000NOSUCHORDER"}},
    )
    assert resp.get_json()["status"] == 200
    assert "unknown order" in caplog.text
    assert bill_status(app, pending["bill"]) == BillStatus.due


def test_a_lost_notification_is_found_by_asking_wechat(app, client, undelivered, family, due_bill, pay):
    bill = due_bill(family["son_patient"], "L1", 4000)
    payment = pay(family["son"], [bill]).get_json()["payment"]
    assert client.post("/sandbox/wechatpay/orders/%s/pay" % payment["out_trade_no"]).get_json()["delivered"] is False
    shown = client.get("/api/v1/payments/" + payment["id"], headers=bearer(family["son"])).get_json()["payment"]
    assert shown["status"] == "paid" and bill_status(app, bill) == BillStatus.paid


def test_the_sweep_queries_pending_payments_without_a_notification(app, client, undelivered, family, due_bill, pay):
    bill = due_bill(family["son_patient"], "L2", 4000)
    payment = pay(family["son"], [bill]).get_json()["payment"]
    client.post("/sandbox/wechatpay/orders/%s/pay" % payment["out_trade_no"])
    now = dt.datetime.now(dt.timezone.utc)
    with app.app_context():
        assert sweeps.query_pending(now) == 0  # too soon to ask
        assert sweeps.query_pending(now + dt.timedelta(minutes=4)) == 1
    assert bill_status(app, bill) == BillStatus.paid


def test_expired_orders_are_closed_and_their_bills_freed(app, client, family, due_bill, pay):
    bill = due_bill(family["son_patient"], "X1", 4000)
    payment = pay(family["son"], [bill], key="expire-key-0001").get_json()["payment"]
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=31)
    with app.app_context():
        assert sweeps.close_expired(later) == 1
    shown = client.get("/api/v1/payments/" + payment["id"], headers=bearer(family["son"])).get_json()["payment"]
    assert shown["status"] == "closed"
    paid_too_late = client.post("/sandbox/wechatpay/orders/%s/pay" % payment["out_trade_no"])
    assert paid_too_late.status_code in (200, 201)
    again = pay(family["son"], [bill], key="expire-key-0002")
    assert again.status_code == 201


def test_a_void_after_payment_is_refunded_and_tracked_to_success_R12(app, client, family, pending, his):
    client.post("/sandbox/wechatpay/orders/%s/pay" % pending["out_trade_no"])
    his.items("W1", ("2", "lab", "血常规", 1, 2000))  # a late item is paid now, never on the paid bill
    voided = his.open("/his/v1/visits/W1/items/1/void", json={"reason": "检查未做"})
    assert voided.status_code == 200
    run_jobs(app)
    with app.app_context():
        refund = Refund.query.one()
        assert (refund.amount_fen, refund.status) == (30000, "processing")
        out_refund_no = refund.out_refund_no
    done = client.post("/sandbox/wechatpay/refunds/%s/complete" % out_refund_no, json={"status": "SUCCESS"})
    assert done.get_json()["delivered"] is True
    with app.app_context():
        refund = Refund.query.one()
        bill = db.session.get(Bill, pending["bill"])
        assert refund.status == "succeeded" and bill.total_fen == 0
        assert sum(e.amount_fen for e in LedgerEntry.query.filter_by(bill_id=bill.id)) == bill.total_fen


def test_money_that_arrives_after_we_closed_the_payment_is_applied_and_alerted(app, client, undelivered, pending):
    """WeChat took the money just as our close went through: the payment is paid after all."""
    headers, body = captured_notification(app, client, pending)
    with app.app_context():
        payment = db.session.get(Payment, pending["id"])
        payment.transition(PaymentStatus.closed)
        db.session.commit()
    assert client.post("/wechat/pay/notify", data=body.encode(), headers=headers).status_code == 200
    assert bill_status(app, pending["bill"]) == BillStatus.paid
    with app.app_context():
        assert db.session.get(Payment, pending["id"]).status == PaymentStatus.paid
        assert ledger.balance(pending["bill"]) == 30000
    alerts = [json.loads(a)["kind"] for a in app.extensions["redis"].lrange("alerts:payments", 0, -1)]
    assert alerts == ["PAID_AFTER_CLOSE"]


def test_a_bill_paid_at_the_window_while_wechat_was_pending_gets_the_later_share_refunded(app, client, pending):
    with app.app_context():  # the window takes cash (the console issue calls this)
        bill = db.session.get(Bill, pending["bill"])
        ledger.mark_paid(bill, bill.total_fen, "window_cash", "receipt-0001")
        db.session.commit()
    client.post("/sandbox/wechatpay/orders/%s/pay" % pending["out_trade_no"])
    run_jobs(app)
    with app.app_context():
        refund = Refund.query.one()
        assert refund.amount_fen == 30000 and refund.status == "processing" and refund.item_id is None
        assert ledger.balance(pending["bill"]) == 30000
