"""Revoking a binding reaches payments already started (R15): the payer's pending payments for
the relative are closed at WeChat and the bills freed; one paid meanwhile is kept as paid."""

import json

from postpay.billing.models import Bill, BillStatus
from postpay.extensions import db
from postpay.payments.models import LedgerEntry, Payment
from tests.conftest import bearer, run_jobs


def _revoke_by_mum(client, family):
    binding_id = client.get("/api/v1/family/bindings", headers=bearer(family["mum"])).get_json()["received"][0]["id"]
    assert client.delete("/api/v1/family/bindings/" + binding_id, headers=bearer(family["mum"])).status_code == 204


def _wechat_state(redis, out_trade_no):
    return json.loads(redis.get("sbx:pay:order:" + out_trade_no))["state"]


def _status(app, payment_id):
    with app.app_context():
        return db.session.get(Payment, payment_id).status.value


def test_the_elder_revokes_the_sons_payment_is_closed_and_she_pays_herself_R15(
    app, client, redis, family, due_bill, pay
):
    bill = due_bill(family["mum_patient"], "X1", 30000)
    payment = pay(family["son"], [bill], key="revoke-key-0001").get_json()["payment"]
    _revoke_by_mum(client, family)
    assert pay(family["son"], [bill], key="revoke-key-0001").status_code == 404  # his retry acts for nobody
    run_jobs(app)
    assert _status(app, payment["id"]) == "closed"
    assert _wechat_state(redis, payment["out_trade_no"]) == "CLOSED"
    own = pay(family["mum"], [bill], key="mum-pays-0001")
    assert own.status_code == 201, own.get_json()
    client.post("/sandbox/wechatpay/orders/%s/pay" % own.get_json()["payment"]["out_trade_no"])
    with app.app_context():
        assert db.session.get(Bill, bill).status == BillStatus.paid
        assert [e.payment_id for e in LedgerEntry.query.filter_by(bill_id=bill)] == [own.get_json()["payment"]["id"]]


def test_a_combine_payment_naming_the_relative_is_closed_whole_and_others_are_kept_R15(
    app, client, redis, family, person, bind, signed, due_bill, pay
):
    dad_token, dad = person("o-p-dad", name="孙父", birth="19500505")
    redis.delete(*list(redis.scan_iter("sms:min:*")) or ["x"])
    assert signed(dad_token, dad["id"], "13599990003").status_code == 201
    bind(family["son"], dad_token, dad, permissions=["view", "pay"])
    kept = pay(family["son"], [due_bill(dad, "X5", 4000)], key="revoke-key-0005").get_json()["payment"]
    own = due_bill(family["son_patient"], "X2", 2000, "NT01")
    mums = due_bill(family["mum_patient"], "X3", 5000, "HA01")
    payment = pay(family["son"], [own, mums], key="revoke-key-0002").get_json()["payment"]
    assert payment["combined"] is True
    _revoke_by_mum(client, family)
    run_jobs(app)
    assert _status(app, payment["id"]) == "closed"
    assert _status(app, kept["id"]) == "pending"  # the father's binding still holds
    assert _wechat_state(redis, payment["out_trade_no"]) == "CLOSED"
    assert pay(family["son"], [own], key="revoke-key-0003").status_code == 201  # his own bill is free again
    assert pay(family["mum"], [mums], key="mum-pays-0002").status_code == 201


def test_a_payment_the_son_paid_before_the_close_is_kept_as_paid_R15(app, client, redis, family, due_bill, pay):
    app.config["WECHATPAY_NOTIFY_URL"] = "http://127.0.0.1:9/nowhere"  # the notification is lost
    bill = due_bill(family["mum_patient"], "X4", 30000)
    payment = pay(family["son"], [bill], key="revoke-key-0004").get_json()["payment"]
    assert client.post("/sandbox/wechatpay/orders/%s/pay" % payment["out_trade_no"]).get_json()["delivered"] is False
    _revoke_by_mum(client, family)
    run_jobs(app)  # WeChat answers ORDERPAID to the close: the money is booked, never lost
    assert _status(app, payment["id"]) == "paid"
    with app.app_context():
        assert db.session.get(Bill, bill).status == BillStatus.paid
        assert LedgerEntry.query.filter_by(bill_id=bill).count() == 1
