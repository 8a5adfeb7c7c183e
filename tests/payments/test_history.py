"""The payer's payment history with refunds (issue 18, part 1): newest first, paged by cursor,
in a constant number of SQL queries."""

import pytest

from postpay.payments.models import Refund
from tests.conftest import bearer, count_statements, run_jobs


def _list(client, token, **args):
    query = "&".join("%s=%s" % kv for kv in args.items())
    return client.get("/api/v1/payments?" + query, headers=bearer(token))


def test_a_void_after_payment_shows_its_refund_processing_then_succeeded(app, client, family, due_bill, pay, his):
    bill = due_bill(family["mum_patient"], "Y1", 30000)
    payment = pay(family["son"], [bill], key="hist-key-0001").get_json()["payment"]
    client.post("/sandbox/wechatpay/orders/%s/pay" % payment["out_trade_no"])
    assert his.open("/his/v1/visits/Y1/items/1/void", json={"reason": "检查未做"}).status_code == 200
    run_jobs(app)
    (shown,) = _list(client, family["son"]).get_json()["payments"]
    assert shown["id"] == payment["id"] and shown["channel"] == "wechat" and shown["status"] == "paid"
    assert shown["bills"] == [
        {
            "id": bill,
            "patient": {"id": family["mum_patient"]["id"], "name": "孙*"},
            "hospital": shown["bills"][0]["hospital"],
            "amount_fen": 30000,
        }
    ]
    (refund,) = shown["refunds"]
    assert (refund["amount_fen"], refund["status"], refund["reason"], refund["succeeded_at"]) == (
        30000,
        "processing",
        "检查未做",
        None,
    )
    with app.app_context():
        out_refund_no = Refund.query.one().out_refund_no
    client.post("/sandbox/wechatpay/refunds/%s/complete" % out_refund_no, json={"status": "SUCCESS"})
    refund = _list(client, family["son"]).get_json()["payments"][0]["refunds"][0]
    assert refund["status"] == "succeeded" and refund["succeeded_at"] is not None
    assert _list(client, family["mum"]).get_json() == {"payments": [], "next_cursor": None}  # the payer's list only


def test_pages_newest_first_with_a_cursor_in_constant_queries(app, client, family, due_bill, pay):
    ids = []
    for n in range(5):
        bill = due_bill(family["son_patient"], "Y%d" % (10 + n), 1000 + n)
        ids.append(pay(family["son"], [bill], key="hist-page-%04d" % n).get_json()["payment"]["id"])
    first = _list(client, family["son"], limit=2).get_json()
    assert [p["id"] for p in first["payments"]] == ids[::-1][:2] and first["next_cursor"]
    second = _list(client, family["son"], limit=2, cursor=first["next_cursor"]).get_json()
    third = _list(client, family["son"], limit=2, cursor=second["next_cursor"]).get_json()
    assert [p["id"] for p in second["payments"] + third["payments"]] == ids[::-1][2:]
    assert third["next_cursor"] is None
    assert len(_list(client, family["son"]).get_json()["payments"]) == 5  # 20 by default
    one = count_statements(app, lambda: _list(client, family["son"], limit=1))
    five = count_statements(app, lambda: _list(client, family["son"], limit=5))
    assert one == five <= 7, (one, five)
    print("GET /api/v1/payments: %d SQL statements at any page size" % five)


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=101", "limit=x", "cursor=nonsense", "cursor=2026-11-30T10:00:00", "limit=-1"]
)
def test_bad_paging_gets_the_error_format(client, family, query):
    resp = client.get("/api/v1/payments?" + query, headers=bearer(family["son"]))
    assert resp.status_code == 422 and resp.get_json()["error"]["code"] in ("VALIDATION_ERROR", "BAD_CURSOR")


@pytest.mark.parametrize("outcome", ["SUCCESS", "ABNORMAL"])
def test_the_payer_gets_a_subscribe_message_when_a_refund_ends(app, client, family, due_bill, pay, his, outcome):
    client.post("/sandbox/wechat/subscriptions", json={"openid": "o-p-son", "template_id": "TPL_REFUND_RESULT"})
    client.post("/api/v1/subscriptions", json={"template_ids": ["TPL_REFUND_RESULT"]}, headers=bearer(family["son"]))
    bill = due_bill(family["mum_patient"], "Y9", 30000)
    payment = pay(family["son"], [bill], key="hist-key-0009").get_json()["payment"]
    client.post("/sandbox/wechatpay/orders/%s/pay" % payment["out_trade_no"])
    assert his.open("/his/v1/visits/Y9/items/1/void", json={"reason": "检查未做"}).status_code == 200
    run_jobs(app)
    with app.app_context():
        out_refund_no = Refund.query.one().out_refund_no
    client.post("/sandbox/wechatpay/refunds/%s/complete" % out_refund_no, json={"status": outcome})
    run_jobs(app)
    messages = client.get("/sandbox/wechat/messages?openid=o-p-son").get_json()["messages"]
    assert [m["template_id"] for m in messages] == ["TPL_REFUND_RESULT"]
    data = messages[0]["data"]
    assert data["amount2"]["value"] == "300.00元" and data["thing4"]["value"] == "检查未做"
    assert data["phrase3"]["value"] == ("退款成功" if outcome == "SUCCESS" else "退款失败")
    assert client.get("/sandbox/wechat/messages?openid=o-p-mum").get_json()["messages"] == []  # the payer only


def test_paid_bills_of_own_and_viewable_relatives_paged_in_constant_queries(app, client, family, due_bill, pay):
    paid = []
    for n, patient in enumerate([family["son_patient"], family["mum_patient"], family["mum_patient"]]):
        bill = due_bill(patient, "YB%d" % n, 1000 + n)
        payment = pay(family["son"], [bill], key="hist-bills-%04d" % n).get_json()["payment"]
        client.post("/sandbox/wechatpay/orders/%s/pay" % payment["out_trade_no"])
        paid.append(bill)
    due_bill(family["mum_patient"], "YB9", 999)  # due, not paid: not listed
    son = client.get("/api/v1/bills?status=paid", headers=bearer(family["son"])).get_json()
    newest_first = sorted(son["bills"], key=lambda b: (b["paid_at"], b["id"]), reverse=True)  # WeChat's seconds
    assert son["bills"] == newest_first and {b["id"] for b in son["bills"]} == set(paid)
    assert son["next_cursor"] is None
    assert {(b["patient"]["name"], b["amount_fen"]) for b in son["bills"]} == {
        ("孙*", 1000),
        ("孙*", 1001),
        ("孙*", 1002),
    }
    mum = client.get("/api/v1/bills?status=paid", headers=bearer(family["mum"])).get_json()["bills"]
    assert {b["id"] for b in mum} == set(paid[1:])  # her own only: she has no binding to her son
    url = "/api/v1/bills?status=paid&patient_id=%s&limit=1" % family["mum_patient"]["id"]
    first = client.get(url, headers=bearer(family["son"])).get_json()
    second = client.get(url + "&cursor=" + first["next_cursor"], headers=bearer(family["son"])).get_json()
    pages = [b["id"] for b in first["bills"] + second["bills"]]
    assert pages == [b["id"] for b in mum] and second["next_cursor"] is None
    one = count_statements(app, lambda: client.get("/api/v1/bills?limit=1", headers=bearer(family["son"])))
    three = count_statements(app, lambda: client.get("/api/v1/bills?limit=3", headers=bearer(family["son"])))
    assert one == three <= 4, (one, three)
    print("GET /api/v1/bills: %d SQL statements at any page size" % three)


@pytest.mark.parametrize("query", ["status=due", "status=x", "limit=0", "cursor=bad"])
def test_bad_bill_list_input_gets_the_error_format(client, family, query):
    resp = client.get("/api/v1/bills?" + query, headers=bearer(family["son"]))
    assert resp.status_code == 422 and resp.get_json()["error"]["code"] in ("VALIDATION_ERROR", "BAD_CURSOR")


def test_a_bill_shows_its_payments_refunds_and_no_receipt_yet(app, client, family, due_bill, pay, his):
    bill = due_bill(family["mum_patient"], "YS1", 30000)
    payment = pay(family["son"], [bill], key="hist-show-0001").get_json()["payment"]
    unpaid = client.get("/api/v1/bills/" + bill, headers=bearer(family["mum"])).get_json()["bill"]
    assert (unpaid["payments"], unpaid["refunds"], unpaid["receipt"]) == ([], [], None)
    client.post("/sandbox/wechatpay/orders/%s/pay" % payment["out_trade_no"])
    assert his.open("/his/v1/visits/YS1/items/1/void", json={"reason": "检查未做"}).status_code == 200
    run_jobs(app)
    shown = client.get("/api/v1/bills/" + bill, headers=bearer(family["mum"])).get_json()["bill"]
    assert [(p["id"], p["channel"], p["amount_fen"]) for p in shown["payments"]] == [(payment["id"], "wechat", 30000)]
    assert [(r["amount_fen"], r["status"]) for r in shown["refunds"]] == [(30000, "processing")]
    assert shown["receipt"] is None
