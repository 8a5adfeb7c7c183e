"""Cancelling one's own pending payment (issue 18, part 3): the WeChat order is closed and the
bills are free again; a payment WeChat already took is booked once and answers ALREADY_PAID."""

from postpay.billing.models import Bill, BillStatus
from postpay.extensions import db
from postpay.payments.models import LedgerEntry, Payment, PaymentBill, PaymentStatus
from tests.conftest import bearer


def _state(app, payment_id):
    with app.app_context():
        payment = db.session.get(Payment, payment_id)
        live = PaymentBill.query.filter_by(payment_id=payment_id, live=True).count()
        return payment.status, live, LedgerEntry.query.count()


def test_cancel_closes_the_order_and_frees_the_bills(app, client, family, due_bill, pay):
    bill = due_bill(family["mum_patient"], "K1", 5000)
    payment = pay(family["son"], [bill], key="cancel-key-0001").get_json()["payment"]
    resp = client.delete("/api/v1/payments/" + payment["id"], headers=bearer(family["son"]))
    assert resp.status_code == 204, resp.get_json()
    assert _state(app, payment["id"]) == (PaymentStatus.closed, 0, 0)
    client.post("/sandbox/wechatpay/orders/%s/pay" % payment["out_trade_no"])  # closed at WeChat: nothing paid
    assert _state(app, payment["id"]) == (PaymentStatus.closed, 0, 0)
    again = client.delete("/api/v1/payments/" + payment["id"], headers=bearer(family["son"]))
    assert again.status_code == 204
    mum_pays = pay(family["mum"], [bill], key="cancel-key-0002")  # the bill is free for anyone again
    assert mum_pays.status_code == 201, mum_pays.get_json()


def test_cancel_after_wechat_took_the_money_books_it_once_and_answers_already_paid(app, client, family, due_bill, pay):
    app.config["WECHATPAY_NOTIFY_URL"] = "http://127.0.0.1:9/nowhere"  # the notification is late
    bill = due_bill(family["son_patient"], "K2", 4000)
    payment = pay(family["son"], [bill], key="cancel-key-0003").get_json()["payment"]
    assert client.post("/sandbox/wechatpay/orders/%s/pay" % payment["out_trade_no"]).get_json()["delivered"] is False
    resp = client.delete("/api/v1/payments/" + payment["id"], headers=bearer(family["son"]))
    assert resp.status_code == 409 and resp.get_json()["error"]["code"] == "ALREADY_PAID"
    assert _state(app, payment["id"]) == (PaymentStatus.paid, 1, 1)
    app.config["WECHATPAY_NOTIFY_URL"] = "http://localhost/wechat/pay/notify"
    client.post("/sandbox/wechatpay/orders/%s/pay" % payment["out_trade_no"])  # the notification arrives after all
    again = client.delete("/api/v1/payments/" + payment["id"], headers=bearer(family["son"]))
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "ALREADY_PAID"
    assert _state(app, payment["id"]) == (PaymentStatus.paid, 1, 1)
    with app.app_context():
        assert db.session.get(Bill, bill).status == BillStatus.paid


def test_wechat_unreachable_leaves_the_payment_pending_502(app, client, family, due_bill, pay):
    bill = due_bill(family["son_patient"], "K3", 4000)
    payment = pay(family["son"], [bill], key="cancel-key-0004").get_json()["payment"]
    app.config["POSTPAY_SANDBOX_URL"] = "http://127.0.0.1:9/sandbox"  # WeChat unreachable
    app.extensions.pop("postpay_clients", None)
    resp = client.delete("/api/v1/payments/" + payment["id"], headers=bearer(family["son"]))
    assert resp.status_code == 502 and resp.get_json()["error"]["code"] == "UPSTREAM_ERROR"
    assert _state(app, payment["id"]) == (PaymentStatus.pending, 1, 0)


def test_only_the_payer_cancels(client, family, due_bill, pay):
    bill = due_bill(family["mum_patient"], "K4", 4000)
    payment = pay(family["son"], [bill], key="cancel-key-0005").get_json()["payment"]
    resp = client.delete("/api/v1/payments/" + payment["id"], headers=bearer(family["mum"]))
    assert resp.status_code == 404 and resp.get_json()["error"]["code"] == "NOT_FOUND"


def test_a_settlements_payment_points_to_the_settlements_cancel(client, family, due_bill):
    bill = due_bill(family["son_patient"], "K5", 20000)
    created = client.post("/api/v1/insurance-settlements", json={"bill_ids": [bill]}, headers=bearer(family["son"]))
    assert created.status_code == 201, created.get_json()
    settlement = created.get_json()["settlement"]
    resp = client.delete("/api/v1/payments/" + settlement["payment_id"], headers=bearer(family["son"]))
    assert resp.status_code == 409 and resp.get_json()["error"]["code"] == "SETTLEMENT_PAYMENT"
    assert "/api/v1/insurance-settlements/%s" % settlement["id"] in resp.get_json()["error"]["message"]
