"""What the sandbox refuses in a medical-insurance order as WeChat would (the people behind it, the
fields of the provider's body, the serial of the key it was encrypted with), what the quote refuses
(a hospital without its 定点医药机构编号; an expired payAuthNo: test_pay_auth.py), and the refund sync after a 6203
(``/v3/med-ins/refunds/notify``)."""

import hashlib
import json

import pytest

from postpay.extensions import db
from postpay.hospitals.models import Hospital
from postpay.insurance.models import InsuranceRefund
from postpay.payments.channels import medins
from postpay.payments.models import Refund
from tests.conftest import run_jobs
from tests.insurance.conftest import alerts, sandbox_order
from tests.wechat.test_pay_client import client_for
from wechat import pay, pay_medins

ORDERS = "/v3/med-ins/orders"


@pytest.fixture
def placed(redis, family, due_bill, ordered):
    """A valid order as our client sent it (the son pays for his mother), for variations on it."""
    bill = due_bill(family["mum_patient"], "S1", ("1", "exam", "CT检查", 1, 20000), ("2", "lab", "血常规", 1, 10000))
    return sandbox_order(redis, ordered(family["son"], [bill])["settlement"]["out_trade_no"])["body"]


def refused(app, body, **client_override):
    """WeChat's error for ``body`` sent as a new order (another out_trade_no)."""
    client = client_for(app, **client_override)
    with pytest.raises(pay.PayError) as e:
        pay_medins.create_order(client, body | {"out_trade_no": body["out_trade_no"] + "V"})
    return e.value


def test_the_old_plain_md5_digest_is_refused(app, placed, family):
    plain = hashlib.md5(family["mum_patient"]["id_number_plain"].encode()).hexdigest()
    err = refused(app, placed | {"relative": dict(placed["relative"], id_digest=plain)})
    assert (err.status, err.code) == (400, "PARAM_ERROR") and "解密失败" in err.message


def test_the_insured_must_be_the_person_behind_the_pay_auth_no(app, placed, family):
    client = client_for(app)
    # The son as payer and as "relative": not the mother whose fees were uploaded.
    son = pay_medins.person(client, "周明", family["son_patient"]["id_number_plain"])
    err = refused(app, placed | {"relative": son})
    assert err.code == "PARAM_ERROR" and "参保人不一致" in err.message
    # Paying "for himself" while the upload was his mother's.
    alone = {k: v for k, v in placed.items() if k != "relative"} | {"pay_for_relatives": False}
    assert "参保人不一致" in refused(app, alone).message
    # Another payAuthNo than the upload's.
    assert "pay_auth_no" in refused(app, placed | {"pay_auth_no": "AUTHSOMEONEELSE"}).message


@pytest.mark.parametrize(
    "change, field",
    [
        ({"sp_mchid": "1900000100"}, "/sp_mchid"),  # not a field of /v3/med-ins/orders: the signer is the provider
        ({"pay_for_relatives": True, "relative": None}, "/relative"),
        ({"city_id": "320600001"}, "/city_id"),  # string(8)
        ({"geo_location": "north"}, "/geo_location"),
        ({"serial_no": "S" * 21}, "/serial_no"),
    ],
)
def test_a_body_outside_the_provider_reference_is_param_error(app, placed, change, field):
    body = {k: v for k, v in (placed | change).items() if v is not None}
    err = refused(app, body)
    assert err.code == "PARAM_ERROR" and field in err.message, err.message


def test_insurance_only_carries_no_prepay_id(app, placed):
    err = refused(app, placed | {"mix_pay_type": "INSURANCE_ONLY"})
    assert err.code == "PARAM_ERROR"


def test_sensitive_fields_must_name_the_key_they_were_encrypted_with(app, placed):
    err = refused(app, placed, public_key_id="PUB_KEY_ID_0000000000000000000000000000")
    assert err.code == "PARAM_ERROR" and "Wechatpay-Serial" in err.message


def test_a_hospital_without_its_medins_codes_cannot_settle_with_insurance(app, family, due_bill, quote):
    with app.app_context():
        Hospital.query.filter_by(code="NT01").one().med_inst_no = None
        db.session.commit()
    bill = due_bill(family["mum_patient"], "S2")
    resp = quote(family["son"], [bill])
    assert resp.status_code == 409 and resp.get_json()["error"]["code"] == "MEDINS_NOT_CONFIGURED"
    assert "定点医药机构编号" in resp.get_json()["error"]["message"]


def test_a_6203_is_followed_by_the_refund_sync_to_wechat_once(app, client, redis, family, due_bill, ordered, his):
    bill = due_bill(family["mum_patient"], "S4", ("1", "exam", "CT检查", 1, 20000), ("2", "lab", "血常规", 1, 10000))
    s = ordered(family["son"], [bill])["settlement"]
    assert client.post("/sandbox/wechatpay/med-ins/orders/%s/pay" % s["out_trade_no"], json={}).status_code == 200
    his.open("/his/v1/visits/S4/items/2/void", json={"reason": "检查未做"})
    run_jobs(app)  # 6203, then the sync it queued
    told = sandbox_order(redis, s["out_trade_no"])["med_refunds"]
    with app.app_context():
        owed = InsuranceRefund.query.one()
        cash = Refund.query.one()
        assert list(told) == [cash.out_refund_no]  # the cash refund's number, as the reference asks
        assert told[cash.out_refund_no] | {"refund_time": None} == {
            "sub_mchid": "1900000109",
            "med_refund_total_fee": 6000,
            "med_refund_gov_fee": 6000,
            "med_refund_self_fee": 0,
            "med_refund_other_fee": 0,
            "refund_time": None,
            "out_refund_no": cash.out_refund_no,
        }
        medins.refund_sync(owed.id)  # the job again: the same notification, accepted once
    assert len(sandbox_order(redis, s["out_trade_no"])["med_refunds"]) == 1
    assert alerts(redis) == []


def test_the_refund_notify_rules(app, client, redis, family, due_bill, ordered):
    bill = due_bill(family["mum_patient"], "S5")
    s = ordered(family["son"], [bill])["settlement"]
    wx = client_for(app)
    body = {
        "sub_mchid": "1900000109",
        "med_refund_total_fee": 100,
        "med_refund_gov_fee": 100,
        "med_refund_self_fee": 0,
        "med_refund_other_fee": 0,
        "refund_time": "2026-11-21T10:00:00+08:00",
        "out_refund_no": "RFSANDBOX0001",
    }

    def told(changes, mix=s["mix_trade_no"]):
        with pytest.raises(pay.PayError) as e:
            pay_medins.notify_refund(wx, mix, body | changes)
        return e.value.status, e.value.code

    assert told({}) == (403, "RULE_LIMIT")  # not paid yet: nothing to give back
    client.post("/sandbox/wechatpay/med-ins/orders/%s/pay" % s["out_trade_no"], json={})
    assert told({"med_refund_gov_fee": 99}) == (403, "RULE_LIMIT")  # the parts must make the total
    assert told({}, mix="MIXUNKNOWN") == (404, "ORDER_NOT_EXIST")
    assert told({"sub_mchid": "1900000110"}) == (404, "ORDER_NOT_EXIST")  # another hospital's order
    assert told({"med_refund_total_fee": 18001, "med_refund_gov_fee": 18001}) == (403, "RULE_LIMIT")  # > insurance
    assert told({"refund_time": "yesterday"})[1] == "PARAM_ERROR"
    pay_medins.notify_refund(wx, s["mix_trade_no"], body)
    pay_medins.notify_refund(wx, s["mix_trade_no"], body)  # the same twice: one refund
    assert told({"med_refund_total_fee": 50, "med_refund_gov_fee": 50}) == (400, "INVALID_REQUEST")
    assert json.loads(redis.get("sbx:pay:medins:" + s["out_trade_no"]))["med_refunds"] == {"RFSANDBOX0001": body}
