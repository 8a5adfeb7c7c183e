"""The wechatpayv3 SDK (minibear2021/wechatpayv3) as the merchant, unchanged but for its gateway,
against the sandbox over HTTP: it signs /v3/... as it would for api.mch.weixin.qq.com and checks
every answer's signature with the WeChat Pay public key (it raises when one fails)."""

import json

import pytest
import requests
from wechatpayv3 import WeChatPay, WeChatPayType
from wechatpayv3.utils import load_public_key

from tests.wechat.test_partner import HA, NT, partner_order

NOT_FOUND = 404


def sdk(app, inbox, partner_mode=False):
    cfg = app.config
    with open(cfg["WECHATPAY_PRIVATE_KEY_PATH"]) as f:
        private = f.read()
    with open(cfg["WECHATPAY_PUBLIC_KEY_PATH"]) as f:
        public = f.read()
    client = WeChatPay(
        wechatpay_type=WeChatPayType.MINIPROG,
        mchid=cfg["WECHATPAY_MCHID"],
        private_key=private,
        cert_serial_no=cfg["WECHATPAY_CERT_SERIAL"],
        appid=cfg["WECHAT_APPID"],
        apiv3_key=cfg["WECHATPAY_APIV3_KEY"],
        notify_url=inbox.url,
        partner_mode=partner_mode,
        public_key=public,
        public_key_id=cfg["WECHATPAY_PUBLIC_KEY_ID"],
        timeout=5,
    )
    client._core._gate_way = cfg["LIVE_URL"] + "/sandbox/wechatpay"  # the SDK's one gateway setting
    return client


def answer(result, status=200):
    code, text = result
    assert code == status, text
    return json.loads(text) if text else None


def user_pays(app, no):
    return requests.post(app.config["LIVE_URL"] + "/sandbox/wechatpay/orders/%s/pay" % no, json={}, timeout=5).json()


def test_the_sdk_orders_queries_pays_refunds_and_closes_as_a_direct_merchant(app, inbox):
    wx = sdk(app, inbox)
    sp = app.config["WECHATPAY_MCHID"]  # a hospital that is the provider itself: the direct APIs
    amount = {"total": 800, "currency": "CNY"}
    prepay = answer(wx.pay("门诊费用", "SDTEST-1", amount, payer={"openid": "o-sdk"}, pay_type=WeChatPayType.JSAPI))
    assert prepay["prepay_id"].startswith("wx")
    assert answer(wx.query(out_trade_no="SDTEST-1"))["trade_state"] == "NOTPAY"
    assert user_pays(app, "SDTEST-1")["delivered"] is True
    notified = wx.callback(*inbox.last())  # verified with the WeChat Pay public key, then decrypted
    assert notified["resource"]["mchid"] == sp and notified["resource"]["trade_state"] == "SUCCESS"
    paid = answer(wx.query(out_trade_no="SDTEST-1"))
    assert (paid["mchid"], paid["trade_state"], paid["amount"]["total"]) == (sp, "SUCCESS", 800)
    refund = answer(wx.refund("SDTEST-R1", {"refund": 300, "total": 800, "currency": "CNY"}, out_trade_no="SDTEST-1"))
    assert refund["status"] == "PROCESSING" and refund["amount"]["refund"] == 300

    answer(wx.pay("门诊费用", "SDTEST-2", amount, payer={"openid": "o-sdk"}, pay_type=WeChatPayType.JSAPI))
    answer(wx.close("SDTEST-2"), 204)
    assert answer(wx.query(out_trade_no="SDTEST-2"))["trade_state"] == "CLOSED"
    code, text = wx.query(out_trade_no="SDTEST-NONE")
    assert code == NOT_FOUND and json.loads(text)["code"] == "ORDER_NOT_EXIST"


def test_the_sdk_as_a_service_provider_for_a_registered_sub_merchant(app, inbox):
    wx = sdk(app, inbox, partner_mode=True)
    sp = app.config["WECHATPAY_MCHID"]
    order = partner_order("SPTEST-1")
    placed = wx.pay(
        order["description"],
        "SPTEST-1",
        order["amount"],
        payer=order["payer"],
        time_expire=order["time_expire"],
        attach=order["attach"],
        sub_mchid=NT,
        pay_type=WeChatPayType.JSAPI,
    )
    assert answer(placed)["prepay_id"].startswith("wx")
    found = answer(wx.query(out_trade_no="SPTEST-1", sub_mchid=NT))
    assert (found["sp_mchid"], found["sub_mchid"], found["trade_state"]) == (sp, NT, "NOTPAY")
    assert user_pays(app, "SPTEST-1")["delivered"] is True
    resource = wx.callback(*inbox.last())["resource"]  # the SDK verifies and decrypts the partner notification
    assert (resource["sp_mchid"], resource["sub_mchid"], resource["payer"]["sp_openid"]) == (sp, NT, "o-sp-user")
    by_id = answer(wx.query(transaction_id=resource["transaction_id"], sub_mchid=NT))
    assert by_id["out_trade_no"] == "SPTEST-1" and by_id["trade_state"] == "SUCCESS"
    refund = wx.refund("SPR-1", {"refund": 500, "total": 500, "currency": "CNY"}, out_trade_no="SPTEST-1", sub_mchid=NT)
    assert answer(refund)["amount"]["refund"] == 500
    code, text = wx.query(out_trade_no="SPTEST-1", sub_mchid=HA)
    assert code == NOT_FOUND and json.loads(text)["code"] == "ORDER_NOT_EXIST"

    answer(
        wx.pay(
            "门诊费用", "SPTEST-2", order["amount"], payer=order["payer"], sub_mchid=HA, pay_type=WeChatPayType.JSAPI
        )
    )
    answer(wx.close("SPTEST-2", sub_mchid=HA), 204)
    assert answer(wx.query(out_trade_no="SPTEST-2", sub_mchid=HA))["trade_state"] == "CLOSED"


def test_the_sdk_refuses_an_answer_the_sandbox_did_not_sign_with_the_wechat_pay_key(app, inbox):
    wx = sdk(app, inbox)
    with open(app.config["WECHATPAY_PRIVATE_KEY_PATH"].replace("private", "public")) as f:
        wx._core._public_key = load_public_key(f.read())  # the merchant's own key, not WeChat's
    with pytest.raises(Exception, match="failed to verify the signature"):
        wx.pay(
            "门诊费用", "SDTEST-9", {"total": 1, "currency": "CNY"}, payer={"openid": "o"}, pay_type=WeChatPayType.JSAPI
        )
