"""The sandbox speaks WeChat's and the SMS gateway's wire formats, over real HTTP."""

import pytest
import requests
from werkzeug.test import Client

from wechat.miniprogram import MiniProgram, WeChatError
from wechat.sandbox.subscribe import EVERY_TYPE, TEMPLATES
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
    assert reused["errcode"] == 40163 and "code been used" in reused["errmsg"]
    unknown = requests.get(url, params=dict(params, js_code="never-issued"), timeout=5).json()
    assert unknown["errcode"] == 40029 and "invalid code" in unknown["errmsg"]
    assert requests.get(url, params=dict(params, secret="x"), timeout=5).json()["errcode"] == 40125
    assert requests.get(url, params=dict(params, appid="x"), timeout=5).json()["errcode"] == 40013


@pytest.mark.parametrize("errcode", [40013, 45011, -1])
def test_codes_can_be_made_to_play_wechats_faults(app, client, errcode):
    login = client.post("/sandbox/wechat/login-codes", json={"openid": "o-f", "errcode": errcode}).get_json()["code"]
    phone = client.post("/sandbox/wechat/phone-codes", json={"phone": "13600000009", "errcode": errcode})
    for call, code in ((wx(app).code_to_session, login), (wx(app).phone_number, phone.get_json()["code"])):
        with pytest.raises(WeChatError) as e:
            call(code)
        assert e.value.errcode == errcode
    assert client.post("/sandbox/wechat/login-codes", json={"openid": "o-f", "errcode": 40029}).status_code == 422


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


BILL_DUE = {
    "thing1": {"value": "南通市第一人民医院"},
    "amount2": {"value": "12.30元"},
    "time3": {"value": "2026-11-30 15:04"},
}


def test_subscribe_messages_land_in_the_users_inbox(app, client):
    with pytest.raises(WeChatError) as e:
        wx(app).send_subscribe_message("o-s2", "TPL_BILL_DUE", BILL_DUE)
    assert e.value.errcode == 43101  # not accepted yet
    client.post("/sandbox/wechat/subscriptions", json={"openid": "o-s2", "template_id": "TPL_BILL_DUE"})
    wx(app).send_subscribe_message("o-s2", "TPL_BILL_DUE", BILL_DUE, page="pages/bill")
    messages = client.get("/sandbox/wechat/messages?openid=o-s2").get_json()["messages"]
    assert messages[0]["template_id"] == "TPL_BILL_DUE" and messages[0]["data"]["amount2"]["value"] == "12.30元"


def test_every_template_the_service_sends_is_registered_in_the_sandbox(app):
    assert set(app.config["WECHAT_SUBSCRIBE_TEMPLATES"].values()) <= set(TEMPLATES)


def send_raw(app, body):
    """subscribeMessage.send with ``body`` as is (the client would refuse some of these itself)."""
    mp = wx(app)
    token = mp.client.access_token
    url = app.config["LIVE_URL"] + "/sandbox/wechat/api/cgi-bin/message/subscribe/send"
    return requests.post(url, params={"access_token": token}, json=body, timeout=5).json()


#: A value of every keyword type that WeChat takes.
GOOD = {
    "thing": "3号诊室",
    "character_string": "A-1",
    "number": "12",
    "letter": "abc",
    "symbol": "#",
    "amount": "12.30元",
    "date": "2019年10月1日",
    "time": "15:01",
    "phone_number": "13800000000",
    "car_number": "粤A8Z888挂",
    "name": "欧阳娜娜",
    "phrase": "配送中",
}


@pytest.mark.parametrize(
    "kind, good, bad",
    [
        ("thing", ["一" * 20, "3号诊室 A-1"], ["一" * 21]),
        ("character_string", ["A-1_b#" + "x" * 26], ["x" * 33, "中文", "a b"]),
        ("number", ["12", "3.14", "9" * 32], ["9" * 33, "1a", "-1"]),
        ("letter", ["abcXYZ"], ["a" * 33, "ab1"]),
        ("symbol", ["#-+!*"], ["######", "a"]),
        ("amount", ["12.30元", "¥12.30", "1234567890"], ["12345678901", "12.3元元", "十二元"]),
        ("date", ["2019年10月1日", "2019年10月1日 15:01", "2026-11-30", "2026-11-30 15:04~2026-11-30 16:00"], ["明天"]),
        ("time", ["15:01", "2019年10月1日 15:01", "2026-11-30 15:04", "08:00~09:30"], ["25:00", "下午三点"]),
        ("phrase", ["配送中", "五个汉字啊"], ["六个汉字啊啊", "ok"]),
        ("name", ["欧阳娜娜", "一" * 10, "John Smith"], ["一" * 11, "J" * 21, "王1"]),
        ("phone_number", ["+86-0766-66888866", "13800000000"], ["1" * 18, "call me"]),
        ("car_number", ["粤A8Z888挂", "苏F12345"], ["粤A8Z888挂x", "粤-A"]),
    ],
)
def test_subscribe_keywords_are_checked_by_type(app, client, kind, good, bad):
    keywords = TEMPLATES[EVERY_TYPE]
    fine = {key: {"value": GOOD[k]} for key, k in keywords.items()}
    key = next(key for key, k in keywords.items() if k == kind)
    for value in good + bad:
        client.post("/sandbox/wechat/subscriptions", json={"openid": "o-kw", "template_id": EVERY_TYPE})
        data = fine | {key: {"value": value}}
        answer = send_raw(app, {"touser": "o-kw", "template_id": EVERY_TYPE, "data": data})
        assert answer["errcode"] == (0 if value in good else 47003), (kind, value, answer)


def test_subscribe_send_refuses_what_wechat_refuses(app, client):
    client.post("/sandbox/wechat/subscriptions", json={"openid": "o-s3", "template_id": "TPL_BILL_DUE"})
    good = {"touser": "o-s3", "template_id": "TPL_BILL_DUE", "data": BILL_DUE}
    refused = [
        (dict(good, template_id="TPL_NOT_MINE"), 40037),
        (dict(good, template_id=""), 40037),
        (dict(good, touser=""), 40003),
        (dict(good, miniprogram_state="production"), 47003),
        (dict(good, data=["thing1"]), 47003),
        (dict(good, data=BILL_DUE | {"amount2": {"value": 1230}}), 47003),
        (dict(good, data=BILL_DUE | {"amount2": "12.30元"}), 47003),
        (dict(good, data={k: v for k, v in BILL_DUE.items() if k != "time3"}), 47003),
        (dict(good, data=BILL_DUE | {"thing1": {"value": "南" * 21}}), 47003),
    ]
    for body, errcode in refused:
        assert send_raw(app, body)["errcode"] == errcode, body
    assert client.get("/sandbox/wechat/messages?openid=o-s3").get_json()["messages"] == []
    for state in ("developer", "trial", "formal"):
        client.post("/sandbox/wechat/subscriptions", json={"openid": "o-s3", "template_id": "TPL_BILL_DUE"})
        assert send_raw(app, dict(good, miniprogram_state=state))["errcode"] == 0


def test_sms_outbox_keeps_messages_newest_last(app, client):
    gateway = SandboxSms(app.config["LIVE_URL"] + "/sandbox", "市一院")
    gateway.send("13512345678", "verify_code", ["123456", 5])
    gateway.send("13512345678", "bill_overdue", ["您", "11月20日", "南通市第一人民医院", "12.30"])
    gateway.send("13500000000", "verify_code", ["654321", 5])
    messages = client.get("/sandbox/sms/outbox?phone=13512345678").get_json()["messages"]
    assert messages[0]["text"].startswith("【市一院】您的验证码为123456，用于签署")
    assert messages[1]["text"].startswith("【市一院】您于11月20日在南通市第一人民医院的就诊费用12.30元")
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


def test_no_sandbox_route_fails_on_json_nested_too_deep_for_the_parser(app):
    """3,000 levels make Python's JSON parser raise RecursionError, which get_json(silent=True)
    does not swallow: every sandbox route that takes a body refuses it as its real service does."""
    deep = "[" * 3000 + "]" * 3000
    client = Client(app)  # the sandbox answers in each real service's own error format, not ours
    posted = 0
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/sandbox/") or not rule.methods & {"POST", "PUT"}:
            continue
        path = rule.rule
        for arg in rule.arguments:
            path = path.replace("<%s>" % arg, "x").replace("<path:%s>" % arg, "x")
        method = "POST" if "POST" in rule.methods else "PUT"
        resp = client.open(path + "?access_token=x", method=method, data=deep, content_type="application/json")
        assert resp.status_code < 500, (path, resp.status_code, resp.data[:200])
        posted += 1
    assert posted > 20
