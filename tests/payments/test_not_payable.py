"""BILL_NOT_PAYABLE says what holds each bill and until when (issue 18, part 3)."""

import datetime as dt

from postpay.payments import sweeps
from tests.conftest import bearer


def test_a_relatives_pending_payment_is_named_masked_with_its_expiry(client, family, due_bill, pay):
    bill = due_bill(family["mum_patient"], "H1", 5000)
    free = due_bill(family["mum_patient"], "H2", 3000, on_time=True)
    son_pays = pay(family["son"], [bill], key="held-key-0001").get_json()["payment"]
    resp = pay(family["mum"], [bill, free], key="held-key-0002")
    assert resp.status_code == 409
    error = resp.get_json()["error"]
    assert error["code"] == "BILL_NOT_PAYABLE"
    assert error["details"] == {
        "bills": [
            {
                "id": bill,
                "reason": "PENDING_PAYMENT",
                "until": son_pays["expires_at"],
                "held_by": {"relationship": "child", "name": "孙*"},
            }
        ]
    }
    own = pay(family["son"], [bill], key="held-key-0003")  # his own other attempt: no held_by
    assert own.get_json()["error"]["details"]["bills"][0].keys() == {"id", "reason", "until"}
    assert client.delete("/api/v1/payments/" + son_pays["id"], headers=bearer(family["son"])).status_code == 204
    assert pay(family["mum"], [bill, free], key="held-key-0002").status_code == 201  # cancelled: free at once


def test_a_paid_bill_says_paid(client, family, due_bill, pay):
    bill = due_bill(family["son_patient"], "H3", 5000)
    payment = pay(family["son"], [bill], key="held-key-0004").get_json()["payment"]
    assert client.post("/sandbox/wechatpay/orders/%s/pay" % payment["out_trade_no"]).get_json()["status"] == 200
    resp = pay(family["son"], [bill], key="held-key-0005")
    assert resp.get_json()["error"]["details"] == {"bills": [{"id": bill, "reason": "PAID", "until": None}]}


def test_an_insurance_quote_holds_the_bill(client, family, due_bill, pay):
    bill = due_bill(family["son_patient"], "H4", 20000)
    created = client.post("/api/v1/insurance-settlements", json={"bill_ids": [bill]}, headers=bearer(family["son"]))
    assert created.status_code == 201, created.get_json()
    resp = pay(family["son"], [bill], key="held-key-0006")
    (held,) = resp.get_json()["error"]["details"]["bills"]
    assert held["reason"] == "INSURANCE_QUOTE" and held["until"] is not None


def test_an_abandoned_quote_holds_the_bill_ten_minutes_at_most(app, client, family, due_bill, pay):
    bill = due_bill(family["son_patient"], "H5", 20000)
    now = dt.datetime.now(dt.timezone.utc)
    quote = client.post("/api/v1/insurance-settlements", json={"bill_ids": [bill]}, headers=bearer(family["son"]))
    expires = dt.datetime.fromisoformat(quote.get_json()["settlement"]["expires_at"])
    assert now + dt.timedelta(minutes=9) < expires <= now + dt.timedelta(minutes=10, seconds=5)
    with app.app_context():
        sweeps.poll_pending(now + dt.timedelta(minutes=11))  # the quote is withdrawn (6401)
    assert pay(family["son"], [bill], key="held-key-0007").status_code == 201


def test_confirming_a_quote_gives_the_full_time_to_pay(client, family, due_bill):
    bill = due_bill(family["son_patient"], "H6", 20000)
    now = dt.datetime.now(dt.timezone.utc)
    quote = client.post("/api/v1/insurance-settlements", json={"bill_ids": [bill]}, headers=bearer(family["son"]))
    settlement = quote.get_json()["settlement"]["id"]
    confirmed = client.post(
        "/api/v1/insurance-settlements/%s/confirm" % settlement, json={}, headers=bearer(family["son"])
    )
    assert confirmed.status_code == 200, confirmed.get_json()
    expires = dt.datetime.fromisoformat(confirmed.get_json()["settlement"]["expires_at"])
    assert expires > now + dt.timedelta(minutes=29)


def test_a_relatives_insurance_quote_is_named_when_paying_cash(client, family, due_bill, pay):
    bill = due_bill(family["mum_patient"], "H7", 20000)
    quote = client.post("/api/v1/insurance-settlements", json={"bill_ids": [bill]}, headers=bearer(family["son"]))
    assert quote.status_code == 201, quote.get_json()
    (held,) = pay(family["mum"], [bill], key="held-key-0008").get_json()["error"]["details"]["bills"]
    assert held["reason"] == "INSURANCE_QUOTE" and held["until"] == quote.get_json()["settlement"]["expires_at"]
    assert held["held_by"] == {"relationship": "child", "name": "孙*"}


def test_a_relatives_payment_or_quote_is_named_when_asking_for_a_quote(client, family, due_bill, pay):
    cash, quoted = due_bill(family["mum_patient"], "H8", 20000), due_bill(family["mum_patient"], "H9", 10000)
    assert pay(family["son"], [cash], key="held-key-0009").status_code == 201
    resp = client.post("/api/v1/insurance-settlements", json={"bill_ids": [cash]}, headers=bearer(family["mum"]))
    assert resp.status_code == 409 and resp.get_json()["error"]["code"] == "BILL_NOT_PAYABLE"
    (held,) = resp.get_json()["error"]["details"]["bills"]
    assert (held["reason"], held["held_by"]) == ("PENDING_PAYMENT", {"relationship": "child", "name": "孙*"})
    mine = client.post("/api/v1/insurance-settlements", json={"bill_ids": [quoted]}, headers=bearer(family["mum"]))
    assert mine.status_code == 201, mine.get_json()
    resp = client.post("/api/v1/insurance-settlements", json={"bill_ids": [quoted]}, headers=bearer(family["son"]))
    (held,) = resp.get_json()["error"]["details"]["bills"]
    assert (held["reason"], held["held_by"]) == ("INSURANCE_QUOTE", {"relationship": "parent", "name": "孙*"})
