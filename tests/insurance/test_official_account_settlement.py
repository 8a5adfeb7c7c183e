"""A medical-insurance settlement confirmed in the official account (issue 22 part 3; R13): the
med-ins order and its cash part's JSAPI order go in the payer's app, as the merchant model says
(the provider's official account as appid with openid; the hospital's own as sub_appid with
sub_openid), and settle through the same notifications."""

import json

import pytest

from tests.conftest import bearer
from tests.insurance.conftest import alerts, sandbox_order
from tests.oa import MP_APPID, OA_CONFIG, son_and_mum

NT01_MCHID = "1900000109"


@pytest.fixture
def config(config):
    return config | OA_CONFIG


@pytest.fixture
def oa_family(app, login, oa_login, verify, person, signed, bind):
    """The son on the employee scheme, his mother a resident."""
    fixtures = (app, login, oa_login, verify, person, signed, bind)
    return son_and_mum(*fixtures, "i", "周", ("13566660011", "13566660012"), insurance_type="resident")


def settle(client, app, token, bill):
    quoted = client.post("/api/v1/insurance-settlements", json={"bill_ids": [bill]}, headers=bearer(token))
    assert quoted.status_code == 201, quoted.get_json()
    s = quoted.get_json()["settlement"]
    confirmed = client.post("/api/v1/insurance-settlements/%s/confirm" % s["id"], json={}, headers=bearer(token))
    assert confirmed.status_code == 200, confirmed.get_json()
    return s, confirmed.get_json()


def cash_order(app, prepay):
    no = app.extensions["redis"].get("sbx:pay:prepay:" + prepay[len("prepay_id=") :]).decode()
    return json.loads(app.extensions["redis"].get("sbx:pay:order:" + no))["body"]


def test_a_settlement_confirmed_in_the_official_account_is_ordered_and_settled_there_R13(
    app, client, redis, oa_family, due_bill
):
    bill = due_bill(oa_family["mum_patient"], "IOA1")
    s, confirmed = settle(client, app, oa_family["son"], bill)
    sent = sandbox_order(redis, s["out_trade_no"])["body"]
    assert (sent["appid"], sent["openid"], sent["sub_mchid"]) == (MP_APPID, "oa-i-son", NT01_MCHID)
    assert "sub_appid" not in sent
    rp = confirmed["request_payment"]
    assert rp["appId"] == MP_APPID and confirmed["request_medical_insurance_pay"]["appId"] == MP_APPID
    cash = cash_order(app, rp["package"])
    assert (cash["sp_appid"], cash["payer"]) == (MP_APPID, {"sp_openid": "oa-i-son"})
    paid = client.post("/sandbox/wechatpay/med-ins/orders/%s/pay" % s["out_trade_no"], json={})
    assert paid.status_code == 200, paid.get_json()
    shown = client.get("/api/v1/insurance-settlements/" + s["id"], headers=bearer(oa_family["son"]))
    assert shown.get_json()["settlement"]["status"] == "settled" and alerts(redis) == []


def test_the_hospitals_own_official_account_goes_as_sub_appid_in_both_orders(
    app, client, runner, redis, oa_family, due_bill
):
    result = runner.invoke(
        args=["hospital", "add", "NT01", "南通市第一人民医院", "--mchid", NT01_MCHID, "--his-secret", "his-secret-nt01"]
        + ["--oa-appid", MP_APPID]
    )
    assert result.exit_code == 0, result.output
    client.post("/sandbox/wechatpay/sub-merchants", json={"sub_mchid": NT01_MCHID, "sub_appids": [MP_APPID]})
    bill = due_bill(oa_family["mum_patient"], "IOA2")
    s, confirmed = settle(client, app, oa_family["son"], bill)
    sent = sandbox_order(redis, s["out_trade_no"])["body"]
    assert (sent["appid"], sent["sub_appid"], sent["sub_openid"]) == (app.config["WECHAT_APPID"], MP_APPID, "oa-i-son")
    assert "openid" not in sent
    cash = cash_order(app, confirmed["request_payment"]["package"])
    assert (cash["sub_appid"], cash["payer"]) == (MP_APPID, {"sub_openid": "oa-i-son"})
    assert confirmed["request_payment"]["appId"] == MP_APPID
    assert client.post("/sandbox/wechatpay/med-ins/orders/%s/pay" % s["out_trade_no"], json={}).status_code == 200
    shown = client.get("/api/v1/insurance-settlements/" + s["id"], headers=bearer(oa_family["son"]))
    assert shown.get_json()["settlement"]["status"] == "settled" and alerts(redis) == []
