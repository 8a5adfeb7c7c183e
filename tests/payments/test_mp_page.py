"""The official account's page /mp/ (sandbox only), and in a real browser (Playwright driving Debian's
chromium): sign in through /oauth/wechat/start and the sandbox's authorization page, see the
outstanding bill, pay it through WeixinJSBridge's getBrandWCPayRequest (the sandbox's stand-in).
Screenshots of each step go under ``artifacts/browser/`` (git-ignored)."""

import os

import pytest

from app import create_app
from tests.conftest import bearer, make_id_number
from tests.console.test_browser import ARTIFACTS, CHROMIUM, browser_page  # noqa: F401  (fixture)


def test_the_page_is_served_with_the_sandbox_only(client, production):
    page = client.get("/mp/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "<script>" not in html and 'src="/mp/mp.js"' in html  # no inline script (CSP)
    assert "script-src" not in page.headers["Content-Security-Policy"]  # default-src 'self' covers scripts
    assert page.headers["Content-Security-Policy"].startswith("default-src 'self'")
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert client.get("/mp/mp.js").mimetype == "text/javascript"
    served = create_app(production).test_client()
    assert served.get("/mp/").status_code == 404
    assert served.get("/mp/mp.js").status_code == 404


def test_the_sandbox_authorization_page_checks_the_request_as_wechat_does(app, client):
    base = "/sandbox/wechat/connect/oauth2/authorize"
    appid = app.config["SANDBOX_WECHAT_MP_APPID"]
    ok = {"appid": appid, "redirect_uri": "http://localhost/oauth/wechat/callback", "response_type": "code"}
    assert client.get(base, query_string=ok | {"scope": "snsapi_base", "state": "s"}).status_code == 200
    for bad, errcode in [
        ({"appid": ""}, "10012"),
        ({"appid": app.config["SANDBOX_WECHAT_APPID"]}, "10016"),  # the mini-program's appid
        ({"redirect_uri": ""}, "10011"),
        ({"redirect_uri": "javascript:alert(1)"}, "10003"),
        ({"scope": ""}, "10010"),
        ({"scope": "snsapi_login"}, "10005"),
        ({"response_type": "token"}, "10005"),
    ]:
        resp = client.get(base, query_string=ok | {"scope": "snsapi_base", "state": "s"} | bad)
        assert resp.status_code == 400 and errcode in resp.get_data(as_text=True), bad


def test_the_sandbox_code_exchange_is_strict(app, client):
    api = "/sandbox/wechat/api/sns/oauth2/access_token"
    code = client.post("/sandbox/wechat/oauth-codes", json={"openid": "oa-x", "unionid": "u-x"}).get_json()["code"]
    good = {"appid": app.config["SANDBOX_WECHAT_MP_APPID"], "secret": app.config["SANDBOX_WECHAT_MP_SECRET"]}
    good |= {"grant_type": "authorization_code"}
    assert client.get(api, query_string=good | {"appid": "wx-other", "code": code}).get_json()["errcode"] == 40013
    assert client.get(api, query_string=good | {"secret": "wrong", "code": code}).get_json()["errcode"] == 40125
    assert client.get(api, query_string=good | {"grant_type": "x", "code": code}).get_json()["errcode"] == 40002
    assert client.get(api, query_string=good).get_json()["errcode"] == 41008
    answer = client.get(api, query_string=good | {"code": code}).get_json()
    assert answer["openid"] == "oa-x" and answer["scope"] == "snsapi_base" and "unionid" not in answer
    assert {"access_token", "expires_in", "refresh_token"} <= set(answer)
    assert client.get(api, query_string=good | {"code": code}).get_json()["errcode"] == 40163
    assert client.get(api, query_string=good | {"code": "nope"}).get_json()["errcode"] == 40029
    userinfo = client.post("/sandbox/wechat/oauth-codes", json={"openid": "oa-x", "scope": "snsapi_userinfo"})
    answer = client.get(api, query_string=good | {"code": userinfo.get_json()["code"]}).get_json()
    assert answer["unionid"] == "u-x" and answer["scope"] == "snsapi_userinfo"


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="chromium is not installed (apt-get install chromium)")
def test_sign_in_see_bills_and_pay_in_the_browser(app, client, oa_login, verify, signed, due_bill, browser_page):  # noqa: F811
    page = browser_page
    live = app.config["LIVE_URL"]
    token = oa_login("oa-browser-1")  # the person signed in before and signed up for post-pay
    number = make_id_number(birth="19500505")
    patient = verify(token, name="周桂英", id_number=number).get_json()["patient"] | {"id_number_plain": number}
    assert signed(token, patient["id"], "13611112222").status_code == 201
    bill_id = due_bill(patient, "MP-V1", 12345)
    assert client.post("/api/v1/auth/logout", headers=bearer(token)).status_code == 204

    page.goto(live + "/mp/")
    page.screenshot(path=os.path.join(ARTIFACTS, "mp-1-signed-out.png"))
    page.click("#signin")
    page.wait_for_selector("#openid")  # the sandbox's stand-in for WeChat's authorization page
    page.fill("#openid", "oa-browser-1")
    page.screenshot(path=os.path.join(ARTIFACTS, "mp-2-authorize.png"))
    page.click("#agree")
    page.wait_for_selector("#bill-" + bill_id)
    assert page.url == live + "/mp/"  # the token left the address bar at once
    assert page.evaluate("sessionStorage.getItem('postpay.mp.token')")
    assert page.text_content("#who") == "周桂英"
    assert "¥123.45" in page.text_content("#bill-" + bill_id)
    page.screenshot(path=os.path.join(ARTIFACTS, "mp-3-bills.png"))

    page.click("#bill-%s button.pay" % bill_id)
    page.wait_for_selector("#empty:not([hidden])")
    assert page.text_content("#status") == "支付成功"
    page.screenshot(path=os.path.join(ARTIFACTS, "mp-4-paid.png"))
    token = oa_login("oa-browser-1")
    shown = client.get("/api/v1/bills/%s" % bill_id, headers=bearer(token)).get_json()
    assert shown["bill"]["status"] == "paid"
