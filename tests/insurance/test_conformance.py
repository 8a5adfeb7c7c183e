"""Conformance (issue 16, point 6): the medical-insurance order and its cash JSAPI order our client
sends fit the schemas written from the WeChat Pay reference, as the published examples do."""

import json

from tests.insurance.conftest import sandbox_order
from wechat.sandbox import rules


def test_our_med_ins_order_and_its_cash_order_fit_the_reference(app, redis, family, due_bill, ordered):
    bill = due_bill(family["mum_patient"], "IC1")
    settlement = ordered(family["son"], [bill])["settlement"]
    body = sandbox_order(redis, settlement["out_trade_no"])["body"]
    assert rules.problem("med_ins_order", body) is None and body["pay_for_relatives"] is True
    cash = json.loads(redis.get("sbx:pay:order:" + redis.get("sbx:pay:prepay:" + body["prepay_id"]).decode()))
    assert rules.problem("partner_jsapi", cash["body"]) is None  # the hospital is our sub-merchant
