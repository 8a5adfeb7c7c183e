"""The official account's web login: /oauth/wechat/start and /oauth/wechat/callback through the
sandbox's web authorization (state bound to the browser, next on our host, token in the fragment)."""

import logging
import threading
from urllib.parse import parse_qs, urlsplit

import pytest

from postpay.accounts.models import APP_OA, User
from tests.conftest import bearer


def started(client, next="/mp/"):
    resp = client.get("/oauth/wechat/start", query_string={"next": next})
    assert resp.status_code == 302, resp.get_json()
    return resp, parse_qs(urlsplit(resp.headers["Location"]).query)


def oauth_code(client, openid, **extra):
    return client.post("/sandbox/wechat/oauth-codes", json={"openid": openid, **extra}).get_json()["code"]


def callback(client, code, state):
    return client.get("/oauth/wechat/callback", query_string={"code": code, "state": state})


def test_start_sends_the_browser_to_wechats_authorization_with_a_state_cookie(app, client):
    resp, asked = started(client, "/mp/?x=1")
    location = resp.headers["Location"]
    assert location.startswith(app.config["POSTPAY_SANDBOX_URL"] + "/wechat/connect/oauth2/authorize?appid=")
    assert location.endswith("#wechat_redirect")
    assert asked["appid"] == [app.config["WECHAT_MP_APPID"]]
    assert asked["response_type"] == ["code"] and asked["scope"] == ["snsapi_base"]
    assert asked["redirect_uri"] == ["http://localhost/oauth/wechat/callback"]
    state = asked["state"][0]
    assert len(state) >= 32
    cookie = resp.headers["Set-Cookie"]
    assert cookie.startswith("postpay_oauth_state=%s;" % state)
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/oauth/wechat/" in cookie
    assert resp.headers["Cache-Control"] == "no-store"


def test_the_callback_signs_in_with_a_token_in_the_fragment_only(app, client, caplog):
    _, asked = started(client, "/mp/bills?hospital=1")
    with caplog.at_level(logging.INFO):
        resp = callback(client, oauth_code(client, "oa-open-1"), asked["state"][0])
    assert resp.status_code == 302
    location = urlsplit(resp.headers["Location"])
    assert (location.path, location.query) == ("/mp/bills", "hospital=1")
    fragment = parse_qs(location.fragment)
    token = fragment["token"][0]
    assert fragment["expires_in"] == [str(app.config["POSTPAY_TOKEN_TTL"])]
    assert resp.headers["Referrer-Policy"] == "no-referrer"
    assert "postpay_oauth_state=;" in resp.headers["Set-Cookie"]  # the cookie is cleared
    assert token not in caplog.text
    me = client.get("/api/v1/me", headers=bearer(token))
    assert me.status_code == 200
    with app.app_context():
        user = User.query.filter_by(oa_openid="oa-open-1").one()
        assert (user.openid, user.last_app, user.id) == (None, APP_OA, me.get_json()["user"]["id"])


def test_a_second_sign_in_finds_the_same_account(client, oa_login):
    first, again = oa_login("oa-open-2"), oa_login("oa-open-2")
    assert first != again
    ids = {client.get("/api/v1/me", headers=bearer(t)).get_json()["user"]["id"] for t in (first, again)}
    assert len(ids) == 1


@pytest.mark.parametrize(
    "bad",
    [
        "https://evil.example/",
        "//evil.example/x",
        "/\\evil.example",
        "\\\\evil.example",
        "javascript:alert(1)",
        "mp/",
        "/mp/#frag",
        "/mp/\r\nSet-Cookie: x=1",
        "/" + "a" * 600,
    ],
)
def test_next_must_be_a_path_on_our_host(client, bad):
    resp = client.get("/oauth/wechat/start", query_string={"next": bad})
    assert resp.status_code == 400
    assert resp.get_json()["error"]["code"] == "BAD_NEXT"
    assert resp.get_json()["error"]["field"] == "next"
    assert "Set-Cookie" not in resp.headers


def test_no_next_returns_to_the_mp_page(client):
    _, asked = started(client, "")
    resp = callback(client, oauth_code(client, "oa-open-3"), asked["state"][0])
    assert urlsplit(resp.headers["Location"]).path == "/mp/"


def test_the_state_must_be_this_browsers_and_is_used_once(app, client):
    _, asked = started(client)
    state = asked["state"][0]
    other_browser = app.test_client()
    refused = callback(other_browser, oauth_code(client, "oa-open-4"), state)  # login CSRF: no cookie
    assert refused.status_code == 400 and refused.get_json()["error"]["code"] == "BAD_STATE"
    forged = callback(client, oauth_code(client, "oa-open-4"), "x" * 32)
    assert forged.status_code == 400 and forged.get_json()["error"]["code"] == "BAD_STATE"
    assert callback(client, oauth_code(client, "oa-open-4"), state).status_code == 302
    client.set_cookie("postpay_oauth_state", state, path="/oauth/wechat/")
    again = callback(client, oauth_code(client, "oa-open-4"), state)
    assert again.status_code == 400 and again.get_json()["error"]["code"] == "BAD_STATE"


def test_a_used_or_unknown_code_is_refused(client):
    code = oauth_code(client, "oa-open-5")
    _, asked = started(client)
    assert callback(client, code, asked["state"][0]).status_code == 302
    for bad in (code, "no-such-code"):
        _, asked = started(client)
        resp = callback(client, bad, asked["state"][0])
        assert resp.status_code == 400
        assert resp.get_json()["error"]["code"] == "INVALID_CODE"
        assert "微信授权码" in resp.get_json()["error"]["message"]


def test_no_code_means_the_person_refused(client):
    _, asked = started(client)
    resp = client.get("/oauth/wechat/callback", query_string={"state": asked["state"][0]})
    assert resp.status_code == 400 and resp.get_json()["error"]["code"] == "AUTH_REFUSED"


@pytest.mark.parametrize("errcode", [40013, 45011, -1])
def test_wechat_faults_are_502(client, errcode, caplog):
    _, asked = started(client)
    with caplog.at_level(logging.ERROR):
        resp = callback(client, oauth_code(client, "oa-open-6", errcode=errcode), asked["state"][0])
    assert resp.status_code == 502 and resp.get_json()["error"]["code"] == "UPSTREAM_ERROR"
    assert "errcode %s" % errcode in caplog.text


def test_a_wrong_official_account_secret_is_502_not_a_login(client):
    client.application.config["WECHAT_MP_SECRET"] = "wrong"
    _, asked = started(client)
    resp = callback(client, oauth_code(client, "oa-open-7"), asked["state"][0])
    assert resp.status_code == 502


def test_wechat_unreachable_is_502(client):
    client.application.config["POSTPAY_SANDBOX_URL"] = "http://127.0.0.1:9/sandbox"
    _, asked = started(client)
    resp = callback(client, "any-code", asked["state"][0])
    assert resp.status_code == 502 and resp.get_json()["error"]["code"] == "UPSTREAM_ERROR"


def test_concurrent_first_sign_ins_of_one_person_make_one_account(app, client):
    browsers = [app.test_client() for _ in range(4)]
    states = [started(b)[1]["state"][0] for b in browsers]
    codes = [oauth_code(client, "oa-race") for _ in browsers]
    barrier, answers = threading.Barrier(len(browsers)), []

    def sign_in(browser, code, state):
        barrier.wait()
        answers.append(callback(browser, code, state).status_code)

    threads = [threading.Thread(target=sign_in, args=args) for args in zip(browsers, codes, states, strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert answers == [302] * len(browsers)
    with app.app_context():
        assert User.query.filter_by(oa_openid="oa-race").count() == 1


def test_one_state_used_twice_at_once_signs_in_once(app, client):
    _, asked = started(client)
    state, cookie = asked["state"][0], client.get_cookie("postpay_oauth_state", path="/oauth/wechat/").value
    browsers = [app.test_client() for _ in range(3)]
    for b in browsers:
        b.set_cookie("postpay_oauth_state", cookie, path="/oauth/wechat/")
    codes = [oauth_code(client, "oa-double") for _ in browsers]
    barrier, answers = threading.Barrier(len(browsers)), []

    def submit(browser, code):
        barrier.wait()
        answers.append(callback(browser, code, state).status_code)

    threads = [threading.Thread(target=submit, args=args) for args in zip(browsers, codes, strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(answers) == [302, 400, 400]
