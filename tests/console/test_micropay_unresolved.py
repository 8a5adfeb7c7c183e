"""Window micropay as the service provider (issue 16, point 2): an unresolved payment (the payer
never confirms, SYSTEMERROR, WeChat unreachable) is reversed before the window says it failed;
when the reverse fails too it stays unknown, blocks its bill, and the console's retry settles it
by a query: paid (booked once) or not."""

import datetime as dt
import socket

import pytest
import xmltodict
from wechatpy.pay.utils import calculate_signature, dict_to_xml

from postpay.billing.models import Bill
from postpay.extensions import db
from postpay.payments.models import LedgerEntry, MicropayAttempt
from tests.conftest import bearer
from tests.console.conftest import flash


@pytest.fixture
def fast(app):
    app.config["POSTPAY_MICROPAY_POLL_SECONDS"] = 0.02
    app.config["POSTPAY_MICROPAY_RESOLVE_SECONDS"] = 0.3
    return app


def _code(client, **kind):
    return client.post("/sandbox/wechatpay/payment-codes", json=kind).get_json()["auth_code"]


def _scan(clerk, bill_id, code):
    return flash(
        clerk, clerk.post("/console/bills/%s/payments" % bill_id, data={"mode": "micropay", "auth_code": code})
    )


def _attempt(app):
    with app.app_context():
        attempt = MicropayAttempt.query.one()
        return attempt.id, attempt.status.value, attempt.out_trade_no


def _nothing_booked(app, bill_id):
    with app.app_context():
        assert LedgerEntry.query.count() == 0 and db.session.get(Bill, bill_id).status.value == "due"


@pytest.mark.parametrize("kind", [{"never_confirm": True}, {"system_error": True}], ids=["userpaying", "systemerror"])
def test_an_unresolved_micropay_is_reversed_then_reported_failed_and_books_nothing(fast, client, staff, due, kind):
    _, patient, bill_id = due
    clerk = staff("mp1")
    page = _scan(clerk, bill_id, _code(client, **kind))
    assert "微信支付未成功" in page and "已撤销" in page
    assert _attempt(fast)[1] == "reversed"
    _nothing_booked(fast, bill_id)
    assert "收费成功" in flash(clerk, clerk.post("/console/bills/%s/payments" % bill_id, data={"mode": "cash"}))


def test_a_micropay_whose_reverse_fails_stays_unknown_blocks_the_bill_and_the_retry_books_it_once(
    fast, client, staff, due
):
    token, patient, bill_id = due
    clerk = staff("mp2")
    page = _scan(clerk, bill_id, _code(client, never_confirm=True, reverse_failures=3))
    assert "结果未明" in page and "请勿重复收费" in page
    attempt_id, status, out_trade_no = _attempt(fast)
    assert status == "unknown"
    _nothing_booked(fast, bill_id)
    # the bill cannot be taken again: not at the window, not in the mini-program
    again = flash(clerk, clerk.post("/console/bills/%s/payments" % bill_id, data={"mode": "cash"}))
    assert "结果未明" in again
    mini = client.post(
        "/api/v1/payments", json={"bill_ids": [bill_id]}, headers=bearer(token) | {"Idempotency-Key": "mp-unknown-1"}
    )
    assert mini.status_code == 409 and mini.get_json()["error"]["code"] == "BILL_NOT_PAYABLE"
    patient_page = clerk.get("/console/patients/%s" % patient["id"]).text
    assert out_trade_no in patient_page and "查询结果" in patient_page
    # the payer confirmed after all: the retry finds it paid and books it, once
    assert client.post("/sandbox/wechatpay/micropay/%s/confirm" % out_trade_no).status_code == 200
    settled = flash(clerk, clerk.post("/console/micropay/%s/settle" % attempt_id))
    assert "微信已扣款" in settled
    twice = flash(clerk, clerk.post("/console/micropay/%s/settle" % attempt_id))
    assert "已处理" in twice
    with fast.app_context():
        entry = LedgerEntry.query.one()
        assert entry.channel == "micropay" and entry.out_trade_no == out_trade_no and entry.amount_fen == 32000
        assert db.session.get(Bill, bill_id).status.value == "paid"
        assert MicropayAttempt.query.one().status.value == "paid"


def test_the_retry_of_an_unknown_micropay_reverses_it_when_wechat_still_has_no_answer(fast, client, staff, due):
    _, patient, bill_id = due
    clerk = staff("mp3")
    _scan(clerk, bill_id, _code(client, never_confirm=True, reverse_failures=6))
    attempt_id, status, _ = _attempt(fast)
    assert status == "unknown"
    still = flash(clerk, clerk.post("/console/micropay/%s/settle" % attempt_id))  # its 3 reverses (recall=Y) fail too
    assert "仍未明" in still and _attempt(fast)[1] == "unknown"
    done = flash(clerk, clerk.post("/console/micropay/%s/settle" % attempt_id))
    assert "已撤销" in done and _attempt(fast)[1] == "reversed"
    _nothing_booked(fast, bill_id)
    assert "查询结果" not in clerk.get("/console/patients/%s" % patient["id"]).text
    assert "收费成功" in flash(clerk, clerk.post("/console/bills/%s/payments" % bill_id, data={"mode": "cash"}))


def test_a_micropay_that_never_reaches_wechat_is_unknown_then_failed_by_the_retry(fast, client, staff, due):
    _, _, bill_id = due
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    live = fast.config["POSTPAY_SANDBOX_URL"]
    fast.config["POSTPAY_SANDBOX_URL"] = "http://127.0.0.1:%d/sandbox" % dead
    clerk = staff("mp4")
    code = _code(client)
    assert "结果未明" in _scan(clerk, bill_id, code)
    attempt_id, status, _ = _attempt(fast)
    assert status == "unknown"
    fast.config["POSTPAY_SANDBOX_URL"] = live
    fast.extensions["postpay_clients"].clear()  # the clients are built once per app, from config
    settled = flash(clerk, clerk.post("/console/micropay/%s/settle" % attempt_id))
    assert "未扣款" in settled and _attempt(fast)[1] == "failed"
    _nothing_booked(fast, bill_id)


def test_the_retry_is_staff_only_and_in_scope(fast, client, staff, due):
    _, _, bill_id = due
    clerk = staff("mp5")
    _scan(clerk, bill_id, _code(client, never_confirm=True, reverse_failures=3))
    attempt_id = _attempt(fast)[0]
    assert client.post("/console/micropay/%s/settle" % attempt_id).status_code in (302, 401, 403)
    no_csrf = clerk.post("/console/micropay/%s/settle" % attempt_id, csrf=False)
    assert no_csrf.status_code in (302, 400, 403)
    other = staff("mp6", hospital="HA01")
    assert "未找到" in flash(other, other.post("/console/micropay/%s/settle" % attempt_id))
    assert _attempt(fast)[1] == "unknown"


def test_a_reversed_paid_micropay_shows_revoked_in_the_statement(fast, client, staff, due):
    """The payer confirms while the window already gave up: the reverse gives the money back."""
    _, _, bill_id = due
    clerk = staff("mp7")
    _scan(clerk, bill_id, _code(client, never_confirm=True, reverse_failures=3))
    attempt_id, _, out_trade_no = _attempt(fast)
    client.post("/sandbox/wechatpay/micropay/%s/confirm" % out_trade_no)
    answer = _v2(fast, client, "/secapi/pay/reverse", out_trade_no=out_trade_no)
    assert answer["result_code"] == "SUCCESS" and answer["recall"] == "N"
    today = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date().isoformat()
    csv = client.get("/sandbox/wechatpay/statements/%s.csv" % today).get_data(as_text=True)
    assert "`%s,`o-user,`MICROPAY,`REVOKED" % out_trade_no in csv
    settled = flash(clerk, clerk.post("/console/micropay/%s/settle" % attempt_id))
    assert "已撤销" in settled
    _nothing_booked(fast, bill_id)


def test_a_hospital_that_is_the_provider_itself_pays_in_direct_mode(app, client, staff, due):
    _, _, bill_id = due
    app.config["WECHATPAY_MCHID"] = app.config["SANDBOX_WECHATPAY_MCHID"] = "1900000109"  # NT01's own
    clerk = staff("mp8")
    assert "收费成功" in _scan(clerk, bill_id, _code(client))
    with app.app_context():
        out_trade_no = LedgerEntry.query.one().out_trade_no
    answer = _v2(app, client, "/pay/orderquery", out_trade_no=out_trade_no)
    assert answer["mch_id"] == "1900000109" and "sub_mch_id" not in answer


def test_a_sub_merchant_hospital_pays_with_sub_mch_id(app, client, staff, due):
    _, _, bill_id = due
    clerk = staff("mp9")
    assert "收费成功" in _scan(clerk, bill_id, _code(client))
    with app.app_context():
        out_trade_no = LedgerEntry.query.one().out_trade_no
    answer = _v2(app, client, "/pay/orderquery", out_trade_no=out_trade_no)
    assert answer["mch_id"] == app.config["WECHATPAY_MCHID"] != "1900000109"
    assert answer["sub_mch_id"] == "1900000109" and answer["trade_state"] == "SUCCESS"


# --- the sandbox's refusals -------------------------------------------------


def _v2(app, client, path, key=None, **fields):
    """A signed v2 call to the sandbox, as WeChat's merchant would make it; the parsed answer."""
    data = {"appid": app.config["WECHAT_APPID"], "mch_id": app.config["WECHATPAY_MCHID"], "nonce_str": "n1"}
    data = {k: v for k, v in (data | fields).items() if v is not None}
    body = dict_to_xml(data, calculate_signature(data, key or app.config["WECHATPAY_APIV2_KEY"]))
    resp = client.post("/sandbox/wechatpay/v2" + path, data=body.encode(), content_type="text/xml")
    assert resp.mimetype == "text/xml"
    return dict(xmltodict.parse(resp.text)["xml"])


def test_the_sandbox_refuses_a_sign_made_with_another_key_unsigned_as_wechat_does(app, client):
    answer = _v2(app, client, "/pay/micropay", key="f" * 32, auth_code=_code(client), out_trade_no="M1", total_fee="1")
    assert answer == {"return_code": "FAIL", "return_msg": "签名错误"}


@pytest.mark.parametrize(
    "fields, err_code",
    [
        ({"mch_id": "1900000999"}, "MCHID_NOT_EXIST"),
        ({"appid": "wx0000000000000000"}, "APPID_MCHID_NOT_MATCH"),
        ({"sub_mch_id": "SP"}, "PARAM_ERROR"),
        ({"sub_mch_id": "1900000299"}, "NOAUTH"),
    ],
    ids=["not-the-provider", "another-appid", "sub-is-the-provider", "unregistered-sub-merchant"],
)
def test_the_sandbox_refuses_a_micropay_not_made_as_the_provider(app, client, fields, err_code):
    app.config["SANDBOX_WECHATPAY_SUB_MCHIDS"] = ["1900000109", "1900000110"]
    if fields.get("sub_mch_id") == "SP":
        fields = {"sub_mch_id": app.config["WECHATPAY_MCHID"]}
    code = _code(client)
    answer = _v2(app, client, "/pay/micropay", auth_code=code, out_trade_no="M2", total_fee="100", **fields)
    assert answer["return_code"] == "SUCCESS" and answer["result_code"] == "FAIL" and answer["err_code"] == err_code
    assert _v2(app, client, "/pay/orderquery", out_trade_no="M2")["err_code"] == "ORDERNOTEXIST"


def test_the_sandbox_reverse_is_signed_and_answers_recall(app, client):
    assert _v2(app, client, "/secapi/pay/reverse", key="f" * 32, out_trade_no="M3")["return_msg"] == "签名错误"
    assert _v2(app, client, "/secapi/pay/reverse", out_trade_no="M3")["err_code"] == "ORDERNOTEXIST"
    code = _code(client, never_confirm=True, reverse_failures=1)
    paying = _v2(
        app, client, "/pay/micropay", auth_code=code, out_trade_no="M4", total_fee="100", sub_mch_id="1900000109"
    )
    assert paying["err_code"] == "USERPAYING"
    assert _v2(app, client, "/pay/orderquery", out_trade_no="M4")["trade_state"] == "USERPAYING"
    failed = _v2(app, client, "/secapi/pay/reverse", out_trade_no="M4")
    assert failed["result_code"] == "FAIL" and failed["err_code"] == "SYSTEMERROR" and failed["recall"] == "Y"
    done = _v2(app, client, "/secapi/pay/reverse", out_trade_no="M4")
    assert done["result_code"] == "SUCCESS" and done["recall"] == "N"
    assert _v2(app, client, "/pay/orderquery", out_trade_no="M4")["trade_state"] == "REVOKED"


def test_the_sandbox_confirms_only_a_paying_micropay(app, client):
    assert client.post("/sandbox/wechatpay/micropay/NOPE/confirm").status_code == 404
    code = _code(client)
    _v2(app, client, "/pay/micropay", auth_code=code, out_trade_no="M5", total_fee="100", sub_mch_id="1900000109")
    assert client.post("/sandbox/wechatpay/micropay/M5/confirm").status_code == 409


def test_a_micropay_whose_request_died_while_paying_is_settled_by_the_retry(fast, client, staff, due):
    """A worker killed mid-call leaves the attempt paying: it blocks the bill, and once stale the console settles it."""
    _, patient, bill_id = due
    clerk = staff("mp10")
    with fast.app_context():
        long_ago = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)
        attempt = MicropayAttempt(
            bill_id=bill_id, out_trade_no="M2611300DEAD01", mchid="1900000109", amount_fen=32000, created_at=long_ago
        )
        db.session.add(attempt)
        db.session.commit()
        attempt_id = attempt.id
    assert "结果未明" in flash(clerk, clerk.post("/console/bills/%s/payments" % bill_id, data={"mode": "cash"}))
    assert "M2611300DEAD01" in clerk.get("/console/patients/%s" % patient["id"]).text
    settled = flash(clerk, clerk.post("/console/micropay/%s/settle" % attempt_id))
    assert "未扣款" in settled and _attempt(fast)[1] == "failed"  # WeChat never had it
    assert "收费成功" in flash(clerk, clerk.post("/console/bills/%s/payments" % bill_id, data={"mode": "cash"}))
