"""Window payments (R11, R13 窗口付/刷脸付): cash, card, and micropay through the sandbox's
WeChat Pay v2 XML; the double-payment rule with a pending mini-program payment."""

import datetime as dt

from postpay.billing.models import Bill
from postpay.extensions import db
from postpay.payments import ledger
from postpay.payments.models import LedgerEntry, Refund
from tests.conftest import bearer, run_jobs
from tests.console.conftest import flash


def test_r11_cash_at_the_window_pays_the_bill_once(app, staff, due):
    _, patient, bill_id = due
    clerk = staff("cashier")
    page = flash(clerk, clerk.post("/console/bills/%s/payments" % bill_id, data={"mode": "cash"}))
    assert "收费成功 ¥320.00（现金" in page
    again = flash(clerk, clerk.post("/console/bills/%s/payments" % bill_id, data={"mode": "card"}))
    assert "账单不可支付" in again
    with app.app_context():
        bill = db.session.get(Bill, bill_id)
        assert bill.status.value == "paid" and ledger.balance(bill_id) == 32000
        entry = LedgerEntry.query.one()
        assert entry.channel == "window_cash" and entry.amount_fen == 32000 and entry.reference.startswith("W")


def test_r13_micropay_takes_the_payment_code_through_the_v2_sandbox(app, client, staff, due):
    _, _, bill_id = due
    clerk = staff("scanner")
    code = client.post("/sandbox/wechatpay/payment-codes", json={"openid": "o-w-1"}).get_json()["auth_code"]
    page = flash(
        clerk, clerk.post("/console/bills/%s/payments" % bill_id, data={"mode": "micropay", "auth_code": code})
    )
    assert "收费成功 ¥320.00（微信付款码/刷脸" in page
    with app.app_context():
        entry = LedgerEntry.query.one()
        assert entry.channel == "micropay" and entry.reference.startswith("42")
        assert db.session.get(Bill, bill_id).status.value == "paid"


def test_r13_a_used_or_malformed_code_takes_nothing(app, client, staff, due):
    _, _, bill_id = due
    clerk = staff("scanner2")
    bad = flash(
        clerk, clerk.post("/console/bills/%s/payments" % bill_id, data={"mode": "micropay", "auth_code": "12ab"})
    )
    assert "付款码应为18位数字" in bad
    unknown = flash(
        clerk,
        clerk.post(
            "/console/bills/%s/payments" % bill_id, data={"mode": "micropay", "auth_code": "134567890123456789"}
        ),
    )
    assert "微信支付未成功" in unknown and "二维码已过期" in unknown
    with app.app_context():
        assert LedgerEntry.query.count() == 0 and db.session.get(Bill, bill_id).status.value == "due"


def test_r13_a_payer_without_enough_balance_is_refused_and_nothing_is_booked(app, client, staff, due):
    _, _, bill_id = due
    clerk = staff("scanner5")
    code = client.post("/sandbox/wechatpay/payment-codes", json={"balance_fen": 100}).get_json()["auth_code"]
    resp = clerk.post("/console/bills/%s/payments" % bill_id, data={"mode": "micropay", "auth_code": code})
    assert "余额不足" in flash(clerk, resp)
    with app.app_context():
        assert LedgerEntry.query.count() == 0 and db.session.get(Bill, bill_id).status.value == "due"


def test_r13_a_payer_who_must_confirm_is_polled_until_paid(app, client, staff, due):
    _, _, bill_id = due
    app.config["POSTPAY_MICROPAY_POLL_SECONDS"] = 0.05
    clerk = staff("scanner3")
    code = client.post("/sandbox/wechatpay/payment-codes", json={"confirm": True}).get_json()["auth_code"]
    page = flash(
        clerk, clerk.post("/console/bills/%s/payments" % bill_id, data={"mode": "micropay", "auth_code": code})
    )
    assert "收费成功" in page
    with app.app_context():
        assert LedgerEntry.query.one().channel == "micropay"


def test_micropay_signed_with_a_wrong_key_is_refused_by_wechat_and_books_nothing(app, client, staff, due):
    _, _, bill_id = due
    app.config["WECHATPAY_APIV2_KEY"] = "f" * 32  # forged: the sandbox knows the real key
    clerk = staff("scanner4")
    code = client.post("/sandbox/wechatpay/payment-codes", json={}).get_json()["auth_code"]
    page = flash(
        clerk, clerk.post("/console/bills/%s/payments" % bill_id, data={"mode": "micropay", "auth_code": code})
    )
    assert "微信支付未成功" in page
    with app.app_context():
        assert LedgerEntry.query.count() == 0 and db.session.get(Bill, bill_id).status.value == "due"


def test_the_sandbox_refuses_xml_with_a_bad_sign(client):
    body = "<xml><appid>wx</appid><mch_id>1</mch_id><auth_code>130000000000000000</auth_code><sign>BAD</sign></xml>"
    resp = client.post("/sandbox/wechatpay/v2/pay/micropay", data=body, content_type="text/xml")
    assert resp.mimetype == "text/xml" and "<return_code><![CDATA[FAIL]]></return_code>" in resp.text


def test_window_cash_while_a_miniprogram_payment_is_pending_refunds_the_later_wechat_share(app, client, staff, due):
    """The payments' double-payment rule: the bill is paid once; money arriving later goes back."""
    token, _, bill_id = due
    pending = client.post(
        "/api/v1/payments",
        json={"bill_ids": [bill_id]},
        headers=bearer(token) | {"Idempotency-Key": "window-pending-1"},
    ).get_json()["payment"]
    clerk = staff("cashier2")
    assert "小程序支付进行中" in clerk.get("/console/patients/%s" % due[1]["id"]).text
    page = flash(clerk, clerk.post("/console/bills/%s/payments" % bill_id, data={"mode": "cash"}))
    assert "自动原路退回" in page
    client.post("/sandbox/wechatpay/orders/%s/pay" % pending["out_trade_no"])
    run_jobs(app)
    with app.app_context():
        refund = Refund.query.one()
        assert refund.amount_fen == 32000 and refund.item_id is None and refund.status == "processing"
        assert ledger.balance(bill_id) == 32000
        assert sorted(e.channel for e in LedgerEntry.query) == ["wechat", "window_cash"]


def test_concurrent_window_takes_book_the_bill_once(app, staff, due):
    import threading

    _, _, bill_id = due
    clerks = [staff("c%d" % i) for i in range(4)]
    results = []

    def take(member):
        results.append(member.post("/console/bills/%s/payments" % bill_id, data={"mode": "cash"}).status_code)

    threads = [threading.Thread(target=take, args=(m,)) for m in clerks]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    with app.app_context():
        assert LedgerEntry.query.count() == 1 and ledger.balance(bill_id) == 32000


def test_micropay_at_the_window_is_reconciled_by_its_out_trade_no(app, client, runner, staff, due):
    _, _, bill_id = due
    clerk = staff("scanner6")
    code = client.post("/sandbox/wechatpay/payment-codes", json={}).get_json()["auth_code"]
    clerk.post("/console/bills/%s/payments" % bill_id, data={"mode": "micropay", "auth_code": code})
    with app.app_context():
        entry = LedgerEntry.query.one()
        out_trade_no, transaction_id = entry.out_trade_no, entry.reference
    assert out_trade_no.startswith("M")
    today = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date().isoformat()
    csv = client.get("/sandbox/wechatpay/statements/%s.csv" % today).get_data(as_text=True)
    assert "`%s,`%s,`o-user,`MICROPAY,`SUCCESS" % (transaction_id, out_trade_no) in csv
    clean = runner.invoke(args=["payments", "reconcile", "--date", today])
    assert clean.exit_code == 0 and "0 difference(s) on" in clean.output, clean.output
    with app.app_context():  # our books drift from WeChat's
        LedgerEntry.query.one().amount_fen = 31900
        db.session.commit()
    dirty = runner.invoke(args=["payments", "reconcile", "--date", today])
    assert dirty.exit_code == 1
    assert "== NT01 南通市第一人民医院 (mchid 1900000109): 1 difference(s)" in dirty.output
    assert "DIFFERENT %s wechat=('%s', '1900000109', 32000)" % (out_trade_no, transaction_id) in dirty.output
