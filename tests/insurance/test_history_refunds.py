"""A settlement's payment in the payer's history (issue 18): channel medins, and a voided
item's refunds, the insurance part (6203) and the cash part (WeChat), both listed."""

from tests.conftest import bearer, run_jobs

ITEMS = (("1", "exam", "CT检查", 1, 20000), ("2", "lab", "血常规", 1, 10000))


def test_a_settlements_refunds_are_listed_insurance_and_cash(app, client, family, due_bill, ordered, his):
    bill = due_bill(family["mum_patient"], "YH1", *ITEMS)
    s = ordered(family["son"], [bill])["settlement"]
    assert client.post("/sandbox/wechatpay/med-ins/orders/%s/pay" % s["out_trade_no"], json={}).status_code == 200
    assert his.open("/his/v1/visits/YH1/items/2/void", json={"reason": "检查未做"}).status_code == 200
    run_jobs(app)
    (payment,) = client.get("/api/v1/payments", headers=bearer(family["son"])).get_json()["payments"]
    assert payment["id"] == s["payment_id"] and payment["channel"] == "medins" and payment["status"] == "paid"
    refunds = sorted((r["id"][:3], r["amount_fen"], r["status"]) for r in payment["refunds"])
    assert refunds == [("ir_", 6000, "succeeded"), ("rf_", 4000, "processing")]
