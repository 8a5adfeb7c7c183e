"""R19: sensitive items stay private. Relatives see "隐私项目" with the amount everywhere they
can see an item, unless the patient shared sensitive items with them; the patient sees all."""

import threading

import pytest

from tests.conftest import bearer, run_jobs

PRIVATE = {"name": "隐私项目", "category": "private"}


@pytest.fixture
def family(client, person, bind, signed, his):
    """An elder with a post-pay visit: one plain item, one on the hospital's list, one the HIS flags;
    her son and her daughter are bound with every permission."""
    elder_token, elder = person("o-s-elder", name="周奶奶", birth="19500101")
    assert signed(elder_token, elder["id"], "13700001001").status_code == 201
    son_token, _ = person("o-s-son", name="周一")
    daughter_token, _ = person("o-s-daughter", name="周二")
    son_binding = bind(son_token, elder_token, elder, permissions=["view", "accompany", "pay"])
    bind(daughter_token, elder_token, elder, permissions=["view", "accompany", "pay"])
    visit = his.visit("S-1", elder)
    items = his.items(
        "S-1",
        ("S-1-1", "lab", "血常规", 1, 2000),
        ("S-1-2", "lab", "HIV抗体检测", 1, 5000),
        ("S-1-3", "exam", "盆腔超声", 1, 12000, {"sensitive": True}),
    )
    return {
        "elder": elder_token,
        "elder_patient": elder,
        "son": son_token,
        "daughter": daughter_token,
        "son_binding": son_binding,
        "visit": visit["visit_id"],
        "bill": visit["bill_id"],
        "items": {i["his_item_no"]: i["item_id"] for i in items},
    }


def _names(items):
    return {i["his_item_no"]: (i["name"], i["category"], i["amount_fen"]) for i in items}


HIDDEN = {
    "S-1-1": ("血常规", "lab", 2000),
    "S-1-2": ("隐私项目", "private", 5000),
    "S-1-3": ("隐私项目", "private", 12000),
}
SHOWN = {"S-1-1": ("血常规", "lab", 2000), "S-1-2": ("HIV抗体检测", "lab", 5000), "S-1-3": ("盆腔超声", "exam", 12000)}


def _bill_items(client, token, bill_id):
    resp = client.get("/api/v1/bills/" + bill_id, headers=bearer(token))
    assert resp.status_code == 200, resp.get_json()
    bill = resp.get_json()["bill"]
    assert bill["amount_fen"] == sum(i["amount_fen"] for i in bill["items"]) == 19000  # still adds up
    return bill["items"]


def _outstanding_items(client, token):
    bills = client.get("/api/v1/bills/outstanding", headers=bearer(token)).get_json()["bills"]
    return [i for b in bills for i in b["items"]]


def _visit_items(client, token, visit_id):
    resp = client.get("/api/v1/visits/" + visit_id, headers=bearer(token))
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()["visit"]["items"]


def test_a_relative_sees_sensitive_items_as_private_in_the_bill_R19(client, family):
    assert _names(_bill_items(client, family["son"], family["bill"])) == HIDDEN


def test_a_relative_sees_sensitive_items_as_private_in_the_outstanding_list_R19(client, family):
    assert _names(_outstanding_items(client, family["son"])) == HIDDEN


def test_a_relative_sees_sensitive_items_as_private_in_the_visit_R19(client, family):
    assert _names(_visit_items(client, family["son"], family["visit"])) == HIDDEN


def test_the_patient_sees_the_real_names_everywhere_R19(client, family):
    token = family["elder"]
    assert _names(_bill_items(client, token, family["bill"])) == SHOWN
    assert _names(_outstanding_items(client, token)) == SHOWN
    assert _names(_visit_items(client, token, family["visit"])) == SHOWN


def test_sharing_with_one_relative_reveals_to_that_relative_only_R19(client, family):
    url = "/api/v1/family/bindings/%s" % family["son_binding"]
    resp = client.patch(url, json={"share_sensitive": True}, headers=bearer(family["elder"]))
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["binding"]["share_sensitive"] is True
    son, daughter = family["son"], family["daughter"]
    assert _names(_bill_items(client, son, family["bill"])) == SHOWN
    assert _names(_outstanding_items(client, son)) == SHOWN
    assert _names(_visit_items(client, son, family["visit"])) == SHOWN
    assert _names(_bill_items(client, daughter, family["bill"])) == HIDDEN
    assert _names(_outstanding_items(client, daughter)) == HIDDEN
    asked = client.get("/api/v1/family/bindings", headers=bearer(son)).get_json()["asked"]
    assert [b["share_sensitive"] for b in asked] == [True]
    resp = client.patch(url, json={"share_sensitive": False}, headers=bearer(family["elder"]))
    assert resp.status_code == 200 and resp.get_json()["binding"]["share_sensitive"] is False
    assert _names(_bill_items(client, son, family["bill"])) == HIDDEN


def test_only_the_patient_may_share_sensitive_items_R19(client, person, family):
    url = "/api/v1/family/bindings/%s" % family["son_binding"]
    resp = client.patch(url, json={"share_sensitive": True}, headers=bearer(family["son"]))
    assert resp.status_code == 403 and resp.get_json()["error"]["code"] == "PERMISSION_DENIED"
    stranger, _ = person("o-s-stranger")
    resp = client.patch(url, json={"share_sensitive": True}, headers=bearer(stranger))
    assert resp.status_code == 404
    resp = client.patch(url, json={"share_sensitive": "yes"}, headers=bearer(family["elder"]))
    assert resp.status_code == 422 and "error" in resp.get_json()
    assert _names(_bill_items(client, family["son"], family["bill"])) == HIDDEN


def test_the_his_flag_and_the_hospital_list_each_make_an_item_sensitive_R19(app, client, his, family):
    from postpay.extensions import db
    from postpay.hospitals.models import Hospital

    with app.app_context():
        Hospital.query.filter_by(code="NT01").one().sensitive_terms = ["exam"]  # a category this time
        db.session.commit()
    his.items(
        "S-1",
        ("S-1-4", "exam", "胸部CT", 1, 30000),
        ("S-1-5", "lab", "心理测评量表", 1, 8000),
        ("S-1-6", "drug", "阿莫西林", 1, 1500, {"sensitive": True}),
        ("S-1-7", "drug", "布洛芬", 1, 900, {"sensitive": False}),
    )
    found = _names(_visit_items(client, family["son"], family["visit"]))
    assert found["S-1-4"] == ("隐私项目", "private", 30000)  # the hospital's list, by category
    assert found["S-1-5"] == ("心理测评量表", "lab", 8000)  # no longer on this hospital's list
    assert found["S-1-6"] == ("隐私项目", "private", 1500)  # the HIS's flag
    assert found["S-1-7"] == ("布洛芬", "drug", 900)


def test_a_relative_sees_a_sensitive_event_as_private_in_the_timeline_R19(client, his, family):
    his.event("S-1", "report_ready", at="2026-11-22T10:00:00+08:00", report="HIV抗体检测")  # the hospital's list
    his.event("S-1", "exam_done", at="2026-11-22T10:30:00+08:00", his_item_no="S-1-3")  # a flagged item
    his.event("S-1", "dispensed", at="2026-11-22T11:00:00+08:00", window="3号窗口")
    url = "/api/v1/visits/" + family["visit"]
    seen = client.get(url, headers=bearer(family["son"])).get_json()["visit"]["timeline"]
    assert [e["detail"] for e in seen] == [{"name": "隐私项目"}, {"name": "隐私项目"}, {"window": "3号窗口"}]
    own = client.get(url, headers=bearer(family["elder"])).get_json()["visit"]["timeline"]
    assert [e["detail"] for e in own] == [{"report": "HIV抗体检测"}, {"his_item_no": "S-1-3"}, {"window": "3号窗口"}]


def test_a_relative_sees_a_sensitive_event_as_private_in_the_live_stream_R19(app, client, his, family):
    from tests.visits.test_accompany import read_events

    app.config["POSTPAY_SSE_HEARTBEAT_SECONDS"] = 0.05
    app.config["POSTPAY_SSE_MAX_SECONDS"] = 10
    his.event("S-1", "report_ready", at="2026-11-22T10:00:00+08:00", report="梅毒螺旋体抗体")
    resp = client.get("/api/v1/visits/%s/events" % family["visit"], headers=bearer(family["son"]))
    assert resp.status_code == 200
    got = []
    thread = threading.Thread(target=lambda: got.extend(read_events(resp, 3)))
    thread.start()
    his.event("S-1", "exam_done", at="2026-11-22T10:30:00+08:00", his_item_no="S-1-3")  # live
    his.event("S-1", "dispensed", at="2026-11-22T11:00:00+08:00", window="3号窗口")
    thread.join(10)
    assert [(e["type"], e["detail"]) for e in got] == [
        ("report_ready", {"name": "隐私项目"}),
        ("exam_done", {"name": "隐私项目"}),
        ("dispensed", {"window": "3号窗口"}),
    ]


def test_a_relative_gets_private_subscribe_messages_for_a_sensitive_event_R19(app, client, his, family):
    for token, openid in ((family["son"], "o-s-son"), (family["elder"], "o-s-elder")):
        client.post("/sandbox/wechat/subscriptions", json={"openid": openid, "template_id": "TPL_REPORT_READY"})
        resp = client.post("/api/v1/subscriptions", json={"template_ids": ["TPL_REPORT_READY"]}, headers=bearer(token))
        assert resp.status_code == 200
    his.event("S-1", "report_ready", at="2026-11-22T10:00:00+08:00", report="HIV抗体检测")
    run_jobs(app)

    def thing2(openid):
        messages = client.get("/sandbox/wechat/messages?openid=" + openid).get_json()["messages"]
        assert len(messages) == 1
        return messages[0]["data"]["thing2"]["value"]

    assert thing2("o-s-son") == "隐私项目 检查检验报告已出"
    assert thing2("o-s-elder") == "心内科 检查检验报告已出"


def test_a_relative_gets_private_subscribe_messages_from_a_sensitive_department_R19(app, client, his, family):
    client.post("/sandbox/wechat/subscriptions", json={"openid": "o-s-son", "template_id": "TPL_VISIT_CALLED"})
    client.post("/api/v1/subscriptions", json={"template_ids": ["TPL_VISIT_CALLED"]}, headers=bearer(family["son"]))
    his.visit("S-2", family["elder_patient"], department="心理门诊")
    his.event("S-2", "called", at="2026-11-22T09:00:00+08:00")
    run_jobs(app)
    messages = client.get("/sandbox/wechat/messages?openid=o-s-son").get_json()["messages"]
    assert [m["data"]["thing2"]["value"] for m in messages] == ["隐私项目 请到诊室就诊"]


def test_bill_due_messages_to_a_relative_carry_no_item_R19(app, client, his, family):
    """The bill-due subscribe message names only the hospital and the amount, never an item."""
    client.post("/sandbox/wechat/subscriptions", json={"openid": "o-s-son", "template_id": "TPL_BILL_DUE"})
    client.post("/api/v1/subscriptions", json={"template_ids": ["TPL_BILL_DUE"]}, headers=bearer(family["son"]))
    his.event("S-1", "visit_finished")
    run_jobs(app)
    messages = client.get("/sandbox/wechat/messages?openid=o-s-son").get_json()["messages"]
    assert len(messages) == 1
    text = str(messages[0]["data"])
    assert "190.00元" in text and "HIV" not in text and "盆腔" not in text


def test_overdue_sms_and_messages_to_a_relative_name_no_item_R19(app, client, runner, person, bind, signed, phone, his):
    """The R17 reminders (SMS and subscribe message) reach relatives with the hospital and the amount only."""
    mum_token, mum = person("o-s-mum", name="吴母", birth="19520202")
    son_token, _ = person("o-s-son2", name="吴子")
    assert signed(mum_token, mum["id"], "13611119001").status_code == 201
    bind(son_token, mum_token, mum, permissions=["view", "pay"])
    phone(son_token, "13611119002")
    client.post("/sandbox/wechat/subscriptions", json={"openid": "o-s-son2", "template_id": "TPL_BILL_OVERDUE"})
    client.post("/api/v1/subscriptions", json={"template_ids": ["TPL_BILL_OVERDUE"]}, headers=bearer(son_token))
    his.visit("S-9", mum, registered_at="2026-11-20T08:00:00+08:00")
    his.items("S-9", ("1", "lab", "HIV抗体检测", 1, 5000))
    his.event("S-9", "visit_finished", at="2026-11-20T10:00:00+08:00")
    out = runner.invoke(args=["jobs", "run-sweeps", "--now", "2026-11-21T10:30:00+08:00"])
    assert out.exit_code == 0, out.output
    run_jobs(app)
    texts = [m["text"] for m in client.get("/sandbox/sms/outbox?phone=13611119002").get_json()["messages"]]
    reminders = [t for t in texts if "就诊费用" in t]
    assert len(reminders) == 1 and "50.00元" in reminders[0] and "HIV" not in reminders[0]
    messages = client.get("/sandbox/wechat/messages?openid=o-s-son2").get_json()["messages"]
    assert messages and all("HIV" not in str(m["data"]) for m in messages)


def _void(his, no, reason):
    resp = his.open("/his/v1/visits/S-1/items/%s/void" % no, json={"reason": reason})
    assert resp.status_code == 200, resp.get_json()


def test_a_voided_sensitive_items_reason_stays_from_relatives_R19(client, his, family):
    """The HIS's void reason may name the item: a relative sees none, the patient sees it."""
    his.event("S-1", "visit_finished")
    _void(his, "S-1-2", "HIV抗体检测未做")
    bill = client.get("/api/v1/bills/" + family["bill"], headers=bearer(family["son"])).get_json()["bill"]
    (hidden,) = [i for i in bill["items"] if i["his_item_no"] == "S-1-2"]
    assert (hidden["name"], hidden["status"], hidden["void_reason"]) == ("隐私项目", "voided", None)
    (visited,) = [i for i in _visit_items(client, family["son"], family["visit"]) if i["his_item_no"] == "S-1-2"]
    assert visited["void_reason"] is None and "HIV" not in str(visited)
    (own,) = [i for i in _visit_items(client, family["elder"], family["visit"]) if i["his_item_no"] == "S-1-2"]
    assert own["void_reason"] == "HIV抗体检测未做"


def test_a_refund_of_a_sensitive_item_names_no_item_to_the_paying_relative_R19(app, client, his, family):
    """A refund's reason reaches the payer in the history, the bill, the refund message and WeChat Pay:
    for a sensitive item it is "隐私项目退费", whatever the HIS wrote."""
    from postpay.payments.models import Refund

    for _ in range(2):  # one message a subscription
        client.post("/sandbox/wechat/subscriptions", json={"openid": "o-s-son", "template_id": "TPL_REFUND_RESULT"})
        client.post(
            "/api/v1/subscriptions", json={"template_ids": ["TPL_REFUND_RESULT"]}, headers=bearer(family["son"])
        )
    his.event("S-1", "visit_finished")
    paid = client.post(
        "/api/v1/payments",
        json={"bill_ids": [family["bill"]]},
        headers=bearer(family["son"]) | {"Idempotency-Key": "sens-refund-01"},
    )
    assert paid.status_code == 201, paid.get_json()
    client.post("/sandbox/wechatpay/orders/%s/pay" % paid.get_json()["payment"]["out_trade_no"])
    _void(his, "S-1-1", "血常规未做")  # a plain item keeps the HIS's reason
    _void(his, "S-1-2", "HIV抗体检测未做")
    run_jobs(app)
    with app.app_context():
        for refund in Refund.query.all():
            client.post("/sandbox/wechatpay/refunds/%s/complete" % refund.out_refund_no, json={"status": "SUCCESS"})
    run_jobs(app)
    (payment,) = client.get("/api/v1/payments", headers=bearer(family["son"])).get_json()["payments"]
    assert sorted(r["reason"] for r in payment["refunds"]) == ["血常规未做", "隐私项目退费"]
    bill = client.get("/api/v1/bills/" + family["bill"], headers=bearer(family["son"])).get_json()["bill"]
    assert "HIV" not in str(bill)
    messages = client.get("/sandbox/wechat/messages?openid=o-s-son").get_json()["messages"]
    assert len(messages) == 2 and "HIV" not in str(messages)
    assert sorted(m["data"]["thing4"]["value"] for m in messages) == ["血常规未做", "隐私项目退费"]


def test_a_dispute_about_a_sensitive_item_shows_a_relative_no_reason_R19(client, family):
    """The patient's own words about the item (and the window's answer) may name it."""
    item = family["items"]["S-1-2"]
    raised = client.post(
        "/api/v1/bills/%s/disputes" % family["bill"],
        json={"item_ids": [item], "reason": "HIV抗体检测没有做"},
        headers=bearer(family["elder"]),
    )
    assert raised.status_code == 201, raised.get_json()

    def dispute(token):
        bill = client.get("/api/v1/bills/" + family["bill"], headers=bearer(token)).get_json()["bill"]
        return next(i["dispute"] for i in bill["items"] if i["id"] == item)

    assert (dispute(family["son"])["status"], dispute(family["son"])["reason"]) == ("pending", None)
    assert dispute(family["elder"])["reason"] == "HIV抗体检测没有做"
