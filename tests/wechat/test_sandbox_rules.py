"""The sandbox refuses what WeChat Pay refuses (issue 16, point 5): each body against the schema
written from the API reference, and the order lifecycle. Every refusal is a signed answer."""

import datetime as dt
import json
import pathlib
import time

import pytest

from tests.wechat.test_pay_client import client_for
from wechat import pay
from wechat.sandbox import rules

FIXTURES = pathlib.Path(__file__).with_name("fixtures")
CST = dt.timezone(dt.timedelta(hours=8))
MCHID = "1900000100"  # the provider (postpay.devkeys): every request is signed as it
EXAMPLE_APPID = "wxd678efh567hg6787"  # the reference's; sent as the sandbox's mini-program appid


def later(seconds=900):
    return (dt.datetime.now(CST) + dt.timedelta(seconds=seconds)).isoformat(timespec="seconds")


def order(no="PRULES0001", **changes):
    body = {
        "appid": EXAMPLE_APPID,
        "mchid": MCHID,
        "description": "门诊诊后付费用",
        "out_trade_no": no,
        "time_expire": later(),
        "notify_url": "http://127.0.0.1:9/notify",
        "amount": {"total": 100, "currency": "CNY"},
        "payer": {"openid": "o-rules"},
    }
    return body | changes


def combine(*subs, **changes):
    body = {
        "combine_appid": EXAMPLE_APPID,
        "combine_mchid": MCHID,
        "combine_out_trade_no": "CRULES0001",
        "combine_payer_info": {"openid": "o-rules"},
        "time_expire": later(),
        "notify_url": "http://127.0.0.1:9/notify",
        "sub_orders": list(subs) or [sub("SRULES0001"), sub("SRULES0002", "1900000110")],
    }
    return body | changes


def sub(no, mchid=MCHID, **changes):
    return {
        "mchid": mchid,
        "attach": "py_x",
        "out_trade_no": no,
        "description": "门诊诊后付费用",
        "amount": {"total_amount": 100, "currency": "CNY"},
    } | changes


class Sandbox:
    """Our v3 client pointed at the sandbox; ``refused(...)`` returns the error body WeChat answered,
    read off the wire after the client checked nothing was wrong with its signature."""

    def __init__(self, app):
        self.client = client_for(app)
        self.appid = app.config["SANDBOX_WECHAT_APPID"]
        self.answers = []
        self.client.http.hooks["response"].append(lambda resp, *a, **k: self.answers.append(resp))

    def ours(self, body):
        """The example appid made the provider's mini-program's: WeChat Pay takes only an appid bound
        to the merchant, and a payer's openid only under the app that gave it out."""
        if isinstance(body, dict):
            return body | {k: self.appid for k in ("appid", "combine_appid") if body.get(k) == EXAMPLE_APPID}
        return body

    def call(self, method, path, body=None):
        return self.client.request(method, path, self.ours(body))

    def refused(self, method, path, body=None, status=400):
        with pytest.raises(pay.PayError) as e:
            self.client.request(method, path, self.ours(body))
        resp = self.answers[-1]
        assert resp.status_code == status, resp.text
        pay.verify_signed(resp.headers, resp.text, self.client.public_key_id, self.client.public_key)  # signed too
        assert e.value.code == resp.json()["code"]
        return resp.json()


@pytest.fixture
def sandbox(app):
    return Sandbox(app)


def param_error(answer, field):
    assert answer["code"] == "PARAM_ERROR", answer
    assert answer["detail"]["field"] == field and answer["detail"]["location"] == "body", answer
    return answer["detail"]["value"]


def test_every_published_request_example_fits_its_schema():
    before_the_examples = dt.datetime(2010, 1, 1, tzinfo=CST)
    names = set()
    for path in sorted(FIXTURES.glob("request_*.json")):
        fixture = json.loads(path.read_text("utf-8"))
        assert fixture["source"]
        assert rules.problem(fixture["schema"], fixture["body"], now=before_the_examples) is None, path.name
        names.add(fixture["schema"])
    assert names == set(rules.SCHEMAS) - {"common"}  # one published example at least for every schema


def test_every_schema_names_the_reference_page_it_follows():
    for name, schema in rules.SCHEMAS.items():
        assert "https://pay.weixin.qq.com/" in schema["$comment"], name


JSAPI = "/v3/pay/transactions/jsapi"


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"out_trade_no": "P1234"}, "/out_trade_no"),  # 5 characters
        ({"out_trade_no": "P" * 40}, "/out_trade_no"),
        ({"out_trade_no": "P1234 5678"}, "/out_trade_no"),  # a space is not in the charset
        ({"description": "门" * 43}, "/description"),  # 43 characters, 129 bytes
        ({"notify_url": "http://pay.example.cn/notify"}, "/notify_url"),
        ({"notify_url": "https://pay.example.cn/notify?from=wx"}, "/notify_url"),
        ({"amount": {"total": 0, "currency": "CNY"}}, "/amount/total"),
        ({"amount": {"total": 100, "currency": "USD"}}, "/amount/currency"),
        ({"amount": {"total": "100", "currency": "CNY"}}, "/amount/total"),
        ({"time_expire": "2030-01-01 10:00:00"}, "/time_expire"),  # not rfc3339
        ({"time_expire": "2020-01-01T10:00:00+08:00"}, "/time_expire"),  # passed
        ({"attach": "x" * 129}, "/attach"),
    ],
)
def test_a_jsapi_order_breaking_the_reference_is_param_error(sandbox, changes, field):
    answer = sandbox.refused("POST", JSAPI, order(**changes))
    param_error(answer, field)


@pytest.mark.parametrize("missing", ["description", "payer", "notify_url", "amount", "appid", "mchid"])
def test_a_jsapi_order_missing_a_required_field_is_param_error(sandbox, missing):
    body = order()
    del body[missing]
    assert param_error(sandbox.refused("POST", JSAPI, body), "/" + missing) is None


def test_the_same_out_trade_no_is_idempotent_with_the_same_body_and_refused_with_another(sandbox):
    body = order("PRULESIDEM1")
    first = sandbox.call("POST", JSAPI, body)["prepay_id"]
    assert sandbox.call("POST", JSAPI, body)["prepay_id"] == first
    answer = sandbox.refused("POST", JSAPI, dict(body, amount={"total": 200, "currency": "CNY"}))
    assert (answer["code"], answer["message"]) == ("INVALID_REQUEST", "商户订单号重复")


def test_an_order_past_its_time_expire_cannot_be_paid_and_stays_notpay(app, client, sandbox):
    sandbox.call("POST", JSAPI, order("PRULESLATE1", time_expire=later(2)))
    time.sleep(2.5)
    paid = client.post("/sandbox/wechatpay/orders/PRULESLATE1/pay")
    assert paid.status_code == 409 and paid.get_json()["error"]["code"] == "ORDER_EXPIRED"
    state = sandbox.call("GET", "/v3/pay/transactions/out-trade-no/PRULESLATE1?mchid=" + MCHID)
    assert state["trade_state"] == "NOTPAY" and state["transaction_id"] is None


def test_closing_a_paid_order_answers_orderpaid(client, sandbox):
    sandbox.call("POST", JSAPI, order("PRULESPAID1"))
    client.post("/sandbox/wechatpay/orders/PRULESPAID1/pay")
    answer = sandbox.refused("POST", "/v3/pay/transactions/out-trade-no/PRULESPAID1/close", {"mchid": MCHID})
    assert answer["code"] == "ORDERPAID"


def test_a_close_without_mchid_is_param_error(sandbox):
    sandbox.call("POST", JSAPI, order("PRULESCLOSE"))
    answer = sandbox.refused("POST", "/v3/pay/transactions/out-trade-no/PRULESCLOSE/close", {})
    assert param_error(answer, "/mchid") is None


COMBINE = "/v3/combine-transactions/jsapi"


@pytest.mark.parametrize(
    "subs, field",
    [
        ([sub("SRULES0001")], "/sub_orders"),  # one sub-order
        ([sub("SRULES%04d" % n) for n in range(11)], "/sub_orders"),  # eleven
        ([sub("SRULES0001"), sub("SRULES0001", "1900000110")], "/sub_orders/1/out_trade_no"),
        ([{k: v for k, v in sub("SRULES0001").items() if k != "mchid"}, sub("SRULES0002")], "/sub_orders/0/mchid"),
        ([sub("SRULES0001"), sub("SRULES0002", attach="")], "/sub_orders/1/attach"),
        ([sub("SRULES0001"), sub("SRULES0002", amount={"total_amount": 0, "currency": "CNY"})], None),
    ],
)
def test_a_combine_order_breaking_the_rules_is_param_error_never_500(sandbox, subs, field):
    answer = sandbox.refused("POST", COMBINE, combine(*subs))
    param_error(answer, field or "/sub_orders/1/amount/total_amount")


def test_a_provider_combine_names_itself_as_mchid_and_registered_sub_merchants(app, sandbox):
    mixed = combine(sub("SRULES0001", sub_mchid="1900000200"), sub("SRULES0002", "1900000110", sub_mchid="1900000201"))
    assert param_error(sandbox.refused("POST", COMBINE, mixed), "/sub_orders/1/mchid") == "1900000110"
    app.config["SANDBOX_WECHATPAY_SUB_MCHIDS"] = ["1900000200"]
    stranger = combine(sub("SRULES0001", sub_mchid="1900000200"), sub("SRULES0002", sub_mchid="1900000299"))
    assert sandbox.refused("POST", COMBINE, stranger) == {"code": "INVALID_REQUEST", "message": "受理关系不存在"}
    app.config["SANDBOX_WECHATPAY_SUB_MCHIDS"] = ["1900000200", "1900000299"]
    assert sandbox.call("POST", COMBINE, stranger)["prepay_id"].startswith("wx")


REFUNDS = "/v3/refund/domestic/refunds"


@pytest.fixture
def paid(client, sandbox):
    """A paid 100-fen order PRULESREF1."""
    sandbox.call("POST", JSAPI, order("PRULESREF1"))
    client.post("/sandbox/wechatpay/orders/PRULESREF1/pay")
    return "PRULESREF1"


def refund(no, out_refund_no, fen):
    return {
        "out_trade_no": no,
        "out_refund_no": out_refund_no,
        "reason": "检查未做",
        "notify_url": "http://127.0.0.1:9/notify",
        "amount": {"refund": fen, "total": 100, "currency": "CNY"},
    }


def test_refunds_as_wechat_has_them(sandbox, paid):
    first = sandbox.call("POST", REFUNDS, refund(paid, "RRULES1", 60))
    assert sandbox.call("POST", REFUNDS, refund(paid, "RRULES1", 60))["refund_id"] == first["refund_id"]
    other = sandbox.refused("POST", REFUNDS, refund(paid, "RRULES1", 50))
    assert (other["code"], other["message"]) == ("INVALID_REQUEST", "订单金额或退款金额与之前请求不一致")
    beyond = sandbox.refused("POST", REFUNDS, refund(paid, "RRULES2", 41))
    assert (beyond["code"], beyond["message"]) == ("INVALID_REQUEST", "申请退款金额超过订单可退金额")
    assert sandbox.call("POST", REFUNDS, refund(paid, "RRULES2", 40))["amount"]["refund"] == 40


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"reason": "退" * 27}, "/reason"),  # 27 characters, 81 bytes
        ({"out_refund_no": "R" * 65}, "/out_refund_no"),
        ({"amount": {"refund": 0, "total": 100, "currency": "CNY"}}, "/amount/refund"),
        ({"amount": {"refund": 10, "total": 100}}, "/amount/currency"),
        ({"notify_url": "https://pay.example.cn/n?x=1"}, "/notify_url"),
    ],
)
def test_a_refund_breaking_the_reference_is_param_error(sandbox, paid, changes, field):
    param_error(sandbox.refused("POST", REFUNDS, refund(paid, "RRULES3", 10) | changes), field)


def test_a_refund_names_its_order(sandbox):
    body = refund("x", "RRULES4", 10)
    del body["out_trade_no"]
    assert sandbox.refused("POST", REFUNDS, body)["code"] == "PARAM_ERROR"


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"mix_pay_type": "UNKNOWN_MIX_PAY_TYPE"}, "/mix_pay_type"),
        ({"order_type": "UNKNOWN_ORDER_TYPE"}, "/order_type"),
        ({"callback_url": "http://pay.example.cn/med-ins-notify"}, "/callback_url"),
        ({"payer": {"name": "x", "id_digest": "y", "card_type": "DRIVING_LICENCE"}}, "/payer/card_type"),
    ],
)
def test_a_medical_insurance_order_breaking_the_reference_is_param_error(sandbox, changes, field):
    body = json.loads((FIXTURES / "request_med_ins_order.json").read_text("utf-8"))["body"] | changes
    param_error(sandbox.refused("POST", "/v3/med-ins/orders", body), field)
