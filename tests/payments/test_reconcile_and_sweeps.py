"""Reconciliation against WeChat's statement, and the sweeps run from the command line."""

import datetime as dt

from postpay.billing.models import Bill, BillStatus
from postpay.extensions import db
from postpay.payments.models import PaymentOrder
from postpay.payments.reconcile import parse_statement, yuan_to_fen


def test_yuan_to_fen_is_exact():
    assert [yuan_to_fen(t) for t in ("0.01", "300.00", "1234567.89", "0.10")] == [1, 30000, 123456789, 10]


def test_statement_rows_are_parsed_from_backquoted_csv():
    text = (
        "交易时间,微信订单号,商户订单号,商户号,交易状态,应结订单金额\n"
        "`2026-11-22 10:00:00,`4200001,`P1,`1900000109,`SUCCESS,`300.00\n"
        "`2026-11-22 10:01:00,`4200002,`P2,`1900000109,`REFUND,`1.00\n"
        "总交易单数,应结订单总金额\n`2,`301.00\n"
    )
    assert parse_statement(text) == {"P1": ("4200001", "1900000109", 30000)}


def test_reconcile_finds_nothing_then_every_kind_of_difference(app, client, runner, family, due_bill, pay):
    a = pay(family["son"], [due_bill(family["son_patient"], "R1", 2000)], key="recon-key-0001").get_json()
    b = pay(family["son"], [due_bill(family["mum_patient"], "R2", 3000)], key="recon-key-0002").get_json()
    for payment in (a, b):
        client.post("/sandbox/wechatpay/orders/%s/pay" % payment["payment"]["out_trade_no"])
    today = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date().isoformat()
    clean = runner.invoke(args=["payments", "reconcile", "--date", today])
    assert clean.exit_code == 0, clean.output
    assert "0 difference(s)" in clean.output
    with app.app_context():  # our record drifts: one amount is wrong, one order is missing
        first = PaymentOrder.query.filter_by(out_trade_no=a["payment"]["out_trade_no"]).one()
        first.amount_fen = 1999
        second = PaymentOrder.query.filter_by(out_trade_no=b["payment"]["out_trade_no"]).one()
        second.paid_at = second.paid_at - dt.timedelta(days=3)
        db.session.commit()
    dirty = runner.invoke(args=["payments", "reconcile", "--date", today])
    assert dirty.exit_code == 1
    assert "DIFFERENT %s" % a["payment"]["out_trade_no"] in dirty.output
    assert "MISSING_IN_OURS %s" % b["payment"]["out_trade_no"] in dirty.output


def test_reconcile_answers_hospital_by_hospital_with_every_kind_of_difference(
    app, client, runner, family, due_bill, pay
):
    at_nt = pay(family["son"], [due_bill(family["son_patient"], "H1", 2000)], key="recon-key-0101").get_json()
    at_ha = pay(family["son"], [due_bill(family["mum_patient"], "H2", 3000, hospital="HA01")], key="recon-key-0102")
    at_ha = at_ha.get_json()
    unpaid = pay(family["son"], [due_bill(family["son_patient"], "H3", 4000)], key="recon-key-0103").get_json()
    for payment in (at_nt, at_ha):
        client.post("/sandbox/wechatpay/orders/%s/pay" % payment["payment"]["out_trade_no"])
    with app.app_context():  # we believe in a payment WeChat never took
        order = PaymentOrder.query.filter_by(out_trade_no=unpaid["payment"]["out_trade_no"]).one()
        order.transaction_id, order.paid_at = "4200000000000000000000000001", dt.datetime.now(dt.timezone.utc)
        db.session.commit()
    today = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date().isoformat()
    out = runner.invoke(args=["payments", "reconcile", "--date", today])
    assert out.exit_code == 1, out.output
    sections = out.output.split("== ")
    nt01 = next(s for s in sections if s.startswith("NT01 南通市第一人民医院 (mchid 1900000109): 1 difference(s)"))
    ha01 = next(s for s in sections if s.startswith("HA01 海安市中医院 (mchid 1900000110): 0 difference(s)"))
    assert "MISSING_AT_WECHAT %s" % unpaid["payment"]["out_trade_no"] in nt01 and "wechat=None" in nt01
    assert at_ha["payment"]["out_trade_no"] not in ha01
    assert out.output.rstrip().endswith("1 difference(s) on %s" % today)


def test_a_statement_failing_its_sha1_stops_the_reconciliation_in_one_line(client, runner, hospitals):
    client.post("/sandbox/wechatpay/statements/damage")
    out = runner.invoke(args=["payments", "reconcile", "--date", "2026-11-30"])
    assert out.exit_code == 2
    assert out.output.strip() == "Error: 微信支付对账单获取失败（HASH_MISMATCH），请稍后重试"


def test_run_sweeps_finalises_day_end_and_closes_expired_orders(app, runner, family, due_bill, pay, his):
    running = his.visit("S1", family["son_patient"], registered_at="2026-11-22T09:00:00+08:00")
    his.items("S1", ("1", "lab", "血常规", 1, 2000))
    before = runner.invoke(args=["jobs", "run-sweeps", "--now", "2026-11-22T23:58:00+08:00"])
    assert "day_end: 0" in before.output, before.output
    after = runner.invoke(args=["jobs", "run-sweeps", "--now", "2026-11-22T23:59:00+08:00"])
    assert "day_end: 1" in after.output
    with app.app_context():
        assert db.session.get(Bill, running["bill_id"]).status == BillStatus.due
    pay(family["son"], [running["bill_id"]], key="sweep-key-0001")
    later = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=31)).isoformat()
    swept = runner.invoke(args=["jobs", "run-sweeps", "--now", later])
    assert "close_expired_orders: 1" in swept.output
    assert runner.invoke(args=["jobs", "run-sweeps", "--now", "2026-11-22T23:59:00"]).exit_code != 0
