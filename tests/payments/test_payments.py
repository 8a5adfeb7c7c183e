"""Paying (R11, R13): one WeChat payment for own and relatives' bills, at one or many hospitals."""

import base64
import threading

from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from postpay.billing.models import Bill, BillStatus
from postpay.extensions import db
from postpay.hospitals.service import upsert_hospital
from postpay.payments.models import LedgerEntry, Payment
from tests.conftest import bearer


def test_one_payment_for_own_and_a_parents_bills_at_one_hospital_R13(app, client, family, due_bill, pay):
    own = due_bill(family["son_patient"], "P1", 2000)
    mums = due_bill(family["mum_patient"], "P2", 30000)
    resp = pay(family["son"], [own, mums])
    assert resp.status_code == 201, resp.get_json()
    payment, rp = resp.get_json()["payment"], resp.get_json()["request_payment"]
    assert (
        payment["status"] == "pending" and payment["total_fen"] == 32000 and payment["bill_ids"] == sorted([own, mums])
    )
    assert payment["id"].startswith("py_") and payment["out_trade_no"].startswith("P") and not payment["combined"]
    with open(app.config["WECHATPAY_PRIVATE_KEY_PATH"].replace("private", "public"), "rb") as f:
        merchant_public = load_pem_public_key(f.read())
    message = "%s\n%s\n%s\n%s\n" % (app.config["WECHAT_APPID"], rp["timeStamp"], rp["nonceStr"], rp["package"])
    merchant_public.verify(base64.b64decode(rp["paySign"]), message.encode(), PKCS1v15(), SHA256())
    assert rp["package"].startswith("prepay_id=wx") and rp["signType"] == "RSA"
    paid = client.post("/sandbox/wechatpay/orders/%s/pay" % payment["out_trade_no"]).get_json()
    assert paid["delivered"] is True and paid["status"] == 200
    shown = client.get("/api/v1/payments/" + payment["id"], headers=bearer(family["son"])).get_json()["payment"]
    assert shown["status"] == "paid"
    assert client.get("/api/v1/bills/outstanding", headers=bearer(family["son"])).get_json()["bills"] == []
    with app.app_context():
        assert {b.status for b in Bill.query.all()} == {BillStatus.paid}
        assert sorted(e.amount_fen for e in LedgerEntry.query.all()) == [2000, 30000]


def test_bills_at_several_hospitals_make_one_combine_order(app, client, family, due_bill, pay):
    a = due_bill(family["son_patient"], "C1", 2000, "NT01")
    b = due_bill(family["mum_patient"], "C2", 5000, "HA01")
    payment = pay(family["son"], [a, b]).get_json()["payment"]
    assert payment["combined"] is True and payment["out_trade_no"].startswith("C")
    assert sorted(o["amount_fen"] for o in payment["orders"]) == [2000, 5000]
    assert len({o["out_trade_no"] for o in payment["orders"]} | {payment["out_trade_no"]}) == 3
    assert client.post("/sandbox/wechatpay/orders/%s/pay" % payment["out_trade_no"]).get_json()["status"] == 200
    shown = client.get("/api/v1/payments/" + payment["id"], headers=bearer(family["son"])).get_json()["payment"]
    assert shown["status"] == "paid" and all(o["paid"] for o in shown["orders"])
    with app.app_context():
        assert {h.mchid for h in (db.session.get(Bill, a).hospital, db.session.get(Bill, b).hospital)} == {
            o.mchid for o in Payment.query.one().orders
        }


def test_more_than_ten_hospitals_is_a_clear_422(app, client, family, due_bill, pay, hospitals):
    with app.app_context():
        for n in range(11):
            upsert_hospital("H%02d" % n, "医院%d" % n, "19000002%02d" % n, "his-secret-h%02d" % n)
        db.session.commit()
    for n in range(11):  # each hospital a sub-merchant of ours at WeChat (特约商户)
        registered = client.post("/sandbox/wechatpay/sub-merchants", json={"sub_mchid": "19000002%02d" % n})
        assert registered.status_code == 201
    bills = [due_bill(family["son_patient"], "M%d" % n, 1000, "H%02d" % n) for n in range(11)]
    resp = pay(family["son"], bills)
    assert resp.status_code == 422 and resp.get_json()["error"]["code"] == "TOO_MANY_HOSPITALS"
    assert pay(family["son"], bills[:10], key="key-ten-hospitals").status_code == 201


def test_idempotency_key_same_body_same_payment_other_body_422(family, due_bill, pay):
    a = due_bill(family["son_patient"], "I1", 2000)
    b = due_bill(family["mum_patient"], "I2", 3000)
    first = pay(family["son"], [a], key="idem-key-000001").get_json()["payment"]
    again = pay(family["son"], [a], key="idem-key-000001")
    assert again.status_code == 201 and again.get_json()["payment"]["id"] == first["id"]
    other = pay(family["son"], [a, b], key="idem-key-000001")
    assert other.status_code == 422 and other.get_json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    missing = pay(family["son"], [b], key="")
    assert missing.status_code == 400 and missing.get_json()["error"]["code"] == "IDEMPOTENCY_KEY_REQUIRED"


def test_a_bill_in_another_payment_or_not_due_gets_409(client, family, due_bill, pay, his):
    a = due_bill(family["son_patient"], "N1", 2000)
    assert pay(family["son"], [a], key="first-key-0001").status_code == 201
    taken = pay(family["mum"], [a], key="other-key-0001")
    assert taken.status_code in (403, 404)  # not hers to pay at all
    second = pay(family["son"], [a], key="second-key-001")
    assert second.status_code == 409 and second.get_json()["error"]["code"] == "BILL_NOT_PAYABLE"
    running = his.visit("N2", family["son_patient"])["bill_id"]  # still open: nothing to pay yet
    assert pay(family["son"], [running], key="third-key-0001").get_json()["error"]["code"] == "BILL_NOT_PAYABLE"


def test_twenty_concurrent_payers_for_one_bill_exactly_one_201(app, family, due_bill, person, bind):
    bill = due_bill(family["mum_patient"], "R1", 9900)
    payers = [family["son"]]
    for n in range(3):
        token, _ = person("o-p-rel%d" % n)
        bind(token, family["mum"], family["mum_patient"], permissions=["pay"], relationship="child")
        payers.append(token)
    results = []
    barrier = threading.Barrier(20)

    def go(n):
        client = app.test_client()
        barrier.wait()
        resp = client.post(
            "/api/v1/payments",
            json={"bill_ids": [bill]},
            headers=bearer(payers[n % len(payers)]) | {"Idempotency-Key": "race-key-%04d" % n},
        )
        results.append(resp.status_code)

    threads = [threading.Thread(target=go, args=(n,)) for n in range(20)]
    [t.start() for t in threads]
    [t.join(30) for t in threads]
    assert sorted(results) == [201] + [409] * 19, results
    with app.app_context():
        assert Payment.query.count() == 1


def test_a_retry_after_a_failed_order_reuses_the_order_and_never_duplicates(app, client, family, due_bill, pay, redis):
    bill = due_bill(family["son_patient"], "F1", 2000)
    live = app.config["POSTPAY_SANDBOX_URL"]
    app.config["POSTPAY_SANDBOX_URL"] = "http://127.0.0.1:9/sandbox"  # WeChat unreachable
    app.extensions.pop("postpay_clients", None)
    failed = pay(family["son"], [bill], key="retry-key-0001")
    assert failed.status_code == 502
    app.config["POSTPAY_SANDBOX_URL"] = live
    app.extensions.pop("postpay_clients", None)
    other_key = pay(family["son"], [bill], key="retry-key-0002")
    assert other_key.status_code == 409  # the bill is held by the first payment
    retried = pay(family["son"], [bill], key="retry-key-0001")
    assert retried.status_code == 201
    again = pay(family["son"], [bill], key="retry-key-0001")
    assert again.get_json()["request_payment"]["package"] == retried.get_json()["request_payment"]["package"]
    assert len(list(redis.scan_iter("sbx:pay:order:*"))) == 1
