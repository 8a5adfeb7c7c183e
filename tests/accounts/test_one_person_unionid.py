"""One person, two apps, linked by the unionid WeChat gives both apps (code2session, and the web
authorization with scope snsapi_userinfo): one account, the same patients and records; never two
people on one account."""

from urllib.parse import parse_qs, urlsplit

from postpay.accounts.models import User
from tests.conftest import bearer


def me(client, token):
    resp = client.get("/api/v1/me", headers=bearer(token))
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()["user"]


def mini_login(client, openid, unionid):
    code = client.post("/sandbox/wechat/login-codes", json={"openid": openid, "unionid": unionid}).get_json()
    return client.post("/api/v1/auth/wechat-login", json=code)


def oa_answer(client, openid, unionid):
    """The callback's answer to a web login whose code WeChat answers with ``unionid``."""
    client.application.config["WECHAT_MP_OAUTH_SCOPE"] = "snsapi_userinfo"
    client.post("/sandbox/wechat/unionids", json={"openid": openid, "unionid": unionid})
    started = client.get("/oauth/wechat/start")
    state = parse_qs(urlsplit(started.headers["Location"]).query)["state"][0]
    code = client.post("/sandbox/wechat/oauth-codes", json={"openid": openid, "scope": "snsapi_userinfo"})
    return client.get("/oauth/wechat/callback", query_string={"code": code.get_json()["code"], "state": state})


def test_the_official_account_finds_the_mini_program_account_by_unionid(app, client, person, oa_login):
    mini_token, patient = person("mini-1")
    assert mini_login(client, "mini-1", "union-1").status_code == 200
    oa_token = oa_login("oa-1", unionid="union-1")
    mini, oa = me(client, mini_token), me(client, oa_token)
    assert mini["id"] == oa["id"]
    assert [p["id"] for p in oa["patients"]] == [patient["id"]]
    with app.app_context():
        user = User.query.filter_by(unionid="union-1").one()
        assert (user.openid, user.oa_openid, user.last_app) == ("mini-1", "oa-1", "oa")


def test_the_mini_program_finds_the_official_account_account_by_unionid(app, client, login, oa_login):
    oa_token = oa_login("oa-2", unionid="union-2")
    mini_token = login("mini-2", unionid="union-2")
    assert me(client, oa_token)["id"] == me(client, mini_token)["id"]
    with app.app_context():
        assert User.query.count() == 1


def test_without_the_userinfo_scope_wechat_gives_no_unionid_and_the_accounts_stay_apart(app, client, login, oa_login):
    mini_token = login("mini-3", unionid="union-3")
    client.post("/sandbox/wechat/unionids", json={"openid": "oa-3", "unionid": "union-3"})
    oa_token = oa_login("oa-3")  # snsapi_base: WeChat gives the openid only
    with app.app_context():
        assert User.query.filter_by(oa_openid="oa-3").one().unionid is None
    assert me(client, oa_token)["id"] != me(client, mini_token)["id"]


def test_two_rows_of_one_person_merge_when_the_unionid_shows_up(app, client, person, oa_login):
    oa_token = oa_login("oa-4")  # first seen without a unionid: an empty account of its own
    mini_token, patient = person("mini-4")
    assert mini_login(client, "mini-4", "union-4").status_code == 200
    new_oa = oa_login("oa-4", unionid="union-4")
    assert me(client, new_oa)["id"] == me(client, mini_token)["id"]
    assert [p["id"] for p in me(client, new_oa)["patients"]] == [patient["id"]]
    assert client.get("/api/v1/me", headers=bearer(oa_token)).status_code == 401  # its row is gone
    with app.app_context():
        assert User.query.count() == 1


def test_an_empty_mini_program_row_merges_into_the_official_account_row_with_records(
    client, person, oa_login, login, bind, verify
):
    mini_token = login("mini-8")  # an empty mini-program account, no unionid yet
    oa_token = oa_login("oa-8")
    assert verify(oa_token, name="孙丽").status_code == 200
    elder_token, elder = person("elder-8", name="李秀兰", birth="19450101")
    bind(oa_token, elder_token, elder)  # the official-account row holds a binding
    assert oa_answer(client, "oa-8", "union-8").status_code == 302
    merged = mini_login(client, "mini-8", "union-8")
    assert merged.status_code == 200
    assert merged.get_json()["user"]["id"] == me(client, oa_token)["id"]
    patients = {p["relationship"]: p["id"] for p in merged.get_json()["user"]["patients"]}
    assert patients["parent"] == elder["id"] and len(patients) == 2
    assert client.get("/api/v1/me", headers=bearer(mini_token)).status_code == 401


def test_two_rows_that_both_hold_records_are_not_merged(app, client, person, oa_login, bind, verify):
    oa_token = oa_login("oa-5")
    mini_token, patient = person("mini-5")
    assert verify(oa_token, id_number=patient["id_number_plain"]).status_code == 200  # the same person
    elder_token, elder = person("elder-5", name="李秀兰", birth="19450101")
    bind(mini_token, elder_token, elder)  # the mini-program row holds a binding
    bind(oa_token, elder_token, elder)  # and so does the official-account row
    assert mini_login(client, "mini-5", "union-5").status_code == 200
    resp = oa_answer(client, "oa-5", "union-5")
    assert resp.status_code == 409 and resp.get_json()["error"]["code"] == "ACCOUNTS_NOT_MERGEABLE"
    assert me(client, oa_token)["id"] != me(client, mini_token)["id"]
    with app.app_context():
        assert User.query.filter_by(oa_openid="oa-5").one().unionid is None


def test_two_different_unionids_never_merge(client, login, oa_login):
    oa_token = oa_login("oa-6", unionid="union-6a")
    resp = oa_answer(client, "oa-6", "union-6b")
    assert resp.status_code == 409 and resp.get_json()["error"]["code"] == "ACCOUNT_CONFLICT"
    assert me(client, oa_token)["id"] != me(client, login("mini-6", unionid="union-6b"))["id"]


def test_two_different_verified_people_never_merge(client, person, oa_login, verify):
    oa_token = oa_login("oa-7")
    assert verify(oa_token, name="王芳").status_code == 200  # the official-account row: someone verified
    mini_token, _ = person("mini-7", name="赵强")
    assert mini_login(client, "mini-7", "union-7").status_code == 200
    resp = oa_answer(client, "oa-7", "union-7")
    assert resp.status_code == 409 and resp.get_json()["error"]["code"] == "IDENTITY_CONFLICT"
    assert me(client, oa_token)["id"] != me(client, mini_token)["id"]
