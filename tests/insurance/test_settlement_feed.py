"""An insurance settlement in the HIS's settlement feed (issue 18): each bill's share split between
the pooled fund, the personal accounts and cash; a voided item's refunds, the insurance part (6203)
with its split and the cash part; and the payer told how the insurance refund ended."""

from postpay.extensions import db
from postpay.insurance.models import InsuranceRefund
from postpay.payments.channels.medins.core import PAY_AUTH
from postpay.payments.models import Payment, Refund
from postpay.security import encrypt
from tests.conftest import bearer, run_jobs
from tests.his.conftest import feed


def test_each_bill_gets_its_share_of_fund_accounts_and_cash(app, client, his, family, due_bill, ordered, rule):
    rule(fund_ratio_pct=60, psn_acct_balance_fen=5000)
    one = due_bill(family["son_patient"], "SI1", ("1", "exam", "CT检查", 1, 20000))
    two = due_bill(family["son_patient"], "SI2", ("1", "lab", "血常规", 1, 10001))
    s = ordered(family["son"], [one, two])["settlement"]
    assert s["fund_pay_fen"] and s["psn_acct_pay_fen"] and s["own_pay_fen"]  # all three parts in play
    assert client.post("/sandbox/wechatpay/med-ins/orders/%s/pay" % s["out_trade_no"], json={}).status_code == 200
    entries = feed(client, his)["entries"]
    assert [e["bill_id"] for e in entries] == sorted([one, two]) and [e["seq"] for e in entries] == [1, 2]
    assert {e["channel"] for e in entries} == {"medins"} and {e["payment_id"] for e in entries} == {s["payment_id"]}
    by_bill = {e["bill_id"]: e["amounts"] for e in entries}
    assert by_bill[one]["amount_fen"] == 20000 and by_bill[two]["amount_fen"] == 10001
    for amounts in by_bill.values():
        assert amounts["cash_fen"] + amounts["fund_fen"] + amounts["account_fen"] == amounts["amount_fen"]
    assert sum(a["fund_fen"] for a in by_bill.values()) == s["fund_pay_fen"]
    assert sum(a["account_fen"] for a in by_bill.values()) == s["psn_acct_pay_fen"] + s["acct_mulaid_pay_fen"]
    assert sum(a["cash_fen"] for a in by_bill.values()) == s["own_pay_fen"]
    assert all(len(e["transaction_ids"]) == 2 for e in entries)  # the payOrdId and the cash part's transaction


def test_a_voided_items_refunds_are_entries_and_the_payer_is_told_of_the_insurance_one(
    app, client, his, family, due_bill, ordered, rule
):
    rule(fund_ratio_pct=60, psn_acct_balance_fen=0)  # mum is a resident: fund and cash
    for _ in range(2):
        client.post("/sandbox/wechat/subscriptions", json={"openid": "o-i-son", "template_id": "TPL_REFUND_RESULT"})
        client.post(
            "/api/v1/subscriptions", json={"template_ids": ["TPL_REFUND_RESULT"]}, headers=bearer(family["son"])
        )
    bill = due_bill(family["mum_patient"], "SI3", ("1", "exam", "CT检查", 1, 20000), ("2", "lab", "血常规", 1, 10000))
    s = ordered(family["son"], [bill])["settlement"]
    client.post("/sandbox/wechatpay/med-ins/orders/%s/pay" % s["out_trade_no"], json={})
    assert his.open("/his/v1/visits/SI3/items/2/void", json={"reason": "检查未做"}).status_code == 200
    run_jobs(app)
    paid, insured = feed(client, his)["entries"]
    assert paid["type"] == "paid" and paid["amounts"]["fund_fen"] == 18000 and paid["amounts"]["cash_fen"] == 12000
    assert (insured["type"], insured["channel"], insured["refund_id"][:3]) == ("refund", "medins", "ir_")
    assert insured["amounts"] == {"amount_fen": 6000, "cash_fen": 0, "fund_fen": 6000, "account_fen": 0}
    messages = client.get("/sandbox/wechat/messages?openid=o-i-son").get_json()["messages"]
    assert [(m["template_id"], m["data"]["amount2"]["value"], m["data"]["phrase3"]["value"]) for m in messages] == [
        ("TPL_REFUND_RESULT", "60.00元", "退款成功")
    ]
    with app.app_context():
        cash = Refund.query.one()
    client.post("/sandbox/wechatpay/refunds/%s/complete" % cash.out_refund_no, json={"status": "SUCCESS"})
    run_jobs(app)
    (back,) = feed(client, his, cursor="2")["entries"]
    assert (back["channel"], back["refund_id"], back["amounts"]["cash_fen"]) == ("wechat", cash.id, 4000)
    assert [r["refund_id"] for r in back["refunds"]] == [insured["refund_id"], cash.id]
    messages = client.get("/sandbox/wechat/messages?openid=o-i-son").get_json()["messages"]
    assert sorted(m["data"]["amount2"]["value"] for m in messages) == ["40.00元", "60.00元"]


def test_the_payer_is_told_when_an_insurance_refund_fails(app, client, his, family, due_bill, ordered, rule):
    rule(fund_ratio_pct=60, psn_acct_balance_fen=0)
    client.post("/sandbox/wechat/subscriptions", json={"openid": "o-i-son", "template_id": "TPL_REFUND_RESULT"})
    client.post("/api/v1/subscriptions", json={"template_ids": ["TPL_REFUND_RESULT"]}, headers=bearer(family["son"]))
    bill = due_bill(family["mum_patient"], "SI4", ("1", "exam", "CT检查", 1, 20000), ("2", "lab", "血常规", 1, 10000))
    s = ordered(family["son"], [bill])["settlement"]
    client.post("/sandbox/wechatpay/med-ins/orders/%s/pay" % s["out_trade_no"], json={})
    with app.app_context():  # the payAuthNo kept is not the upload's: the platform refuses the 6203
        payment = db.session.get(Payment, s["payment_id"])
        payment.order_request = payment.order_request | {PAY_AUTH: encrypt("AUTH-NOT-THE-UPLOADS", PAY_AUTH)}
        db.session.commit()
    his.open("/his/v1/visits/SI4/items/2/void", json={"reason": "检查未做"})
    run_jobs(app)
    with app.app_context():
        assert InsuranceRefund.query.one().status == "failed"
    messages = client.get("/sandbox/wechat/messages?openid=o-i-son").get_json()["messages"]
    assert [(m["data"]["amount2"]["value"], m["data"]["phrase3"]["value"]) for m in messages] == [
        ("60.00元", "退款失败")
    ]
    assert [e["type"] for e in feed(client, his)["entries"]] == ["paid"]  # a failed refund is not in the feed
