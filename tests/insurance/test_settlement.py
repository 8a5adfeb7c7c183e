"""Medical-insurance settlement (R13 共济付, R14): the split before confirming, WeChat's
medical-insurance order, notification and polling, cancel, and the failure paths."""

import datetime as dt
import hashlib
import threading

from postpay.billing.models import Bill, BillStatus
from postpay.demo import MEDINS_CITY_ID_NANTONG
from postpay.extensions import db
from postpay.insurance.models import InsuranceSettlement
from postpay.payments.models import LedgerEntry, Payment
from postpay.payments.sweeps import poll_pending
from postpay.schedule import SCHEDULE
from tests.conftest import bearer
from tests.insurance.conftest import alerts, opened, sandbox_order


def _show(client, token, sid):
    resp = client.get("/api/v1/insurance-settlements/" + sid, headers=bearer(token))
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()["settlement"]


def test_split_is_shown_before_confirming_and_a_child_pays_for_a_parent_R13(
    app, client, redis, family, due_bill, quote
):
    bill = due_bill(family["mum_patient"], "I1", ("1", "exam", "CT检查", 1, 20000), ("2", "lab", "血常规", 1, 10000))
    resp = quote(family["son"], [bill])
    assert resp.status_code == 201, resp.get_json()
    s = resp.get_json()["settlement"]
    # Default rule: the fund pays 60 %; a resident has no personal account; the rest is cash.
    assert s["status"] == "quoted" and s["mix_pay_type"] == "CASH_AND_INSURANCE"
    assert (s["fee_sum_fen"], s["fund_pay_fen"], s["psn_acct_pay_fen"], s["acct_mulaid_pay_fen"], s["own_pay_fen"]) == (
        30000,
        18000,
        0,
        0,
        12000,
    )
    assert [(p["part"], p["amount_fen"]) for p in s["payers"]] == [("fund", 18000), ("cash", 12000)]
    confirmed = client.post(
        "/api/v1/insurance-settlements/%s/confirm" % s["id"], json={}, headers=bearer(family["son"])
    )
    assert confirmed.status_code == 200, confirmed.get_json()
    assert confirmed.get_json()["request_payment"]["package"].startswith("prepay_id=wx")
    again = client.post("/api/v1/insurance-settlements/%s/confirm" % s["id"], json={}, headers=bearer(family["son"]))
    assert again.status_code == 200 and again.get_json()["settlement"]["status"] == "ordered"
    mip = confirmed.get_json()["request_medical_insurance_pay"]
    assert mip["mixTradeNo"].startswith("MIX") and mip["package"].startswith(
        "prepay_id=wx"
    )  # wx.requestMedicalInsurancePay
    sent = sandbox_order(redis, s["out_trade_no"])["body"]
    mum_id = family["mum_patient"]["id_number_plain"]
    digest = hashlib.md5(mum_id.encode()).hexdigest()
    assert sent["pay_for_relatives"] is True and digest not in str(sent)  # the digest too is encrypted (issue 17)
    assert opened(app, sent["relative"]["id_digest"]) == digest and opened(app, sent["relative"]["name"]) == "周母"
    assert opened(app, sent["payer"]["name"]) == "周明" and sent["sub_mchid"] == "1900000109"
    assert (sent["med_inst_no"], sent["city_id"], sent["geo_location"]) == (
        "H32060200001",
        MEDINS_CITY_ID_NANTONG,
        "0,0",
    )
    assert sent["pay_auth_no"].startswith("AUTH") and "sp_mchid" not in sent
    assert "周母" not in str(sent) and mum_id not in str(sent)
    paid = client.post("/sandbox/wechatpay/med-ins/orders/%s/pay" % s["out_trade_no"], json={})
    assert paid.get_json() == {"delivered": True, "status": 200, "answer": ""}
    shown = _show(client, family["son"], s["id"])
    assert shown["status"] == "settled" and shown["settled_at"]
    with app.app_context():
        assert db.session.get(Bill, bill).status == BillStatus.paid
        booked = sorted((e.channel, e.amount_fen) for e in LedgerEntry.query.filter_by(bill_id=bill))
        assert booked == [("medins", 18000), ("wechat", 12000)]
        assert db.session.get(Payment, s["payment_id"]).status.value == "paid"


def test_mutual_aid_a_sons_employee_account_pays_for_his_mother_R13(app, client, family, due_bill, quote, rule):
    """共济付: the son (employee scheme, bound with pay) offers his personal account for his mother's bill."""
    rule(fund_ratio_pct=50, mulaid_balance_fen=9000)
    bill = due_bill(family["mum_patient"], "I2")
    s = quote(family["son"], [bill], mutual_aid=family["son_patient"]["id"]).get_json()["settlement"]
    assert (s["fund_pay_fen"], s["acct_mulaid_pay_fen"], s["own_pay_fen"]) == (15000, 9000, 6000)
    mutual = [p for p in s["payers"] if p["part"] == "mutual_aid"]
    assert mutual == [
        {
            "part": "mutual_aid",
            "who": "周明的职工医保个人账户（共济）",
            "patient_id": family["son_patient"]["id"],
            "amount_fen": 9000,
        }
    ]
    rule(mulaid_balance_fen=100000)  # the account covers all the rest: insurance only, no cash
    other = due_bill(family["mum_patient"], "I3")
    s2 = quote(family["son"], [other], mutual_aid=family["son_patient"]["id"]).get_json()["settlement"]
    assert (s2["acct_mulaid_pay_fen"], s2["own_pay_fen"], s2["mix_pay_type"]) == (15000, 0, "INSURANCE_ONLY")
    confirmed = client.post(
        "/api/v1/insurance-settlements/%s/confirm" % s2["id"], json={}, headers=bearer(family["son"])
    )
    assert confirmed.get_json()["request_payment"] is None
    assert confirmed.get_json()["settlement"]["mix_trade_no"].startswith("MIX")
    client.post("/sandbox/wechatpay/med-ins/orders/%s/pay" % s2["out_trade_no"], json={})
    with app.app_context():
        assert db.session.get(Bill, other).status == BillStatus.paid
        assert [(e.channel, e.amount_fen) for e in LedgerEntry.query.filter_by(bill_id=other)] == [("medins", 30000)]


def test_mutual_aid_only_from_an_employee_relative_the_payer_may_pay_for_R13(family, person, bind, due_bill, quote):
    bill = due_bill(family["mum_patient"], "I4")
    refused = quote(family["son"], [bill], mutual_aid=family["mum_patient"]["id"])  # the patient herself
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "MUTUAL_AID_NOT_ALLOWED"
    aunt_token, aunt = person("o-i-aunt", name="周姨", birth="19600101", insurance_type="resident")
    bind(family["son"], aunt_token, aunt, permissions=["view", "pay"], relationship="other")
    resident = quote(family["son"], [bill], mutual_aid=aunt["id"])
    assert resident.status_code == 409 and resident.get_json()["error"]["code"] == "MUTUAL_AID_NOT_ALLOWED"
    stranger_token, stranger = person("o-i-stranger", name="陌生人")
    unknown = quote(family["son"], [bill], mutual_aid=stranger["id"])
    assert unknown.status_code == 404
    assert quote(family["son"], [bill]).status_code == 201  # the bill was never taken by the refusals


def test_r14_insurance_settlement_refused_on_inpatient_hold_and_allowed_after_discharge(
    client, family, due_bill, his, quote
):
    bill = due_bill(family["mum_patient"], "I5")
    his.event("I5", "admitted", at="2026-11-21T12:00:00+08:00")
    held = quote(family["son"], [bill])
    assert held.status_code == 409 and held.get_json()["error"]["code"] == "INPATIENT_HOLD"
    assert "出院后" in held.get_json()["error"]["message"]
    his.event("I5", "discharged", at="2026-11-24T09:00:00+08:00")
    after = quote(family["son"], [bill])
    assert after.status_code == 201 and after.get_json()["settlement"]["status"] == "quoted"
    # Admitted again between the quote and the confirmation: the confirmation is refused too.
    his.event("I5", "admitted", at="2026-11-24T12:00:00+08:00")
    sid = after.get_json()["settlement"]["id"]
    confirm = client.post("/api/v1/insurance-settlements/%s/confirm" % sid, json={}, headers=bearer(family["son"]))
    assert confirm.status_code == 409 and confirm.get_json()["error"]["code"] == "INPATIENT_HOLD"


def test_lost_notification_is_settled_by_the_scheduled_poll(app, client, family, due_bill, ordered):
    """WeChat stops notifying after ~30 s: the 30-second poll asks the platform (6301), then WeChat."""
    assert ("poll_insurance_orders", poll_pending, 30) in SCHEDULE
    bill = due_bill(family["mum_patient"], "I6")
    s = ordered(family["son"], [bill])["settlement"]
    lost = client.post("/sandbox/wechatpay/med-ins/orders/%s/pay" % s["out_trade_no"], json={"notify": False})
    assert lost.get_json()["delivered"] is False
    with app.app_context():
        assert db.session.get(InsuranceSettlement, s["id"]).status.value == "ordered"
        assert poll_pending(dt.datetime.now(dt.timezone.utc)) == 1
        settlement = db.session.get(InsuranceSettlement, s["id"])
        assert settlement.status.value == "settled" and settlement.setl_id.startswith("SETL")
        assert db.session.get(Bill, bill).status == BillStatus.paid
    # The notification arriving late, and again, books nothing twice.
    for _ in range(2):
        assert client.post("/sandbox/wechatpay/orders/%s/renotify" % s["out_trade_no"]).get_json()["status"] == 200
    with app.app_context():
        assert LedgerEntry.query.filter_by(bill_id=bill).count() == 2


def test_forged_and_mismatched_notifications_change_nothing(app, client, redis, family, due_bill, ordered):
    bill = due_bill(family["mum_patient"], "I7")
    s = ordered(family["son"], [bill])["settlement"]
    forged = client.post(
        "/wechat/pay/med-ins-notify",
        data='{"event_type": "MEDICAL_INSURANCE.SUCCESS"}',
        headers={"Wechatpay-Serial": "PUB_KEY_ID_X", "Wechatpay-Timestamp": "1", "Wechatpay-Signature": "x"},
        content_type="application/json",
    )
    assert forged.status_code == 401 and forged.get_json()["error"]["code"] == "BAD_SIGNATURE"
    tampered = client.post(
        "/sandbox/wechatpay/med-ins/orders/%s/pay" % s["out_trade_no"], json={"tamper": {"med_ins_gov_fee": 1}}
    )
    assert tampered.get_json()["status"] == 200
    assert [a["kind"] for a in alerts(redis)] == ["MISMATCH"]
    with app.app_context():
        assert db.session.get(Bill, bill).status == BillStatus.due and LedgerEntry.query.count() == 0


def test_racing_quotes_take_a_bill_once_and_a_quoted_bill_is_not_payable_in_cash(app, family, due_bill, quote, client):
    bill = due_bill(family["mum_patient"], "I8")
    results = []

    def go(n):
        with app.app_context():
            results.append(quote(family["son"], [bill], key="race-key-%04d" % n).status_code)

    threads = [threading.Thread(target=go, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [201] + [409] * 5
    cash = client.post(
        "/api/v1/payments", json={"bill_ids": [bill]}, headers=bearer(family["son"]) | {"Idempotency-Key": "cash-0001"}
    )
    assert cash.status_code == 409 and cash.get_json()["error"]["code"] == "BILL_NOT_PAYABLE"


def test_cancel_revokes_the_upload_and_frees_the_bills(app, client, redis, family, due_bill, ordered):
    bill = due_bill(family["mum_patient"], "I9")
    s = ordered(family["son"], [bill])["settlement"]
    assert client.delete("/api/v1/insurance-settlements/" + s["id"], headers=bearer(family["son"])).status_code == 204
    assert _show(client, family["son"], s["id"])["status"] == "cancelled"
    late = client.post("/sandbox/wechatpay/med-ins/orders/%s/pay" % s["out_trade_no"], json={})
    assert late.status_code == 409  # the platform revoked the upload (6401): nothing can be paid
    again = client.delete("/api/v1/insurance-settlements/" + s["id"], headers=bearer(family["son"]))
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "SETTLEMENT_STATE"
    cash = client.post(
        "/api/v1/payments", json={"bill_ids": [bill]}, headers=bearer(family["son"]) | {"Idempotency-Key": "cash-0002"}
    )
    assert cash.status_code == 201


def test_a_settled_settlement_cannot_be_cancelled_and_others_do_not_see_it(client, family, due_bill, ordered, person):
    bill = due_bill(family["mum_patient"], "I10")
    s = ordered(family["son"], [bill])["settlement"]
    client.post("/sandbox/wechatpay/med-ins/orders/%s/pay" % s["out_trade_no"], json={})
    refused = client.delete("/api/v1/insurance-settlements/" + s["id"], headers=bearer(family["son"]))
    assert refused.status_code == 409
    other, _ = person("o-i-other")
    assert client.get("/api/v1/insurance-settlements/" + s["id"], headers=bearer(other)).status_code == 404


def test_an_unconfirmed_quote_expires_and_is_withdrawn_by_the_poll(app, client, family, due_bill, quote):
    bill = due_bill(family["mum_patient"], "I11")
    s = quote(family["son"], [bill]).get_json()["settlement"]
    with app.app_context():
        later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=31)
        poll_pending(later)
        assert db.session.get(InsuranceSettlement, s["id"]).status.value == "cancelled"
    assert quote(family["son"], [bill]).status_code == 201


def test_concurrent_deliveries_of_one_notification_book_it_once(app, client, family, due_bill, ordered):
    bill = due_bill(family["mum_patient"], "I12")
    s = ordered(family["son"], [bill])["settlement"]
    client.post("/sandbox/wechatpay/med-ins/orders/%s/pay" % s["out_trade_no"], json={"notify": False})
    answers = []

    def deliver():
        resp = app.test_client().post("/sandbox/wechatpay/orders/%s/renotify" % s["out_trade_no"])
        answers.append(resp.get_json()["status"])

    threads = [threading.Thread(target=deliver) for _ in range(8)]
    [t.start() for t in threads]
    [t.join(30) for t in threads]
    # Row locks settle it on PostgreSQL; elsewhere a loser may get a 500, and WeChat retries it.
    assert len(answers) == 8 and 200 in answers and set(answers) <= {200, 500}
    with app.app_context():
        assert sorted(e.channel for e in LedgerEntry.query.filter_by(bill_id=bill)) == ["medins", "wechat"]
        assert db.session.get(InsuranceSettlement, s["id"]).status.value == "settled"
