"""The HIS returns a paid bill's fiscal e-receipt (医疗收费电子票据, issue 18): its amount must be
what the hospital keeps for the bill (paid less refunds owed or made); it is issued once; the patient,
the payer and relatives who may view the bill see it, and the patient and the payer are told."""

import pytest

from tests.conftest import bearer, run_jobs

URL = "https://einvoice.nt.example.cn/r/3206012600001234"


def receipt(no="32060126-0001234", amount=30000, url=URL, issued_at="2026-11-30T15:00:00+08:00"):
    return {"receipt_no": no, "url": url, "issued_at": issued_at, "amount_fen": amount}


def post(caller, bill_id, body):
    return caller.open("/his/v1/bills/%s/receipt" % bill_id, json=body)


def subscribe(client, token, openid):
    client.post("/sandbox/wechat/subscriptions", json={"openid": openid, "template_id": "TPL_RECEIPT_READY"})
    client.post("/api/v1/subscriptions", json={"template_ids": ["TPL_RECEIPT_READY"]}, headers=bearer(token))


def messages(client, openid):
    return client.get("/sandbox/wechat/messages?openid=%s" % openid).get_json()["messages"]


@pytest.fixture
def paid(client, family, due_bill, pay):
    """Mum's bill of 300.00 yuan at NT01, paid by her son through WeChat Pay."""
    bill = due_bill(family["mum_patient"], "RC1", 30000)
    payment = pay(family["son"], [bill], key="receipt-key-0001").get_json()["payment"]
    assert client.post("/sandbox/wechatpay/orders/%s/pay" % payment["out_trade_no"]).get_json()["status"] == 200
    return bill


def test_the_receipt_is_shown_to_patient_payer_and_viewers_and_the_first_two_are_told_once(
    app, client, his, family, paid, person, bind
):
    daughter, _ = person("o-p-daughter", name="孙女")
    bind(daughter, family["mum"], family["mum_patient"], permissions=["view"])
    subscribe(client, daughter, "o-p-daughter")
    for token, openid in ((family["son"], "o-p-son"), (family["mum"], "o-p-mum")):
        subscribe(client, token, openid)
        subscribe(client, token, openid)  # a second quota: a second message would be sent if there were one
    resp = post(his, paid, receipt())
    assert resp.status_code == 200, resp.get_json()
    shown = {
        "receipt_no": "32060126-0001234",
        "url": URL,
        "issued_at": "2026-11-30T15:00:00+08:00",
        "amount_fen": 30000,
    }
    assert resp.get_json() == {"bill_id": paid, "receipt": shown}
    again = post(his, paid, receipt())  # the same receipt again: idempotent, no second message
    assert again.status_code == 200 and again.get_json() == resp.get_json()
    run_jobs(app)
    for token in (family["son"], family["mum"], daughter):
        bill = client.get("/api/v1/bills/" + paid, headers=bearer(token)).get_json()["bill"]
        assert bill["receipt"] == shown
    assert messages(client, "o-p-daughter") == []  # she may view the bill: she did not pay it
    for openid in ("o-p-son", "o-p-mum"):
        (message,) = messages(client, openid)
        assert message["template_id"] == "TPL_RECEIPT_READY"
        assert message["data"]["amount2"]["value"] == "300.00元"
        assert message["data"]["character_string3"]["value"] == "32060126-0001234"
        assert message["data"]["time4"]["value"] == "2026-11-30 15:00"


def test_a_patient_who_paid_her_own_bill_is_told_once(app, client, his, family, due_bill, pay):
    subscribe(client, family["mum"], "o-p-mum")
    subscribe(client, family["mum"], "o-p-mum")
    bill = due_bill(family["mum_patient"], "RC2", 5000)
    payment = pay(family["mum"], [bill], key="receipt-key-0002").get_json()["payment"]
    client.post("/sandbox/wechatpay/orders/%s/pay" % payment["out_trade_no"])
    assert post(his, bill, receipt(no="R-2", amount=5000)).status_code == 200
    run_jobs(app)
    assert len(messages(client, "o-p-mum")) == 1 and messages(client, "o-p-son") == []


def test_the_amount_must_be_what_was_kept_net_of_refunds(app, client, his, family, due_bill, pay):
    bill = his.visit("RC3", family["mum_patient"], registered_at="2026-11-21T08:00:00+08:00")["bill_id"]
    his.items("RC3", ("1", "exam", "检查", 1, 30000), ("2", "lab", "血常规", 1, 5000))
    his.event("RC3", "visit_finished", at="2026-11-21T10:00:00+08:00")
    payment = pay(family["son"], [bill], key="receipt-key-0003").get_json()["payment"]
    assert payment["total_fen"] == 35000
    client.post("/sandbox/wechatpay/orders/%s/pay" % payment["out_trade_no"])
    assert his.open("/his/v1/visits/RC3/items/2/void", json={"reason": "检查未做"}).status_code == 200
    run_jobs(app)  # the refund of 50.00 is under way
    wrong = post(his, bill, receipt(amount=35000))
    assert wrong.status_code == 409
    assert wrong.get_json()["error"]["code"] == "RECEIPT_AMOUNT_MISMATCH"
    assert wrong.get_json()["error"]["details"] == {"paid_fen": 30000, "amount_fen": 35000}
    assert post(his, bill, receipt(amount=30000)).status_code == 200


def test_unpaid_other_hospitals_and_second_receipts_are_refused(client, his, family, due_bill, paid):
    unpaid = due_bill(family["mum_patient"], "RC4", 1000)
    resp = post(his, unpaid, receipt(amount=1000))
    assert resp.status_code == 409 and resp.get_json()["error"]["code"] == "BILL_NOT_PAID"
    elsewhere = post(his.at("HA01"), paid, receipt())
    assert elsewhere.status_code == 404 and elsewhere.get_json()["error"]["code"] == "NOT_FOUND"
    assert post(his, "bl_nonexistent", receipt()).status_code == 404
    assert post(his, paid, receipt()).status_code == 200
    for changed in (receipt(no="OTHER-1"), receipt(url=URL + "x")):
        resp = post(his, paid, changed)
        assert resp.status_code == 409 and resp.get_json()["error"]["code"] == "RECEIPT_EXISTS"


@pytest.mark.parametrize(
    "body",
    [
        receipt(url="http://einvoice.nt.example.cn/r/1"),
        receipt(url="https://"),
        receipt(url="javascript:alert(1)"),
        receipt(no=""),
        receipt(no="含中文"),
        receipt(no="x" * 33),
        receipt(amount=-1),
        receipt(amount="30000"),
        receipt(issued_at="2026-11-30T15:00:00"),
        receipt(issued_at="yesterday"),
        {"receipt_no": "R-1", "url": URL, "issued_at": "2026-11-30T15:00:00+08:00"},
        receipt() | {"extra": 1},
    ],
)
def test_bad_input_gets_the_error_format(client, his, paid, body):
    resp = post(his, paid, body)
    assert resp.status_code == 422, resp.get_json()
    assert resp.get_json()["error"]["code"] in ("VALIDATION_ERROR", "INVALID_TIME")


def test_the_receipt_call_is_signed(client, his, paid):
    resp = client.post("/his/v1/bills/%s/receipt" % paid, json=receipt())
    assert resp.status_code == 401
