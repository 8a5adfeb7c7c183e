"""The sandbox speaks WeChat's and the SMS gateway's wire formats, over real HTTP."""

import requests

from wechat.miniprogram import MiniProgram, WeChatError
from wechat.sms import SandboxSms


def wx(app):
    cfg = app.config
    return MiniProgram(
        cfg["WECHAT_APPID"],
        cfg["WECHAT_SECRET"],
        app.extensions["redis"],
        api_base=cfg["LIVE_URL"] + "/sandbox/wechat/api",
    )


def test_jscode2session_speaks_wechat_json(app, client):
    code = client.post("/sandbox/wechat/login-codes", json={"openid": "o-s1", "unionid": "u-s1"}).get_json()["code"]
    url = app.config["LIVE_URL"] + "/sandbox/wechat/api/sns/jscode2session"
    params = {
        "appid": app.config["WECHAT_APPID"],
        "secret": app.config["WECHAT_SECRET"],
        "js_code": code,
        "grant_type": "authorization_code",
    }
    first = requests.get(url, params=params, timeout=5)
    assert first.status_code == 200
    body = first.json()
    assert body["openid"] == "o-s1" and body["unionid"] == "u-s1" and body["session_key"]
    reused = requests.get(url, params=params, timeout=5).json()
    assert reused["errcode"] == 40029 and "invalid code" in reused["errmsg"]


def test_token_endpoint_checks_the_app_credentials(app):
    url = app.config["LIVE_URL"] + "/sandbox/wechat/api/cgi-bin/token"
    good = {
        "grant_type": "client_credential",
        "appid": app.config["WECHAT_APPID"],
        "secret": app.config["WECHAT_SECRET"],
    }
    answer = requests.get(url, params=good, timeout=5).json()
    assert answer["expires_in"] == 7200 and len(answer["access_token"]) > 20
    assert requests.get(url, params=dict(good, secret="x"), timeout=5).json()["errcode"] == 40125
    assert requests.get(url, params=dict(good, appid="x"), timeout=5).json()["errcode"] == 40013


def test_getuserphonenumber_needs_a_valid_access_token(app, client):
    code = client.post("/sandbox/wechat/phone-codes", json={"phone": "13600000000"}).get_json()["code"]
    url = app.config["LIVE_URL"] + "/sandbox/wechat/api/wxa/business/getuserphonenumber"
    answer = requests.post(url, params={"access_token": "forged"}, json={"code": code}, timeout=5).json()
    assert answer["errcode"] == 40001
    info = wx(app).phone_number(code)
    assert info["purePhoneNumber"] == "13600000000" and info["countryCode"] == "86"
    assert info["watermark"]["appid"] == app.config["WECHAT_APPID"]


def test_phone_codes_refuse_non_mainland_numbers(client):
    resp = client.post("/sandbox/wechat/phone-codes", json={"phone": "+1 555 0100"})
    assert resp.status_code == 422 and resp.get_json()["error"]["code"] == "VALIDATION_ERROR"


def test_subscribe_messages_land_in_the_users_inbox(app, client):
    try:
        wx(app).send_subscribe_message("o-s2", "TPL_BILL_DUE", {"amount5": {"value": "¥1"}})
    except WeChatError as e:
        assert e.errcode == 43101  # not accepted yet
    else:
        raise AssertionError("a message without an accepted subscription must be refused")
    client.post("/sandbox/wechat/subscriptions", json={"openid": "o-s2", "template_id": "TPL_BILL_DUE"})
    wx(app).send_subscribe_message("o-s2", "TPL_BILL_DUE", {"amount5": {"value": "¥12.30"}}, page="pages/bill")
    messages = client.get("/sandbox/wechat/messages?openid=o-s2").get_json()["messages"]
    assert messages[0]["template_id"] == "TPL_BILL_DUE" and messages[0]["data"]["amount5"]["value"] == "¥12.30"
    try:
        wx(app).send_subscribe_message("o-s2", "", {})
    except WeChatError as e:
        assert e.errcode == 47003
    else:
        raise AssertionError("an empty template id must be refused")


def test_sms_outbox_keeps_messages_newest_last(app, client):
    gateway = SandboxSms(app.config["LIVE_URL"] + "/sandbox", "市一院")
    gateway.send("13512345678", "verify_code", ["123456", 5])
    gateway.send("13512345678", "bill_overdue", ["南通市第一人民医院", "12.30"])
    gateway.send("13500000000", "verify_code", ["654321", 5])
    messages = client.get("/sandbox/sms/outbox?phone=13512345678").get_json()["messages"]
    assert messages[0]["text"].startswith("【市一院】您的验证码为123456，用于签署")
    assert messages[1]["text"].startswith("【市一院】您在南通市第一人民医院的就诊费用12.30元")
    assert len(messages) == 2


def test_sandbox_control_endpoints_validate_their_input(client):
    assert client.post("/sandbox/wechat/login-codes", json={}).status_code == 422
    assert client.post("/sandbox/wechat/login-codes", data="nope", content_type="application/json").status_code == 400
    bad = {
        "name": "x",
        "id_number": "1",
        "insured_region": "32",
        "insurance_type": "employee",
        "insured_status": "normal",
    }
    assert client.post("/sandbox/medins/auth-codes", json=bad).status_code == 422
    assert (
        client.post(
            "/sandbox/medins/auth-codes", json=dict(bad, insured_region="320602", insurance_type="gold")
        ).status_code
        == 422
    )
