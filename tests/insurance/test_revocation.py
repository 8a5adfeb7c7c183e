"""Revoking a binding reaches settlements already started (R15, R13): a confirm after the
revoke is refused, and the revoke closes the payer's open settlements for the relative."""

import json

from postpay.extensions import db
from postpay.insurance.models import InsuranceSettlement
from tests.conftest import bearer


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

