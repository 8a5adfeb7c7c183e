"""WeChat login, bearer tokens, logout, the phone number."""

import logging
import threading

import pytest

from postpay.accounts.models import User
from postpay.security import decrypt, token_digest
from tests.conftest import bearer


def login_code(client, openid, **extra):
    return client.post("/sandbox/wechat/login-codes", json={"openid": openid, **extra}).get_json()["code"]


def test_login_creates_the_account_once_and_keeps_unionid(app, client):
    first = client.post("/api/v1/auth/wechat-login", json={"code": login_code(client, "o-a")}).get_json()
    again = client.post("/api/v1/auth/wechat-login", json={"code": login_code(client, "o-a", unionid="u-a")}).get_json()
    assert first["user"]["id"] == again["user"]["id"]
    assert first["token"] != again["token"]
    assert first["expires_in"] == app.config["POSTPAY_TOKEN_TTL"]
    assert first["user"] == {"id": first["user"]["id"], "has_phone": False, "phone": None, "patients": []}
    with app.app_context():
        user = User.query.filter_by(openid="o-a").one()
        assert user.unionid == "u-a"
        assert not first["user"]["id"].isdigit()


def test_unknown_and_reused_codes_are_refused(client):
    code = login_code(client, "o-b")
    assert client.post("/api/v1/auth/wechat-login", json={"code": code}).status_code == 200
    reused = client.post("/api/v1/auth/wechat-login", json={"code": code})
    unknown = client.post("/api/v1/auth/wechat-login", json={"code": "no-such-code"})
    for resp in (reused, unknown):
        assert resp.status_code == 400
        assert resp.get_json()["error"]["code"] == "INVALID_CODE"


def test_session_key_stays_on_the_server_encrypted(app, client, redis):
    resp = client.post("/api/v1/auth/wechat-login", json={"code": login_code(client, "o-c")})
    body = resp.get_data(as_text=True)
    assert "session_key" not in body
    user_id = resp.get_json()["user"]["id"]
    stored = redis.get("auth:wxsession:" + user_id).decode()
    assert stored.startswith("v1:")
    with app.app_context():
        assert len(decrypt(stored, "wx_session_key")) >= 16


def test_access_token_is_fetched_once_and_shared_through_redis(client, login, redis):
    login("o-d1")
    login("o-d2")
    code = client.post("/sandbox/wechat/phone-codes", json={"phone": "13800000001"}).get_json()["code"]
    client.post("/api/v1/auth/phone", json={"code": code}, headers=bearer(login("o-d3")))
    assert len(list(redis.scan_iter("sbx:wx:token:*"))) == 1
    assert redis.get("wechatpy:%s_access_token" % client.application.config["WECHAT_APPID"])


def test_bad_wechat_secret_is_an_upstream_error_not_a_login(config, client):
    client.application.config["WECHAT_SECRET"] = "wrong"
    resp = client.post("/api/v1/auth/wechat-login", json={"code": login_code(client, "o-e")})
    assert resp.status_code == 502
    assert resp.get_json()["error"]["code"] == "UPSTREAM_ERROR"


@pytest.mark.parametrize("errcode", [40013, 45011, -1])
def test_wechat_faults_are_upstream_errors_logged_with_the_errcode_not_the_code(client, login, caplog, errcode):
    token = login("o-fault")
    login_fault = login_code(client, "o-fault", errcode=errcode)
    phone_fault = client.post("/sandbox/wechat/phone-codes", json={"phone": "13712345670", "errcode": errcode})
    phone_fault = phone_fault.get_json()["code"]
    with caplog.at_level(logging.ERROR):
        answers = [
            client.post("/api/v1/auth/wechat-login", json={"code": login_fault}),
            client.post("/api/v1/auth/phone", json={"code": phone_fault}, headers=bearer(token)),
        ]
    for resp in answers:
        assert resp.status_code == 502
        assert resp.get_json()["error"] == {"code": "UPSTREAM_ERROR", "message": "微信服务暂时不可用，请稍后重试"}
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "errcode %s" % errcode in logged
    assert login_fault not in logged and phone_fault not in logged


def test_missing_malformed_and_unknown_tokens_get_401(client, login):
    login("o-f")
    for headers in ({}, {"Authorization": "Bearer"}, {"Authorization": "Basic abc"}, bearer("forged-token")):
        resp = client.get("/api/v1/me", headers=headers)
        assert resp.status_code == 401
        assert resp.get_json()["error"]["code"] == "UNAUTHORIZED"


def test_token_expires_with_its_ttl(client, login, redis):
    token = login("o-g")
    key = "auth:token:" + token_digest(token)
    assert 0 < redis.ttl(key) <= client.application.config["POSTPAY_TOKEN_TTL"]
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200
    redis.pexpire(key, 1)  # let Redis expire it now, as it will after the TTL
    while redis.exists(key):
        pass
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 401


def test_logout_ends_only_that_token(client, login):
    first, second = login("o-h"), login("o-h")
    assert client.post("/api/v1/auth/logout", headers=bearer(first)).status_code == 204
    assert client.get("/api/v1/me", headers=bearer(first)).status_code == 401
    assert client.get("/api/v1/me", headers=bearer(second)).status_code == 200
    assert client.post("/api/v1/auth/logout", headers=bearer(first)).status_code == 401


def test_concurrent_first_logins_make_one_account(app):
    codes = [login_code(app.test_client(), "o-race") for _ in range(6)]
    results = []

    def go(code):
        results.append(app.test_client().post("/api/v1/auth/wechat-login", json={"code": code}))

    threads = [threading.Thread(target=go, args=(c,)) for c in codes]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert sorted(r.status_code for r in results) == [200] * 6
    assert len({r.get_json()["user"]["id"] for r in results}) == 1


def test_phone_binding_stores_it_and_answers_masked(app, client, login):
    token = login("o-i")
    code = client.post("/sandbox/wechat/phone-codes", json={"phone": "13712345678"}).get_json()["code"]
    resp = client.post("/api/v1/auth/phone", json={"code": code}, headers=bearer(token))
    assert resp.status_code == 200 and resp.get_json() == {"phone": "137****5678"}
    me = client.get("/api/v1/me", headers=bearer(token)).get_json()["user"]
    assert me["has_phone"] is True and me["phone"] == "137****5678"
    again = client.post("/api/v1/auth/phone", json={"code": code}, headers=bearer(token))
    assert again.status_code == 400 and again.get_json()["error"]["code"] == "INVALID_CODE"
    with app.app_context():
        assert User.query.filter_by(openid="o-i").one().phone == "13712345678"


def test_phone_needs_a_login(client):
    code = client.post("/sandbox/wechat/phone-codes", json={"phone": "13712345678"}).get_json()["code"]
    assert client.post("/api/v1/auth/phone", json={"code": code}).status_code == 401
