"""The service-provider (服务商) model against the sandbox, over HTTP: every request signed as the
provider from /v3, partner orders for registered sub-merchants, and what the sandbox refuses."""

import datetime as dt
import json

import pytest
import requests

from tests.wechat.test_pay_client import client_for
from wechat import pay

NT, HA, STRANGER = "1900000109", "1900000110", "1900000999"
CST = dt.timezone(dt.timedelta(hours=8))


@pytest.fixture
def provider(app, inbox):
    """Our client, its notify URL the inbox; NT and HA are sub-merchants (SANDBOX_WECHATPAY_SUB_MCHIDS)."""
    return client_for(app, notify_url=inbox.url)


def sandbox(app, path):
    return app.config["LIVE_URL"] + "/sandbox/wechatpay" + path


def partner_order(no, sub_mchid=NT, total=500, **override):
    expire = (dt.datetime.now(CST) + dt.timedelta(minutes=30)).isoformat(timespec="seconds")
    order = {
        "sub_mchid": sub_mchid,
        "description": "门诊诊后付费用",
        "out_trade_no": no,
        "time_expire": expire,
        "attach": "pay-1",
        "amount": {"total": total, "currency": "CNY"},
        "payer": {"sp_openid": "o-sp-user"},
    }
    return order | override


def raw_call(app, method, path, body, mchid, sign_path=None):
    """A request signed with our key and serial, as ``mchid``, over ``sign_path`` (default: ``path``)."""
    cfg = app.config
    with open(cfg["WECHATPAY_PRIVATE_KEY_PATH"]) as f:
        key = pay.load_private_key(f.read())
    raw = json.dumps(body) if body is not None else ""
    auth = pay.authorization(mchid, cfg["WECHATPAY_CERT_SERIAL"], key, method, sign_path or path, raw)
    return requests.request(
        method,
        sandbox(app, path),
        data=raw.encode() or None,
        headers={"Authorization": auth, "Content-Type": "application/json"},
        timeout=5,
    )


def test_a_partner_order_is_placed_paid_notified_queried_refunded_as_the_provider(app, provider, inbox):
    sp = app.config["WECHATPAY_MCHID"]
    assert provider.partner_jsapi(partner_order("PPTEST-1")).startswith("wx")
    found = provider.partner_query("PPTEST-1", NT)
    assert (found["sp_mchid"], found["sub_mchid"], found["trade_state"]) == (sp, NT, "NOTPAY")
    assert found["sp_appid"] == app.config["WECHAT_APPID"] and found["payer"] == {"sp_openid": "o-sp-user"}

    assert requests.post(sandbox(app, "/orders/PPTEST-1/pay"), json={}, timeout=5).json()["delivered"] is True
    headers, body = inbox.last()
    event, resource = provider.verify_notification(headers, body)
    assert event["event_type"] == "TRANSACTION.SUCCESS"
    assert (resource["sp_appid"], resource["sp_mchid"], resource["sub_mchid"]) == (app.config["WECHAT_APPID"], sp, NT)
    assert resource["payer"]["sp_openid"] == "o-sp-user" and resource["amount"]["total"] == 500
    assert "mchid" not in resource and "appid" not in resource
    assert requests.post(sandbox(app, "/orders/PPTEST-1/renotify"), timeout=5).json()["delivered"] is True
    assert inbox.last()[1] == body  # byte for byte

    by_id = provider.partner_query_by_id(resource["transaction_id"], NT)
    assert by_id["out_trade_no"] == "PPTEST-1" and by_id["trade_state"] == "SUCCESS"
    with pytest.raises(pay.PayError) as e:
        provider.partner_close("PPTEST-1", NT)
    assert e.value.code == "ORDERPAID"

    refund = {"out_trade_no": "PPTEST-1", "out_refund_no": "PRTEST-1", "notify_url": inbox.url}
    refund["amount"] = {"refund": 200, "total": 500, "currency": "CNY"}
    assert provider.refund(refund, sub_mchid=NT)["status"] == "PROCESSING"
    assert requests.post(sandbox(app, "/refunds/PRTEST-1/complete"), json={}, timeout=5).json()["delivered"] is True
    event, resource = provider.verify_notification(*inbox.last())
    assert event["event_type"] == "REFUND.SUCCESS"
    assert (resource["sp_mchid"], resource["sub_mchid"], resource["amount"]["refund"]) == (sp, NT, 200)


def test_a_partner_order_closes_for_its_sub_merchant_only(app, provider):
    provider.partner_jsapi(partner_order("PPTEST-2"))
    with pytest.raises(pay.PayError) as e:
        provider.partner_close("PPTEST-2", HA)  # another sub-merchant's view: no such order
    assert (e.value.status, e.value.code) == (404, "ORDER_NOT_EXIST")
    provider.partner_close("PPTEST-2", NT)
    assert provider.partner_query("PPTEST-2", NT)["trade_state"] == "CLOSED"


def test_the_sandbox_refuses_partner_orders_wechat_would_refuse(app, provider):
    cases = [
        (partner_order("PPTEST-3", sub_mchid=STRANGER), 400, "INVALID_REQUEST", "受理关系不存在"),
        (partner_order("PPTEST-3", sp_appid="wx-someone-else"), 400, "APPID_MCHID_NOT_MATCH", None),
        (partner_order("PPTEST-3", payer={"openid": "o-direct-style"}), 400, "PARAM_ERROR", None),
    ]
    for order, status, code, message in cases:
        with pytest.raises(pay.PayError) as e:
            provider.partner_jsapi(order)
        assert (e.value.status, e.value.code) == (status, code), order
        assert message is None or e.value.message == message


def test_partner_queries_and_refunds_need_the_orders_sub_merchant(app, provider):
    provider.partner_jsapi(partner_order("PPTEST-4"))
    requests.post(sandbox(app, "/orders/PPTEST-4/pay"), json={}, timeout=5)
    with pytest.raises(pay.PayError) as e:
        provider.partner_query("PPTEST-4", HA)
    assert (e.value.status, e.value.code) == (404, "ORDER_NOT_EXIST")
    with pytest.raises(pay.PayError) as e:
        provider.partner_query_by_id("4200000000000000000000000000", NT)
    assert (e.value.status, e.value.code) == (404, "ORDER_NOT_EXIST")
    refund = {
        "out_trade_no": "PPTEST-4",
        "out_refund_no": "PRTEST-4",
        "amount": {"refund": 1, "total": 500, "currency": "CNY"},
    }
    for sub_mchid in (HA, None):  # another sub-merchant, or none: not this order
        with pytest.raises(pay.PayError) as e:
            provider.refund(refund, sub_mchid=sub_mchid)
        assert (e.value.status, e.value.code) == (404, "RESOURCE_NOT_EXISTS")


def test_a_combine_order_as_a_provider_names_each_hospital_as_sub_mchid(app, provider, inbox):
    sp = app.config["WECHATPAY_MCHID"]
    subs = [
        provider.provider_sub_order(NT, "PCTEST-1-NT", 300, "南通", "py_test"),
        provider.provider_sub_order(HA, "PCTEST-1-HA", 200, "海安", "py_test"),
    ]
    order = {
        "combine_appid": app.config["WECHAT_APPID"],
        "combine_mchid": sp,
        "combine_out_trade_no": "PCTEST-1",
        "notify_url": inbox.url,
        "combine_payer_info": {"openid": "o-sp-user"},
        "sub_orders": subs,
    }
    assert provider.combine_jsapi(order).startswith("wx")
    found = provider.combine_query("PCTEST-1")
    assert [(s["mchid"], s["sub_mchid"]) for s in found["sub_orders"]] == [(sp, NT), (sp, HA)]
    requests.post(sandbox(app, "/orders/PCTEST-1/pay"), json={}, timeout=5)
    _, resource = provider.verify_notification(*inbox.last())
    assert [(s["sub_mchid"], s["trade_state"]) for s in resource["sub_orders"]] == [(NT, "SUCCESS"), (HA, "SUCCESS")]
    refund = {
        "out_trade_no": "PCTEST-1-HA",
        "out_refund_no": "PCR-1",
        "amount": {"refund": 200, "total": 200, "currency": "CNY"},
    }
    assert provider.refund(refund, sub_mchid=HA)["status"] == "PROCESSING"

    stranger = provider.provider_sub_order(STRANGER, "PCTEST-2-X", 100, "x", "py_test")
    bad = order | {
        "combine_out_trade_no": "PCTEST-2",
        "sub_orders": [stranger, provider.provider_sub_order(NT, "PCTEST-2-NT", 1, "y", "py_test")],
    }
    with pytest.raises(pay.PayError) as e:
        provider.combine_jsapi(bad)
    assert (e.value.status, e.value.code, e.value.message) == (400, "INVALID_REQUEST", "受理关系不存在")


def test_the_certificate_signs_for_its_own_merchant_only(app, provider):
    sp = app.config["WECHATPAY_MCHID"]
    path = "/v3/pay/transactions/out-trade-no/NONE?mchid=%s" % sp
    assert raw_call(app, "GET", path, None, sp).json()["code"] == "ORDER_NOT_EXIST"  # the provider: accepted
    as_hospital = raw_call(app, "GET", path, None, NT)  # a valid signature, but the serial is the provider's
    assert as_hospital.status_code == 401 and as_hospital.json()["code"] == "SIGN_ERROR"
    # A direct API naming the hospital as its merchant, signed by the provider: the old mistake, refused.
    naming_hospital = raw_call(app, "GET", path.replace(sp, NT), None, sp)
    assert naming_hospital.status_code == 401 and naming_hospital.json()["code"] == "SIGN_ERROR"


def test_a_body_naming_another_provider_or_combine_merchant_is_a_sign_error(app, provider):
    partner = dict(
        partner_order("PPTEST-5"), sp_appid=app.config["WECHAT_APPID"], sp_mchid=STRANGER, notify_url="http://x/n"
    )
    combine = {
        "combine_appid": app.config["WECHAT_APPID"],
        "combine_mchid": STRANGER,
        "combine_out_trade_no": "PCTEST-5",
        "notify_url": "http://x/n",
        "combine_payer_info": {"openid": "o"},
        "sub_orders": [provider.provider_sub_order(NT, "PCTEST-5-%d" % i, 1, "x", "py_test") for i in (1, 2)],
    }
    query = "/v3/pay/partner/transactions/out-trade-no/PPTEST-5?sp_mchid=%s&sub_mchid=%s" % (STRANGER, NT)
    sp = app.config["WECHATPAY_MCHID"]
    for method, path, body in [
        ("POST", "/v3/pay/partner/transactions/jsapi", partner),
        ("POST", "/v3/combine-transactions/jsapi", combine),
        ("GET", query, None),
        ("POST", "/v3/pay/partner/transactions/out-trade-no/PPTEST-5/close", {"sp_mchid": STRANGER, "sub_mchid": NT}),
    ]:
        resp = raw_call(app, method, path, body, sp)
        assert (resp.status_code, resp.json()["code"]) == (401, "SIGN_ERROR"), path


def test_the_signed_path_starts_at_v3_without_the_sandboxs_mount_point(app, provider):
    sp = app.config["WECHATPAY_MCHID"]
    path = "/v3/pay/transactions/out-trade-no/NONE?mchid=%s" % sp
    mounted = raw_call(app, "GET", path, None, sp, sign_path="/sandbox/wechatpay" + path)
    assert (mounted.status_code, mounted.json()["code"]) == (401, "SIGN_ERROR")
    no_query = raw_call(app, "GET", path, None, sp, sign_path=path.split("?")[0])
    assert (no_query.status_code, no_query.json()["code"]) == (401, "SIGN_ERROR")
    assert raw_call(app, "GET", path, None, sp).status_code == 404  # signed as WeChat sees it: through


def test_a_sub_merchant_registered_in_the_sandbox_can_be_ordered_for(app, provider):
    with pytest.raises(pay.PayError) as e:
        provider.partner_jsapi(partner_order("PPTEST-6", sub_mchid="1900000555"))
    assert (e.value.code, e.value.message) == ("INVALID_REQUEST", "受理关系不存在")
    resp = requests.post(sandbox(app, "/sub-merchants"), json={"sub_mchid": "1900000555"}, timeout=5)
    assert resp.status_code == 201 and resp.json() == {"sub_mchid": "1900000555"}
    assert provider.partner_jsapi(partner_order("PPTEST-6", sub_mchid="1900000555")).startswith("wx")


def test_registering_a_sub_merchant_needs_a_merchant_id(app):
    for body in [{}, {"sub_mchid": "12"}, {"sub_mchid": "19000001x9"}, {"sub_mchid": 1900000109}, []]:
        resp = requests.post(sandbox(app, "/sub-merchants"), json=body, timeout=5)
        assert resp.status_code == 422 and resp.json()["error"]["code"] == "VALIDATION_ERROR", body


# The partner native (QR code) order (issue 19, the kiosk's QR code): placed, checked and signed as the
# JSAPI order is, paid by a scan of its code_url, notified signed and encrypted.

NATIVE = "/v3/pay/partner/transactions/native"


def native_order(no, **override):
    order = partner_order(no, **override)
    order.pop("payer")
    return order


def test_a_native_order_answers_a_code_url_that_a_scan_pays_and_notifies(app, provider, inbox):
    sp = app.config["WECHATPAY_MCHID"]
    order = native_order("PNTEST-1")
    code_url = provider.partner_native(order)
    assert code_url.startswith("weixin://wxpay/bizpayurl?pr=")
    assert provider.partner_native(order) == code_url  # the same request again: the same code
    found = provider.partner_query("PNTEST-1", NT)
    assert (found["trade_type"], found["trade_state"], found["sub_mchid"]) == ("NATIVE", "NOTPAY", NT)
    scanned = requests.post(sandbox(app, "/native/scan"), json={"code_url": code_url}, timeout=5).json()
    assert scanned["delivered"] is True
    event, resource = provider.verify_notification(*inbox.last())
    assert event["event_type"] == "TRANSACTION.SUCCESS"
    assert (resource["sp_mchid"], resource["sub_mchid"], resource["sp_appid"]) == (sp, NT, app.config["WECHAT_APPID"])
    assert resource["out_trade_no"] == "PNTEST-1" and resource["amount"]["total"] == 500
    assert resource["trade_type"] == "NATIVE"
    with pytest.raises(pay.PayError) as e:  # the same number with another body
        provider.partner_native(native_order("PNTEST-1", description="另一个"))
    assert (e.value.status, e.value.code) == (400, "INVALID_REQUEST")


def test_the_sandbox_refuses_native_orders_wechat_would_refuse(app, provider):
    cases = [
        (native_order("PNTEST-2", sub_mchid=STRANGER), 400, "INVALID_REQUEST"),
        (native_order("PNTEST-2", sp_appid="wx-someone-else"), 400, "APPID_MCHID_NOT_MATCH"),
        (native_order("PNTEST-2", description=""), 400, "PARAM_ERROR"),
        (native_order("PNTEST-2", amount={"total": 0, "currency": "CNY"}), 400, "PARAM_ERROR"),
        (native_order("PNTEST-2", out_trade_no="x" * 40), 400, "PARAM_ERROR"),
    ]
    for order, status, code in cases:
        with pytest.raises(pay.PayError) as e:
            provider.partner_native(order)
        assert (e.value.status, e.value.code) == (status, code), order


def test_a_native_order_must_be_signed_by_the_provider(app):
    body = native_order("PNTEST-3") | {
        "sp_appid": app.config["WECHAT_APPID"],
        "sp_mchid": app.config["WECHATPAY_MCHID"],
        "notify_url": "https://example.com/notify",
    }
    forged = raw_call(app, "POST", NATIVE, body, "1900000999")  # signed as another merchant
    assert forged.status_code == 401 and forged.json()["code"] == "SIGN_ERROR"
    other_path = raw_call(
        app, "POST", NATIVE, body, app.config["WECHATPAY_MCHID"], sign_path="/v3/pay/partner/transactions/jsapi"
    )
    assert other_path.status_code == 401
    assert raw_call(app, "POST", NATIVE, body, app.config["WECHATPAY_MCHID"]).status_code == 200


def test_a_scan_of_an_unknown_code_pays_nothing(app):
    resp = requests.post(sandbox(app, "/native/scan"), json={"code_url": "weixin://wxpay/bizpayurl?pr=nope"}, timeout=5)
    assert resp.status_code == 404
