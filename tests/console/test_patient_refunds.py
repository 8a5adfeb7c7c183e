"""The console's patient page shows a paid bill's refunds with their status (issue 18)."""

from postpay.payments.models import Refund
from tests.conftest import bearer, run_jobs


def test_a_refund_shows_processing_then_refunded(app, client, staff, person, signed, his):
    token, patient = person("o-w-r1", name="钱五")
    assert signed(token, patient["id"], "13700000301").status_code == 201
    visit = his.visit("WR-1", patient)
    his.items("WR-1", ("WR-1-1", "exam", "CT平扫", 1, 32000))
    his.event("WR-1", "visit_finished")
    paid = client.post(
        "/api/v1/payments",
        json={"bill_ids": [visit["bill_id"]]},
        headers=bearer(token) | {"Idempotency-Key": "console-refund-01"},
    ).get_json()["payment"]
    client.post("/sandbox/wechatpay/orders/%s/pay" % paid["out_trade_no"])
    assert his.open("/his/v1/visits/WR-1/items/WR-1-1/void", json={"reason": "检查未做"}).status_code == 200
    run_jobs(app)
    clerk = staff("refunds-clerk")
    page = clerk.get("/console/patients/%s" % patient["id"]).text
    assert "微信退款 ¥320.00（检查未做" in page and "退款中" in page
    with app.app_context():
        out_refund_no = Refund.query.one().out_refund_no
    client.post("/sandbox/wechatpay/refunds/%s/complete" % out_refund_no, json={"status": "SUCCESS"})
    page = clerk.get("/console/patients/%s" % patient["id"]).text
    assert "已退款" in page and "退款中" not in page
