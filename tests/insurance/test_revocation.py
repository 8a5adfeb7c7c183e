"""Revoking a binding reaches settlements already started (R15, R13): a confirm after the
revoke is refused, and the revoke closes the payer's open settlements for the relative."""

import json

from postpay.extensions import db
from postpay.insurance.models import InsuranceSettlement
from tests.conftest import bearer, run_jobs
from tests.insurance.conftest import sandbox_order


def _revoke(client, token, binding_id):
    assert client.delete("/api/v1/family/bindings/" + binding_id, headers=bearer(token)).status_code == 204


def _binding(client, token):
    return client.get("/api/v1/family/bindings", headers=bearer(token)).get_json()["received"][0]["id"]


def _platform(redis, pay_ord_id):
    return json.loads(redis.get("sbx:medins:ord:" + pay_ord_id))


def test_a_confirm_after_the_elder_revokes_is_refused_and_nothing_is_debited_R15(
    app, client, redis, family, due_bill, quote
):
    bill = due_bill(family["mum_patient"], "V1")
    s = quote(family["son"], [bill], key="quote-key-v1").get_json()["settlement"]
    _revoke(client, family["mum"], _binding(client, family["mum"]))
    confirm = client.post("/api/v1/insurance-settlements/%s/confirm" % s["id"], json={}, headers=bearer(family["son"]))
    assert confirm.status_code == 404, confirm.get_json()  # the same answer as for a stranger
    retried = quote(family["son"], [bill], key="quote-key-v1")  # the quote's retry acts for him too
    assert retried.status_code == 404
    assert redis.get("sbx:pay:medins:" + s["out_trade_no"]) is None  # WeChat never got an order
    paying = client.post("/sandbox/wechatpay/med-ins/orders/%s/pay" % s["out_trade_no"], json={})
    assert paying.status_code == 404
    with app.app_context():
        pay_ord_id = db.session.get(InsuranceSettlement, s["id"]).pay_ord_id
    assert _platform(redis, pay_ord_id)["ordStas"] != "4"  # the platform settled nothing


def test_a_confirmed_settlement_is_withdrawn_when_the_elder_revokes_and_she_can_pay_R15(
    app, client, redis, family, due_bill, ordered, quote
):
    bill = due_bill(family["mum_patient"], "V2")
    s = ordered(family["son"], [bill])["settlement"]
    cash_no = sandbox_order(redis, s["out_trade_no"])["body"]["prepay_id"]
    _revoke(client, family["mum"], _binding(client, family["mum"]))
    run_jobs(app)
    with app.app_context():
        settlement = db.session.get(InsuranceSettlement, s["id"])
        assert settlement.status.value == "cancelled" and settlement.payment.status.value == "closed"
        pay_ord_id, cash_trade_no = settlement.pay_ord_id, settlement.cash_order.out_trade_no
    assert _platform(redis, pay_ord_id)["ordStas"] == "6"  # 6401: the upload is revoked
    assert json.loads(redis.get("sbx:pay:order:" + cash_trade_no))["state"] == "CLOSED"
    assert cash_no  # the son's cash order was placed, and is closed now
    late = client.post("/sandbox/wechatpay/med-ins/orders/%s/pay" % s["out_trade_no"], json={})
    assert late.status_code == 409  # the son can no longer pay it in WeChat
    own = quote(family["mum"], [bill])
    assert own.status_code == 201, own.get_json()


def test_a_quote_spending_the_holders_account_is_withdrawn_when_the_holder_revokes_R13_R15(
    app, client, redis, family, person, bind, due_bill, quote
):
    dad_token, dad = person("o-i-dad", name="周父", birth="19500505")
    granted = bind(family["son"], dad_token, dad, permissions=["view", "mutual_aid"])
    bill = due_bill(family["mum_patient"], "V3")
    s = quote(family["son"], [bill], mutual_aid=dad["id"]).get_json()["settlement"]
    assert s["status"] == "quoted" and s["acct_mulaid_pay_fen"] == 12000
    assert client.delete("/api/v1/family/bindings/" + granted, headers=bearer(dad_token)).status_code == 204
    run_jobs(app)
    with app.app_context():
        settlement = db.session.get(InsuranceSettlement, s["id"])
        assert settlement.status.value == "cancelled"
        pay_ord_id = settlement.pay_ord_id
    assert _platform(redis, pay_ord_id)["ordStas"] == "6"
    again = quote(family["son"], [bill])  # he may still pay for his mother, without the father's account
    assert again.status_code == 201 and again.get_json()["settlement"]["acct_mulaid_pay_fen"] == 0
