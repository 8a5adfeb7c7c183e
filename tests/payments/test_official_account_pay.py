"""Paying in the official account (公众号, issue 22 part 3; R11, R13): the JSAPI order goes in the
app the payer signed in with, as docs/api.md's merchant model says: the provider's official account
as sp_appid with payer.sp_openid, the hospital's own as sub_appid with payer.sub_openid, a combine
order with combine_appid. The WeixinJSBridge parameters are signed over that appid; the
notification must name it. The same reserve, ledger and notifications as the mini-program's."""

import base64
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from postpay.billing.models import Bill, BillStatus
from postpay.extensions import db
from postpay.payments.models import LedgerEntry, Payment, PaymentOrder, PaymentStatus
from tests.conftest import bearer
from tests.oa import MP_APPID, OA_CONFIG, son_and_mum

NT01_MCHID = "1900000109"


@pytest.fixture
def config(config):
    return config | OA_CONFIG


@pytest.fixture
def oa_family(app, login, oa_login, verify, person, signed, bind):
    return son_and_mum(app, login, oa_login, verify, person, signed, bind, "p", "孙", ("13599990011", "13599990012"))


def stored_order(app, out_trade_no):
    """The order as the sandbox (WeChat) keeps it: exactly what we sent."""
    return json.loads(app.extensions["redis"].get("sbx:pay:order:" + out_trade_no))["body"]


def pay_sign_ok(app, rp, appid):
    with open(app.config["WECHATPAY_PRIVATE_KEY_PATH"].replace("private", "public"), "rb") as f:
        merchant_public = load_pem_public_key(f.read())
    message = "%s\n%s\n%s\n%s\n" % (appid, rp["timeStamp"], rp["nonceStr"], rp["package"])
    merchant_public.verify(base64.b64decode(rp["paySign"]), message.encode(), PKCS1v15(), SHA256())
    return True


def bridge(client, rp):
    """The official account's page calls WeixinJSBridge getBrandWCPayRequest with ``rp``."""
    return client.post("/sandbox/wechat/jsbridge/getBrandWCPayRequest", json=rp).get_json()


def test_an_official_account_user_pays_with_the_provider_account_as_sp_appid_R13(app, client, oa_family, due_bill, pay):
    own = due_bill(oa_family["son_patient"], "OA1", 2000)
    mums = due_bill(oa_family["mum_patient"], "OA2", 30000)
    resp = pay(oa_family["son"], [own, mums])
    assert resp.status_code == 201, resp.get_json()
    payment, rp = resp.get_json()["payment"], resp.get_json()["request_payment"]
    body = stored_order(app, payment["out_trade_no"])
    assert (body["sp_appid"], body["sub_mchid"], body["payer"]) == (MP_APPID, NT01_MCHID, {"sp_openid": "oa-p-son"})
    assert "sub_appid" not in body
    assert rp["appId"] == MP_APPID and rp["signType"] == "RSA" and pay_sign_ok(app, rp, MP_APPID)
    # the mini-program cannot pay an order of the official account (another app, another openid)
    refused = client.post("/sandbox/wechat/miniprogram/requestPayment", json=rp).get_json()
    assert refused["errMsg"].startswith("requestPayment:fail")
    answer = bridge(client, rp)
    assert answer["err_msg"] == "get_brand_wcpay_request:ok" and answer["notification"]["status"] == 200
    shown = client.get("/api/v1/payments/" + payment["id"], headers=bearer(oa_family["son"])).get_json()["payment"]
    assert shown["status"] == "paid"
    with app.app_context():
        assert {b.status for b in Bill.query.all()} == {BillStatus.paid}
        assert sorted(e.amount_fen for e in LedgerEntry.query.all()) == [2000, 30000]
        order = PaymentOrder.query.one()
        assert (order.appid, order.sub_appid) == (MP_APPID, None)
    assert app.extensions["redis"].llen("alerts:payments") == 0


def test_bills_at_two_hospitals_make_one_combine_order_in_the_official_account(app, client, oa_family, due_bill, pay):
    a = due_bill(oa_family["son_patient"], "OC1", 2000, "NT01")
    b = due_bill(oa_family["mum_patient"], "OC2", 5000, "HA01")
    resp = pay(oa_family["son"], [a, b]).get_json()
    payment, rp = resp["payment"], resp["request_payment"]
    body = stored_order(app, payment["out_trade_no"])
    assert body["combine_appid"] == MP_APPID and body["combine_payer_info"] == {"openid": "oa-p-son"}
    assert rp["appId"] == MP_APPID and pay_sign_ok(app, rp, MP_APPID)
    assert bridge(client, rp)["err_msg"] == "get_brand_wcpay_request:ok"
    shown = client.get("/api/v1/payments/" + payment["id"], headers=bearer(oa_family["son"])).get_json()["payment"]
    assert shown["status"] == "paid" and all(o["paid"] for o in shown["orders"])
    with app.app_context():
        assert sorted(e.amount_fen for e in LedgerEntry.query.all()) == [2000, 5000]
        assert {o.appid for o in PaymentOrder.query.all()} == {MP_APPID}


def own_the_account(runner, client, sandbox_binding=True):
    """NT01 owns the official account: ``hospital add --oa-appid``; WeChat Pay has it bound to
    NT01's sub-merchant (or, without ``sandbox_binding``, does not)."""
    result = runner.invoke(
        args=["hospital", "add", "NT01", "南通市第一人民医院", "--mchid", NT01_MCHID, "--his-secret", "his-secret-nt01"]
        + ["--oa-appid", MP_APPID]
    )
    assert result.exit_code == 0, result.output
    if sandbox_binding:
        sub = {"sub_mchid": NT01_MCHID, "sub_appids": [MP_APPID]}
        assert client.post("/sandbox/wechatpay/sub-merchants", json=sub).status_code == 201


def test_a_hospital_owned_official_account_goes_as_sub_appid_with_sub_openid(
    app, client, runner, oa_family, due_bill, pay, his
):
    own_the_account(runner, client)
    listed = runner.invoke(args=["hospital", "list"]).output
    assert "oa_appid=%s" % MP_APPID in [
        f for line in listed.splitlines() if line.startswith("NT01") for f in line.split("\t")
    ]
    bill = due_bill(oa_family["son_patient"], "OS1", 4200)
    resp = pay(oa_family["son"], [bill]).get_json()
    payment, rp = resp["payment"], resp["request_payment"]
    body = stored_order(app, payment["out_trade_no"])
    assert (body["sp_appid"], body["sub_appid"]) == (app.config["WECHAT_APPID"], MP_APPID)
    assert body["payer"] == {"sub_openid": "oa-p-son"}
    assert rp["appId"] == MP_APPID and pay_sign_ok(app, rp, MP_APPID)  # 调起支付 in the sub_appid
    assert bridge(client, rp)["err_msg"] == "get_brand_wcpay_request:ok"
    with app.app_context():
        order = PaymentOrder.query.one()
        assert (order.appid, order.sub_appid) == (app.config["WECHAT_APPID"], MP_APPID)
        assert Payment.query.one().status == PaymentStatus.paid and LedgerEntry.query.one().amount_fen == 4200
    assert app.extensions["redis"].llen("alerts:payments") == 0


def test_a_sub_appid_the_sub_merchant_has_not_bound_is_refused_and_the_bill_stays_due(
    app, client, runner, oa_family, due_bill, pay
):
    own_the_account(runner, client, sandbox_binding=False)
    bill = due_bill(oa_family["son_patient"], "OS2", 4200)
    resp = pay(oa_family["son"], [bill])
    assert resp.status_code == 502 and resp.get_json()["error"]["code"] == "UPSTREAM_ERROR"
    with app.app_context():
        assert db.session.get(Bill, bill).status == BillStatus.due and LedgerEntry.query.count() == 0


def test_a_mini_program_user_still_pays_in_the_mini_program(app, client, person, signed, due_bill, pay):
    token, patient = person("o-p-mini")
    assert signed(token, patient["id"], "13599990013").status_code == 201
    resp = pay(token, [due_bill(patient, "MP1", 1500)]).get_json()
    rp, no = resp["request_payment"], resp["payment"]["out_trade_no"]
    assert rp["appId"] == app.config["WECHAT_APPID"] and pay_sign_ok(app, rp, app.config["WECHAT_APPID"])
    assert stored_order(app, no)["payer"] == {"sp_openid": "o-p-mini"}
    assert bridge(client, rp)["err_msg"] == "get_brand_wcpay_request:fail"  # not the official account's order
    assert (
        client.post("/sandbox/wechat/miniprogram/requestPayment", json=rp).get_json()["errMsg"] == "requestPayment:ok"
    )
    with app.app_context():
        assert LedgerEntry.query.one().amount_fen == 1500


@pytest.fixture
def oa_pending(oa_family, due_bill, pay):
    bill = due_bill(oa_family["mum_patient"], "OW1", 30000)
    resp = pay(oa_family["son"], [bill]).get_json()
    return resp["payment"] | {"bill": bill, "rp": resp["request_payment"]}


def test_a_forged_pay_sign_or_another_apps_appid_pays_nothing(app, client, oa_pending):
    forged = dict(oa_pending["rp"], paySign=base64.b64encode(b"x" * 256).decode())
    assert bridge(client, forged) == {"err_msg": "get_brand_wcpay_request:fail", "err_desc": "支付验证签名失败"}
    other = dict(oa_pending["rp"], appId=app.config["WECHAT_APPID"])
    assert bridge(client, other)["err_desc"] == "appId须为公众号的appid"
    assert client.post("/sandbox/wechat/miniprogram/requestPayment", json=oa_pending["rp"]).get_json() == {
        "errMsg": "requestPayment:fail 当前应用与下单appid不一致"
    }
    with app.app_context():
        assert db.session.get(Bill, oa_pending["bill"]).status == BillStatus.due and LedgerEntry.query.count() == 0


@pytest.mark.parametrize(
    "tamper",
    [
        {"sp_appid": "wx0000000000000000"},  # the mini-program's appid is set below
        {"amount": 29999},
        {"sub_appid": MP_APPID},
    ],
)
def test_a_notification_naming_another_appid_or_amount_books_nothing_and_alerts(app, client, oa_pending, tamper):
    if tamper.get("sp_appid"):
        tamper = {"sp_appid": app.config["WECHAT_APPID"]}  # the provider's other app: still not this order's
    resp = client.post("/sandbox/wechatpay/orders/%s/pay" % oa_pending["out_trade_no"], json={"tamper": tamper})
    assert resp.get_json()["status"] == 200  # answered, so WeChat stops; people look at the alert
    alert = json.loads(app.extensions["redis"].lindex("alerts:payments", 0))
    assert alert["kind"] == "MISMATCH" and alert["order"] == oa_pending["out_trade_no"]
    with app.app_context():
        assert db.session.get(Bill, oa_pending["bill"]).status == BillStatus.due and LedgerEntry.query.count() == 0


def test_a_notification_delivered_twice_is_booked_once(app, client, oa_pending):
    assert bridge(client, oa_pending["rp"])["notification"]["status"] == 200
    for _ in range(3):
        renotified = client.post("/sandbox/wechatpay/orders/%s/renotify" % oa_pending["out_trade_no"])
        assert renotified.get_json()["status"] == 200
    with app.app_context():
        assert LedgerEntry.query.count() == 1 and Payment.query.one().status == PaymentStatus.paid
    assert app.extensions["redis"].llen("alerts:payments") == 0
