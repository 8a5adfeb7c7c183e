"""A voided item (R12) of a bill settled with medical insurance: the insurance part goes back
through 6203, the cash part through a WeChat refund; each is tracked on its own."""

from postpay.billing.models import Bill
from postpay.extensions import db
from postpay.insurance.models import InsuranceRefund
from postpay.payments import ledger
from postpay.payments.channels import medins as insurance_refunds
from postpay.payments.models import LedgerEntry, Refund
from tests.conftest import run_jobs
from tests.insurance.conftest import alerts

ITEMS = (("1", "exam", "CT检查", 1, 20000), ("2", "lab", "血常规", 1, 10000))


def _settled(client, family, due_bill, ordered, no, mutual_aid=None):
    bill = due_bill(family["mum_patient"], no, *ITEMS)
    s = ordered(family["son"], [bill], mutual_aid)["settlement"]
    assert client.post("/sandbox/wechatpay/med-ins/orders/%s/pay" % s["out_trade_no"], json={}).status_code == 200
    return bill, s


def test_a_voided_item_is_refunded_in_part_by_insurance_6203_and_in_part_by_wechat_R12(
    app, client, family, due_bill, ordered, his
):
    bill, s = _settled(client, family, due_bill, ordered, "R1")  # fund 18000, cash 12000
    voided = his.open("/his/v1/visits/R1/items/2/void", json={"reason": "检查未做"})
    assert voided.status_code == 200, voided.get_json()
    with app.app_context():  # both owed before anything is sent: the bill keeps no more than it is worth
        assert ledger.balance(bill) == db.session.get(Bill, bill).total_fen == 20000
    run_jobs(app)
    with app.app_context():
        ins = InsuranceRefund.query.one()
        cash = Refund.query.one()
        # 10000 fen in the proportion the bill was paid: 60 % insurance, 40 % cash.
        assert (ins.amount_fen, ins.status, ins.fund_refd_fen, ins.psn_acct_refd_fen) == (6000, "succeeded", 6000, 0)
        assert ins.trx_sn.startswith("TRX") and ins.item_id == cash.item_id
        assert (cash.amount_fen, cash.status) == (4000, "processing")
        out_refund_no = cash.out_refund_no
    done = client.post("/sandbox/wechatpay/refunds/%s/complete" % out_refund_no, json={"status": "SUCCESS"})
    assert done.get_json()["delivered"] is True
    with app.app_context():
        assert Refund.query.one().status == "succeeded"
        entries = sorted((e.kind, e.channel, e.amount_fen) for e in LedgerEntry.query.filter_by(bill_id=bill))
        assert entries == [
            ("paid", "medins", 18000),
            ("paid", "wechat", 12000),
            ("refund", "medins", -6000),
            ("refund", "wechat", -4000),
        ]
        assert sum(e[2] for e in entries) == db.session.get(Bill, bill).total_fen


def test_mutual_aid_part_is_refunded_to_the_accounts_it_came_from(app, client, family, due_bill, ordered, his, rule):
    rule(fund_ratio_pct=50, mulaid_balance_fen=100000)  # fund 15000 + 共济 15000, no cash
    bill, s = _settled(client, family, due_bill, ordered, "R2", mutual_aid=family["son_patient"]["id"])
    his.open("/his/v1/visits/R2/items/2/void", json={"reason": "检查未做"})
    run_jobs(app)
    with app.app_context():
        ins = InsuranceRefund.query.one()
        assert (ins.amount_fen, ins.fund_refd_fen, ins.mulaid_refd_fen) == (10000, 5000, 5000)
        assert Refund.query.count() == 0  # nothing was paid in cash
        assert ledger.balance(bill) == 20000


def test_an_insurance_refund_sent_twice_is_one_refund_and_a_refusal_is_alerted(
    app, client, redis, family, due_bill, ordered, his
):
    bill, s = _settled(client, family, due_bill, ordered, "R3")
    his.open("/his/v1/visits/R3/items/1/void", json={"reason": "检查未做"})
    his.open("/his/v1/visits/R3/items/2/void", json={"reason": "检查未做"})
    run_jobs(app)
    with app.app_context():
        done = InsuranceRefund.query.order_by(InsuranceRefund.amount_fen).all()
        assert [(r.amount_fen, r.status) for r in done] == [(6000, "succeeded"), (12000, "succeeded")]
        assert sorted(r.amount_fen for r in Refund.query.all()) == [4000, 8000]  # all the cash, in two refunds
        insurance_refunds.refund(done[0].id)  # the job again after success: nothing is sent or booked
        db.session.commit()
        assert LedgerEntry.query.filter_by(kind="refund", channel="medins").count() == 2
        # The same money asked for again under a new number: the platform refuses (nothing left).
        again = done[0]
        again.status, again.app_refd_sn = "requested", "IRTESTAGAIN00001"
        db.session.commit()
        insurance_refunds.refund(again.id)
        db.session.commit()
        assert db.session.get(InsuranceRefund, again.id).status == "failed"
        assert LedgerEntry.query.filter_by(kind="refund", channel="medins").count() == 2
    assert "MEDINS_REFUND_FAILED" in [a["kind"] for a in alerts(redis)]
