"""Conformance (issue 16, point 6): what our client really sends fits the schemas the published
WeChat Pay examples fit, and the published notification shapes (single, combine, partner, refund)
go through our handler at /wechat/pay/notify, encrypted and signed with the sandbox's platform
key as WeChat would send them. The fixtures are in tests/wechat/fixtures, each naming its source."""

import base64
import json
import pathlib
import secrets
import time

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from wechatpayv3.utils import load_private_key, rsa_sign

from postpay.billing.models import Bill, BillStatus
from postpay.extensions import db
from postpay.hospitals.service import upsert_hospital
from postpay.payments.models import Payment, PaymentStatus, Refund
from tests.conftest import run_jobs
from wechat.sandbox import rules

FIXTURES = pathlib.Path(__file__).parents[1] / "wechat" / "fixtures"


def fixture(name):
    return json.loads((FIXTURES / name).read_text("utf-8"))


def sent(app, out_trade_no):
    """The body our client sent for an order, as the sandbox stored it on arrival."""
    return json.loads(app.extensions["redis"].get("sbx:pay:order:" + out_trade_no))["body"]


def deliver(app, client, published, resource):
    """POST a notification of ``published``'s shape carrying ``resource``: AES-256-GCM with the API v3
    key, signed with the platform key, headers as WeChat sets them."""
    cfg = app.config
    nonce = secrets.token_hex(6)
    plain = json.dumps(resource, ensure_ascii=False).encode()
    aad = published["original_type"].encode()
    cipher = AESGCM(cfg["SANDBOX_WECHATPAY_APIV3_KEY"].encode()).encrypt(nonce.encode(), plain, aad)
    body = json.dumps(
        {
            "id": "EV-2018022511223320873",
            "create_time": "2015-05-20T13:29:35+08:00",
            "resource_type": "encrypt-resource",
            "event_type": published["event_type"],
            "summary": published["summary"],
            "resource": {
                "original_type": published["original_type"],
                "algorithm": "AEAD_AES_256_GCM",
                "ciphertext": base64.b64encode(cipher).decode(),
                "associated_data": published["original_type"],
                "nonce": nonce,
            },
        },
        ensure_ascii=False,
    )
    with open(cfg["SANDBOX_WECHATPAY_PLATFORM_PRIVATE_KEY_PATH"]) as f:
        key = load_private_key(f.read())
    ts, sig_nonce = str(int(time.time())), secrets.token_hex(16)
    headers = {
        "Content-Type": "application/json",
        "Wechatpay-Timestamp": ts,
        "Wechatpay-Nonce": sig_nonce,
        "Wechatpay-Serial": cfg["SANDBOX_WECHATPAY_PUBLIC_KEY_ID"],
        "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
        "Wechatpay-Signature": rsa_sign(key, "%s\n%s\n%s\n" % (ts, sig_nonce, body)),
    }
    return client.post("/wechat/pay/notify", data=body.encode(), headers=headers)


def bill_status(app, bill_id):
    with app.app_context():
        return db.session.get(Bill, bill_id).status


@pytest.fixture
def provider_hospital(app):
    """A hospital that is the provider itself (its mchid is WECHATPAY_MCHID): paid through the direct APIs."""
    with app.app_context():
        upsert_hospital("SP01", "服务商自营医院", app.config["WECHATPAY_MCHID"], "his-secret-sp01")
        db.session.commit()
    return "SP01"


def test_our_jsapi_and_combine_bodies_fit_the_schemas_of_the_published_examples(
    app, family, due_bill, pay, provider_hospital
):
    one = pay(family["son"], [due_bill(family["mum_patient"], "K1", 30000)]).get_json()["payment"]
    partner = sent(app, one["out_trade_no"])  # a hospital that is our sub-merchant: the partner API
    assert rules.problem("partner_jsapi", partner) is None
    assert (partner["sp_mchid"], partner["sub_mchid"]) == (app.config["WECHATPAY_MCHID"], "1900000109")
    direct = pay(family["son"], [due_bill(family["mum_patient"], "K0", 100, provider_hospital)], key="key-direct-1")
    body = sent(app, direct.get_json()["payment"]["out_trade_no"])
    assert rules.problem("jsapi", body) is None and body["mchid"] == app.config["WECHATPAY_MCHID"]
    a = due_bill(family["son_patient"], "K2", 2000, "NT01")
    b = due_bill(family["mum_patient"], "K3", 5000, "HA01")
    both = pay(family["son"], [a, b], key="key-combine-01").get_json()["payment"]
    body = sent(app, both["out_trade_no"])
    assert rules.problem("combine_jsapi", body) is None and len(body["sub_orders"]) == 2
    assert {(s["mchid"], s["sub_mchid"]) for s in body["sub_orders"]} == {
        (app.config["WECHATPAY_MCHID"], "1900000109"),
        (app.config["WECHATPAY_MCHID"], "1900000110"),
    }


def test_a_refund_with_a_long_chinese_reason_is_sent_within_80_bytes(app, client, family, due_bill, pay, his):
    bill = due_bill(family["mum_patient"], "K4", 30000)
    payment = pay(family["son"], [bill]).get_json()["payment"]
    client.post("/sandbox/wechatpay/orders/%s/pay" % payment["out_trade_no"])
    reason = "患者因病情变化未做此项检查，经医生确认后申请撤销该项目并原路退还费用"  # 34 characters, 102 bytes
    assert his.open("/his/v1/visits/K4/items/1/void", json={"reason": reason}).status_code == 200
    run_jobs(app)
    with app.app_context():
        assert Refund.query.one().status == "processing"  # the sandbox took the body: the reason fits


def test_the_published_single_transaction_goes_through_our_handler(
    app, client, family, due_bill, pay, provider_hospital
):
    bill = due_bill(family["mum_patient"], "K5", 30000, provider_hospital)
    payment = pay(family["son"], [bill]).get_json()["payment"]
    order, published = sent(app, payment["out_trade_no"]), fixture("notify_transaction.json")
    resource = published["resource"] | {
        "appid": order["appid"],
        "mchid": order["mchid"],
        "out_trade_no": order["out_trade_no"],
        "transaction_id": "4200000%021d" % secrets.randbelow(10**21),
        "payer": {"openid": order["payer"]["openid"]},
    }
    resource["amount"] = resource["amount"] | {"total": 30000, "payer_total": 30000}
    assert deliver(app, client, published, resource).status_code == 200
    assert bill_status(app, bill) == BillStatus.paid


def test_the_published_combine_transaction_goes_through_our_handler(app, client, family, due_bill, pay):
    a = due_bill(family["son_patient"], "K6", 2000, "NT01")
    b = due_bill(family["mum_patient"], "K7", 5000, "HA01")
    payment = pay(family["son"], [a, b]).get_json()["payment"]
    order, published = sent(app, payment["out_trade_no"]), fixture("notify_combine.json")
    resource = published["resource"] | {
        "combine_appid": order["combine_appid"],
        "combine_mchid": order["combine_mchid"],
        "combine_out_trade_no": order["combine_out_trade_no"],
        "combine_payer_info": order["combine_payer_info"],
    }
    resource["sub_orders"] = [
        shape
        | {
            "mchid": mine["mchid"],
            "sub_mchid": mine["sub_mchid"],
            "out_trade_no": mine["out_trade_no"],
            "attach": mine["attach"],
            "transaction_id": "4200000%021d" % secrets.randbelow(10**21),
            "amount": shape["amount"]
            | {"total_amount": mine["amount"]["total_amount"], "payer_amount": mine["amount"]["total_amount"]},
        }
        for shape, mine in zip(published["resource"]["sub_orders"], order["sub_orders"], strict=True)
    ]
    assert deliver(app, client, published, resource).status_code == 200
    assert bill_status(app, a) == bill_status(app, b) == BillStatus.paid


def test_the_published_partner_transaction_goes_through_our_handler(app, client, family, due_bill, pay):
    bill = due_bill(family["mum_patient"], "K8", 30000)
    payment = pay(family["son"], [bill]).get_json()["payment"]
    order, published = sent(app, payment["out_trade_no"]), fixture("notify_partner_transaction.json")
    resource = published["resource"] | {
        "sp_appid": order["sp_appid"],
        "sp_mchid": order["sp_mchid"],
        "sub_mchid": order["sub_mchid"],
        "out_trade_no": order["out_trade_no"],
        "transaction_id": "4200000%021d" % secrets.randbelow(10**21),
        "payer": {"sp_openid": order["payer"]["sp_openid"]},
    }
    resource.pop("sub_appid")
    resource["amount"] = resource["amount"] | {"total": 30000, "payer_total": 30000}
    assert deliver(app, client, published, resource).status_code == 200
    assert bill_status(app, bill) == BillStatus.paid
    with app.app_context():
        assert db.session.get(Payment, payment["id"]).status == PaymentStatus.paid
    assert app.extensions["redis"].lrange("alerts:payments", 0, -1) == []


def test_the_published_refund_notification_goes_through_our_handler(app, client, family, due_bill, pay, his):
    bill = due_bill(family["mum_patient"], "K9", 30000)
    payment = pay(family["son"], [bill]).get_json()["payment"]
    client.post("/sandbox/wechatpay/orders/%s/pay" % payment["out_trade_no"])
    assert his.open("/his/v1/visits/K9/items/1/void", json={"reason": "检查未做"}).status_code == 200
    run_jobs(app)
    with app.app_context():
        refund = Refund.query.one()
        out_refund_no, refund_id = refund.out_refund_no, refund.refund_id
    order, published = sent(app, payment["out_trade_no"]), fixture("notify_refund.json")
    resource = published["resource"] | {
        "sp_mchid": order["sp_mchid"],
        "sub_mchid": order["sub_mchid"],
        "out_trade_no": order["out_trade_no"],
        "out_refund_no": out_refund_no,
        "refund_id": refund_id,
        "amount": {"total": 30000, "refund": 30000, "payer_total": 30000, "payer_refund": 30000},
    }
    assert deliver(app, client, published, resource).status_code == 200
    with app.app_context():
        assert Refund.query.one().status == "succeeded"
