"""The WeChat Pay v3 client and the sandbox checking each other's signatures."""

import pytest
import requests

from wechat import pay


def client_for(app, **override):
    cfg = app.config
    with open(cfg["WECHATPAY_PRIVATE_KEY_PATH"]) as f:
        private = f.read()
    with open(override.pop("public_key_path", cfg["WECHATPAY_PUBLIC_KEY_PATH"])) as f:
        public = f.read()
    args = (
        dict(
            mchid=cfg["WECHATPAY_MCHID"],
            appid=cfg["WECHAT_APPID"],
            serial_no=cfg["WECHATPAY_CERT_SERIAL"],
            private_key_pem=private,
            public_key_pem=public,
            public_key_id=cfg["WECHATPAY_PUBLIC_KEY_ID"],
            apiv3_key=cfg["WECHATPAY_APIV3_KEY"],
            notify_url=cfg["WECHATPAY_NOTIFY_URL"],
            gateway=cfg["LIVE_URL"] + "/sandbox/wechatpay",
        )
        | override
    )
    return pay.WeChatPay(**args)


def test_the_sandbox_refuses_a_request_not_signed_by_our_merchant_key(app):
    body = b'{"mchid":"1900000109","out_trade_no":"P1","amount":{"total":1}}'
    resp = requests.post(
        app.config["LIVE_URL"] + "/sandbox/wechatpay/v3/pay/transactions/jsapi",
        data=body,
        headers={
            "Authorization": 'WECHATPAY2-SHA256-RSA2048 mchid="1900000109",nonce_str="n",'
            'signature="Zm9yZ2Vk",timestamp="1",serial_no="X"'
        },
        timeout=5,
    )
    assert resp.status_code == 401 and resp.json()["code"] == "SIGN_ERROR"
    wrong_serial = client_for(app, serial_no="NOT_OUR_SERIAL")
    with pytest.raises(pay.PayError) as e:
        wrong_serial.query("P1", "1900000109")
    assert e.value.code == "SIGN_ERROR"


def test_an_answer_not_signed_by_the_wechat_pay_key_is_refused(app):
    good = client_for(app)
    order = {
        "appid": app.config["WECHAT_APPID"],
        "mchid": app.config["WECHATPAY_MCHID"],
        "description": "x",
        "out_trade_no": "PTEST1",
        "notify_url": "http://127.0.0.1:9/n",
        "amount": {"total": 100, "currency": "CNY"},
        "payer": {"openid": "o"},
    }
    assert good.jsapi(order).startswith("wx")
    assert good.query("PTEST1", app.config["WECHATPAY_MCHID"])["trade_state"] == "NOTPAY"
    forged_key = app.config["WECHATPAY_PRIVATE_KEY_PATH"].replace("private", "public")  # the merchant's, not WeChat's
    suspicious = client_for(app, public_key_path=forged_key)
    with pytest.raises(pay.PayError) as e:
        suspicious.query("PTEST1", app.config["WECHATPAY_MCHID"])
    assert e.value.code == "SIGNATURE"
    with pytest.raises(pay.PayError) as e:
        good.query("P-NOT-THERE", app.config["WECHATPAY_MCHID"])
    assert e.value.code == "ORDER_NOT_EXIST"
    changed = dict(order, amount={"total": 200, "currency": "CNY"})
    with pytest.raises(pay.PayError) as e:
        good.jsapi(changed)  # the same out_trade_no with other content
    assert e.value.message == "商户订单号重复"
