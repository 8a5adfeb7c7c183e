"""The sandbox plays the official account strictly (issue 22 part 5, template side; part 3's
pairing): WeChat Pay takes an openid only under the appid that gave it out, sub_appid only with a
sub-merchant it is bound to and with sub_openid; template messages need the official account's
access token, its openid, a template it picked and keyword values that fit their types."""

import pytest

from tests.oa import MP_APPID, OA_CONFIG
from tests.wechat.conftest import mint_openid
from tests.wechat.test_partner import NT, partner_order
from tests.wechat.test_pay_client import client_for
from wechat import pay
from wechat.miniprogram import WeChatError
from wechat.mp_templates import TemplateMessages


@pytest.fixture
def config(config):
    return config | OA_CONFIG


@pytest.fixture
def provider(app, inbox):
    return client_for(app, notify_url=inbox.url)


def refused(fn, *args):
    with pytest.raises(pay.PayError) as e:
        fn(*args)
    return e.value.status, e.value.code, e.value.message


def test_an_official_account_openid_under_the_mini_program_appid_is_refused(app, client, provider, oa_login):
    oa_login("oa-s-1")
    mini = app.config["WECHAT_APPID"]
    order = partner_order("PPOA-1", sp_appid=mini, payer={"sp_openid": "oa-s-1"})
    assert refused(provider.partner_jsapi, order) == (400, "PARAM_ERROR", "openid和appid不匹配")
    # nor a mini-program openid under the official account's appid, nor one no app ever gave out
    order = partner_order("PPOA-2", sp_appid=MP_APPID, payer={"sp_openid": "o-sp-user"})
    assert refused(provider.partner_jsapi, order)[2] == "openid和appid不匹配"
    order = partner_order("PPOA-3", sp_appid=MP_APPID, payer={"sp_openid": "oa-never-minted"})
    assert refused(provider.partner_jsapi, order)[2] == "openid和appid不匹配"
    # combine: combine_payer_info.openid is the combine_appid's
    sub = provider.provider_sub_order(NT, "SPOA-1", 100, "门诊", "a")
    combine = {
        "combine_appid": mini,
        "combine_mchid": app.config["WECHATPAY_MCHID"],
        "combine_out_trade_no": "CPOA0001",
    }
    combine |= {"sub_orders": [sub, provider.provider_sub_order("1900000110", "SPOA-2", 100, "门诊", "a")]}
    combine |= {"combine_payer_info": {"openid": "oa-s-1"}, "notify_url": provider.notify_url}
    assert refused(provider.combine_jsapi, combine)[2] == "openid和appid不匹配"
    # the right pairs are taken
    assert provider.partner_jsapi(partner_order("PPOA-4", sp_appid=MP_APPID, payer={"sp_openid": "oa-s-1"}))
    assert provider.combine_jsapi(combine | {"combine_appid": MP_APPID})


def test_sub_appid_needs_sub_openid_of_that_app_and_a_sub_merchant_it_is_bound_to(app, client, provider, oa_login):
    oa_login("oa-s-2")
    mini = app.config["WECHAT_APPID"]
    unbound = partner_order("PPOA-5", sp_appid=mini, sub_appid=MP_APPID, payer={"sub_openid": "oa-s-2"})
    assert refused(provider.partner_jsapi, unbound)[1:] == (
        "APPID_MCHID_NOT_MATCH",
        "sub_appid和sub_mchid不匹配，请检查后再试",
    )
    assert (
        client.post("/sandbox/wechatpay/sub-merchants", json={"sub_mchid": NT, "sub_appids": [MP_APPID]}).status_code
        == 201
    )
    no_sub_appid = partner_order("PPOA-6", sp_appid=mini, payer={"sub_openid": "oa-s-2"})
    assert refused(provider.partner_jsapi, no_sub_appid)[1:] == ("PARAM_ERROR", "传sub_openid时sub_appid必填")
    mismatched = partner_order("PPOA-7", sp_appid=mini, sub_appid=MP_APPID, payer={"sub_openid": "o-sp-user"})
    assert refused(provider.partner_jsapi, mismatched)[2] == "sub_openid和sub_appid不匹配"
    other = partner_order(
        "PPOA-8", sub_mchid="1900000110", sp_appid=mini, sub_appid=MP_APPID, payer={"sub_openid": "oa-s-2"}
    )
    assert refused(provider.partner_jsapi, other)[1] == "APPID_MCHID_NOT_MATCH"  # bound to NT only
    assert provider.partner_jsapi(
        partner_order("PPOA-9", sp_appid=mini, sub_appid=MP_APPID, payer={"sub_openid": "oa-s-2"})
    )
    assert refused(provider.partner_jsapi, partner_order("PPOA-10", sp_appid="wx1111111111111111"))[1] == (
        "APPID_MCHID_NOT_MATCH"
    )


# --- template messages -----------------------------------------------------


@pytest.fixture
def templates(app):
    """Our client for the official account's template messages, pointed at the sandbox."""
    with app.app_context():
        return TemplateMessages(
            MP_APPID,
            app.config["WECHAT_MP_SECRET"],
            app.extensions["redis"],
            app.config["POSTPAY_SANDBOX_URL"] + "/wechat/api",
        )


BILL_DUE = {
    "thing1": {"value": "南通市第一人民医院"},
    "amount2": {"value": "300.00元"},
    "time3": {"value": "2026-12-01 10:00"},
}


def sent(client, openid):
    return client.get("/sandbox/wechat/template-messages?openid=" + openid).get_json()["messages"]


def test_a_template_message_is_sent_to_the_official_accounts_user_with_a_msgid(client, templates, oa_login):
    oa_login("oa-t-1")
    msgid = templates.send("oa-t-1", "OA_TPL_BILL_DUE", BILL_DUE, url="https://postpay.example.cn/mp/")
    assert isinstance(msgid, int) and msgid > 0
    [message] = sent(client, "oa-t-1")
    assert (message["template_id"], message["data"], message["url"], message["msgid"]) == (
        "OA_TPL_BILL_DUE",
        BILL_DUE,
        "https://postpay.example.cn/mp/",
        msgid,
    )


@pytest.mark.parametrize(
    "template_id, data, url, errcode",
    [
        ("OA_TPL_UNKNOWN", BILL_DUE, None, 40037),
        ("OA_TPL_BILL_DUE", BILL_DUE | {"thing1": {"value": "南" * 21}}, None, 47003),  # thing: 20 characters
        ("OA_TPL_BILL_DUE", BILL_DUE | {"amount2": {"value": "三百元"}}, None, 47003),
        ("OA_TPL_BILL_DUE", BILL_DUE | {"time3": {"value": "明天上午"}}, None, 47003),
        ("OA_TPL_BILL_DUE", {k: v for k, v in BILL_DUE.items() if k != "time3"}, None, 47003),  # a keyword missing
        ("OA_TPL_BILL_DUE", BILL_DUE | {"remark": {"value": "请尽快缴费"}}, None, 47003),  # not the template's
        ("OA_TPL_BILL_DUE", BILL_DUE | {"thing1": {"value": "南通\n第一医院"}}, None, 47003),  # a line break
        ("OA_TPL_BILL_DUE", BILL_DUE | {"thing1": {"value": ""}}, None, 47003),
        ("OA_TPL_BILL_DUE", BILL_DUE, "javascript:alert(1)", 47003),
        ("OA_TPL_SANDBOX_EVERY_TYPE", {"phrase9": {"value": "已缴费用"}}, None, 47003),
    ],
)
def test_the_template_rules_refuse_what_wechat_refuses(client, templates, oa_login, template_id, data, url, errcode):
    oa_login("oa-t-2")
    with pytest.raises(WeChatError) as e:
        templates.send("oa-t-2", template_id, data, url=url)
    assert e.value.errcode == errcode
    assert sent(client, "oa-t-2") == []


def test_a_person_who_unfollowed_the_account_gets_43004_until_they_follow_again(client, templates, oa_login):
    oa_login("oa-t-5")
    follow = {"openid": "oa-t-5", "follows": False}
    assert client.post("/sandbox/wechat/oa-followers", json=follow).get_json() == follow  # 取消关注
    with pytest.raises(WeChatError) as e:
        templates.send("oa-t-5", "OA_TPL_BILL_DUE", BILL_DUE)
    assert e.value.errcode == 43004
    assert sent(client, "oa-t-5") == []
    assert client.post("/sandbox/wechat/oa-followers", json=follow | {"follows": True}).status_code == 200
    templates.send("oa-t-5", "OA_TPL_BILL_DUE", BILL_DUE)
    assert [m["template_id"] for m in sent(client, "oa-t-5")] == ["OA_TPL_BILL_DUE"]
    for bad in ({"openid": "oa-t-5"}, {"openid": "oa-t-5", "follows": "no"}, {"follows": True}):
        assert client.post("/sandbox/wechat/oa-followers", json=bad).status_code == 422


def test_every_keyword_type_and_the_classic_keywords(client, templates, oa_login):
    oa_login("oa-t-3")
    every = {
        "amount1": "¥12.50",
        "car_number2": "苏F12345",
        "character_string3": "NT-2026-0001",
        "const4": "诊后付",
        "date5": "2026年12月1日",
        "letter6": "abc",
        "name7": "张三",
        "number8": "3.5",
        "phone_number9": "+86-0513-81161234",
        "phrase10": "已缴费",
        "symbol11": "%",
        "thing12": "南通市第一人民医院",
        "time13": "15:01",
    }
    templates.send("oa-t-3", "OA_TPL_SANDBOX_EVERY_TYPE", {k: {"value": v} for k, v in every.items()})
    with pytest.raises(WeChatError) as e:  # phrase: five Chinese characters at most, nothing else
        templates.send(
            "oa-t-3",
            "OA_TPL_SANDBOX_EVERY_TYPE",
            {k: {"value": v} for k, v in every.items()} | {"phrase10": {"value": "paid"}},
        )
    assert e.value.errcode == 47003
    classic = {
        "first": "您有一笔费用待缴",
        "keyword1": "南通市第一人民医院\n心内科",
        "keyword2": "300.00元",
        "remark": "点击查看",
    }
    templates.send("oa-t-3", "OA_TPL_SANDBOX_CLASSIC", {k: {"value": v} for k, v in classic.items()})
    assert [m["template_id"] for m in sent(client, "oa-t-3")] == ["OA_TPL_SANDBOX_EVERY_TYPE", "OA_TPL_SANDBOX_CLASSIC"]


def test_only_the_official_accounts_openids_and_access_token_are_taken(app, client, templates, oa_login):
    mint_openid(client, app, "o-t-mini")  # a mini-program user: not the official account's openid
    with pytest.raises(WeChatError) as e:
        templates.send("o-t-mini", "OA_TPL_BILL_DUE", BILL_DUE)
    assert e.value.errcode == 40003
    query = {"grant_type": "client_credential", "appid": app.config["SANDBOX_WECHAT_APPID"]}
    mini_token = client.get(
        "/sandbox/wechat/api/cgi-bin/token", query_string=query | {"secret": app.config["SANDBOX_WECHAT_SECRET"]}
    )
    oa_login("oa-t-4")
    body = {"touser": "oa-t-4", "template_id": "OA_TPL_BILL_DUE", "data": BILL_DUE}
    answer = client.post(
        "/sandbox/wechat/api/cgi-bin/message/template/send?access_token=" + mini_token.get_json()["access_token"],
        json=body,
    )
    assert answer.get_json()["errcode"] == 40001  # the mini-program's token is not the official account's
    wrong_secret = client.get(
        "/sandbox/wechat/api/cgi-bin/token", query_string=query | {"appid": MP_APPID, "secret": "nope"}
    )
    assert wrong_secret.get_json()["errcode"] == 40125
    assert sent(client, "oa-t-4") == []
