"""The HIS's settlement feed (issue 18): every bill paid or refunded at the hospital, numbered,
read on from a cursor; paid through the real sandboxes (WeChat Pay's signed notifications, the
window at the console)."""

import pytest

from postpay.payments.models import Refund
from tests.conftest import count_statements, run_jobs
from tests.console.conftest import flash
from tests.his.conftest import feed


def paid_by_wechat(client, payment):
    resp = client.post("/sandbox/wechatpay/orders/%s/pay" % payment["out_trade_no"])
    assert resp.get_json()["status"] == 200


def test_a_wechat_payment_then_its_refund_are_two_entries_in_order(app, client, his, family, due_bill, pay):
    bill = due_bill(family["mum_patient"], "S1", 30000)
    assert feed(client, his) == {"entries": [], "next_cursor": None}
    payment = pay(family["son"], [bill], key="settle-key-0001").get_json()["payment"]
    paid_by_wechat(client, payment)
    first = feed(client, his)
    (paid,) = first["entries"]
    assert first["next_cursor"] == "1"
    assert (paid["seq"], paid["type"], paid["bill_id"], paid["his_visit_nos"]) == (1, "paid", bill, ["S1"])
    assert (paid["channel"], paid["payment_id"], paid["refund_id"]) == ("wechat", payment["id"], None)
    assert paid["amounts"] == {"amount_fen": 30000, "cash_fen": 30000, "fund_fen": 0, "account_fen": 0}
    assert len(paid["transaction_ids"]) == 1 and paid["transaction_ids"][0].startswith("42")
    assert paid["paid_at"] and paid["refunded_at"] is None and paid["refunds"] == []
    assert feed(client, his, cursor="1") == {"entries": [], "next_cursor": "1"}  # nothing new: the same cursor

    assert his.open("/his/v1/visits/S1/items/1/void", json={"reason": "检查未做"}).status_code == 200
    run_jobs(app)
    assert feed(client, his, cursor="1")["entries"] == []  # a refund under way is not in the feed yet
    with app.app_context():
        refund = Refund.query.one()
    client.post("/sandbox/wechatpay/refunds/%s/complete" % refund.out_refund_no, json={"status": "SUCCESS"})
    later = feed(client, his, cursor="1")
    (back,) = later["entries"]
    assert later["next_cursor"] == "2"
    assert (back["seq"], back["type"], back["bill_id"], back["refund_id"]) == (2, "refund", bill, refund.id)
    assert back["amounts"] == {"amount_fen": 30000, "cash_fen": 30000, "fund_fen": 0, "account_fen": 0}
    assert back["paid_at"] == paid["paid_at"] and back["refunded_at"]
    assert [r["refund_id"] for r in back["refunds"]] == [refund.id]
    assert feed(client, his)["entries"] == [paid, back]  # read again from the start: the same entries, in order
    assert feed(client, his.at("HA01")) == {"entries": [], "next_cursor": None}  # another hospital's feed


def test_a_combined_family_payment_gives_one_entry_per_bill_with_its_share(app, client, his, family, due_bill, pay):
    mine = due_bill(family["son_patient"], "S2", 1200)
    hers = due_bill(family["mum_patient"], "S3", 3400)
    there = due_bill(family["mum_patient"], "S4", 5600, hospital="HA01")
    payment = pay(family["son"], [mine, hers, there], key="settle-key-0002").get_json()["payment"]
    assert payment["combined"] is True
    paid_by_wechat(client, payment)
    here = feed(client, his)["entries"]
    assert sorted((e["bill_id"], e["amounts"]["cash_fen"], e["his_visit_nos"][0]) for e in here) == sorted(
        [(mine, 1200, "S2"), (hers, 3400, "S3")]
    )
    assert [e["seq"] for e in here] == [1, 2] and {e["payment_id"] for e in here} == {payment["id"]}
    (other,) = feed(client, his.at("HA01"))["entries"]
    assert (other["seq"], other["bill_id"], other["amounts"]["amount_fen"]) == (1, there, 5600)
    assert other["transaction_ids"] != here[0]["transaction_ids"]  # each hospital's own WeChat order


def test_the_window_gives_cash_only(app, client, his, staff, due):
    _, _, bill_id = due
    clerk = staff("cashier-s")
    assert "收费成功" in flash(clerk, clerk.post("/console/bills/%s/payments" % bill_id, data={"mode": "cash"}))
    (entry,) = feed(client, his)["entries"]
    assert (entry["bill_id"], entry["channel"], entry["payment_id"]) == (bill_id, "window_cash", None)
    assert entry["amounts"] == {"amount_fen": 32000, "cash_fen": 32000, "fund_fen": 0, "account_fen": 0}
    assert entry["transaction_ids"][0].startswith("W") and entry["his_visit_nos"] == ["W-1"]


def test_pages_resume_from_the_cursor_in_constant_queries(app, client, his, family, due_bill, pay):
    bills = []
    for n in range(5):
        bill = due_bill(family["son_patient"], "S1%d" % n, 1000 + n)
        paid_by_wechat(client, pay(family["son"], [bill], key="settle-page-%04d" % n).get_json()["payment"])
        bills.append(bill)
    seen, cursor = [], None
    while True:
        page = feed(client, his, cursor=cursor, limit=2)
        if not page["entries"]:
            break
        seen += page["entries"]
        cursor = page["next_cursor"]
    assert [e["seq"] for e in seen] == [1, 2, 3, 4, 5] and [e["bill_id"] for e in seen] == bills
    assert cursor == "5"
    one = count_statements(app, lambda: feed(client, his, limit=1))
    five = count_statements(app, lambda: feed(client, his, limit=5))
    assert one == five <= 4, (one, five)
    print("GET /his/v1/settlements: %d SQL statements at any page size" % five)


@pytest.mark.parametrize("query", ["cursor=abc", "cursor=-1", "cursor=1.5", "cursor=" + "9" * 19, "limit=x"])
def test_bad_paging_gets_the_error_format(client, his, query):
    path = "/his/v1/settlements?" + query
    resp = client.get(path, headers=his.signed.headers("GET", path, b""))
    assert resp.status_code == 422 and resp.get_json()["error"]["code"] in ("BAD_CURSOR", "VALIDATION_ERROR")


def test_the_feed_is_signed_like_every_his_call(client, his):
    path = "/his/v1/settlements?cursor=0"
    assert client.get(path).status_code == 401
    forged = his.signed.headers("GET", "/his/v1/settlements?cursor=1", b"")  # signed for another query
    resp = client.get(path, headers=forged)
    assert resp.status_code == 401 and resp.get_json()["error"]["code"] == "BAD_SIGNATURE"
