"""Messages on the app the person uses (issue 22 part 4; R16, R17): a person who last signed in
through the official account gets template messages (no quota needed), a mini-program user the
subscribe messages as before; a person with both apps gets each message once, on the last one."""

import pytest

from tests.conftest import bearer, make_id_number, run_jobs
from tests.oa import OA_CONFIG


@pytest.fixture
def config(config):
    return config | OA_CONFIG


def subscribed(client, token, openid, template_id):
    """The mini-program user accepted one subscribe message of ``template_id``."""
    client.post("/sandbox/wechat/subscriptions", json={"openid": openid, "template_id": template_id})
    client.post("/api/v1/subscriptions", json={"template_ids": [template_id]}, headers=bearer(token))


def subscribe_messages(client, openid):
    return [m["template_id"] for m in client.get("/sandbox/wechat/messages?openid=" + openid).get_json()["messages"]]


def template_messages(client, openid):
    found = client.get("/sandbox/wechat/template-messages?openid=" + openid).get_json()["messages"]
    return [m["template_id"] for m in found]


@pytest.fixture
def family(app, client, login, oa_login, verify, person, signed, bind, his):
    """Mum uses the mini-program; her son used it once (the same person by unionid) and now signs in
    through the official account; he may accompany and pay for her. Mum's visit V1 is open at NT01."""
    mum, mum_patient = person("o-m-mum", name="钱母", birth="19520303")
    assert signed(mum, mum_patient["id"], "13622220001").status_code == 201
    first = login("o-m-son", unionid="u-m-son")
    assert verify(first, name="钱子", id_number=make_id_number()).status_code == 200
    son = oa_login("oa-m-son", unionid="u-m-son")
    bind(son, mum, mum_patient, permissions=["view", "accompany", "pay"])
    his.visit("V1", mum_patient, registered_at="2026-11-22T08:00:00+08:00")
    return {"mum": mum, "son": son, "first": first, "mum_patient": mum_patient}


def test_visit_events_and_the_due_bill_reach_an_official_account_user_as_template_messages_once_R16(
    app, client, his, family
):
    subscribed(client, family["mum"], "o-m-mum", "TPL_VISIT_CALLED")
    subscribed(client, family["first"], "o-m-son", "TPL_VISIT_CALLED")  # a quota he no longer uses
    his.event("V1", "called", at="2026-11-22T08:40:00+08:00")
    run_jobs(app)
    assert template_messages(client, "oa-m-son") == ["OA_TPL_VISIT_CALLED"]
    assert subscribe_messages(client, "o-m-son") == []  # one message, on the app he uses
    assert subscribe_messages(client, "o-m-mum") == ["TPL_VISIT_CALLED"]
    [message] = client.get("/sandbox/wechat/template-messages?openid=oa-m-son").get_json()["messages"]
    assert "心内科" in message["data"]["thing2"]["value"] and message["data"]["thing1"]["value"] == "南通市第一人民医院"
    from postpay.queue import enqueue
    from postpay.visits.models import VisitEvent

    with app.app_context():  # the same job again (a retry, a second worker) sends nothing more
        enqueue("postpay.visits.messages.send_event_messages", VisitEvent.query.filter_by(type="called").one().id)
    run_jobs(app)
    assert template_messages(client, "oa-m-son") == ["OA_TPL_VISIT_CALLED"]
    his.items("V1", ("1", "lab", "血常规", 1, 2345))
    his.event("V1", "visit_finished", at="2026-11-22T11:00:00+08:00")
    run_jobs(app)
    assert sorted(template_messages(client, "oa-m-son")) == [
        "OA_TPL_BILL_DUE",
        "OA_TPL_VISIT_CALLED",
        "OA_TPL_VISIT_FINISHED",
    ]
    found = client.get("/sandbox/wechat/template-messages?openid=oa-m-son").get_json()["messages"]
    [due] = [m for m in found if m["template_id"] == "OA_TPL_BILL_DUE"]
    assert due["data"]["amount2"]["value"] == "23.45元"


def test_signing_in_to_the_mini_program_again_moves_the_messages_there(app, client, login, his, family):
    login("o-m-son", unionid="u-m-son")  # back in the mini-program: last_app is "mini"
    subscribed(client, family["first"], "o-m-son", "TPL_VISIT_CALLED")
    his.event("V1", "called", at="2026-11-22T08:40:00+08:00")
    run_jobs(app)
    assert subscribe_messages(client, "o-m-son") == ["TPL_VISIT_CALLED"]
    assert template_messages(client, "oa-m-son") == []


def test_the_receipt_reaches_the_official_account_payer_and_the_mini_program_patient_once(app, client, his, family):
    his.items("V1", ("1", "exam", "CT", 1, 30000))
    his.event("V1", "visit_finished", at="2026-11-22T11:00:00+08:00")
    bill = client.get("/api/v1/bills/outstanding", headers=bearer(family["son"])).get_json()["bills"][0]["id"]
    resp = client.post(
        "/api/v1/payments",
        json={"bill_ids": [bill]},
        headers=bearer(family["son"]) | {"Idempotency-Key": "oa-receipt-1"},
    )
    rp = resp.get_json()["request_payment"]
    assert client.post("/sandbox/wechat/jsbridge/getBrandWCPayRequest", json=rp).get_json()["err_msg"].endswith(":ok")
    subscribed(client, family["mum"], "o-m-mum", "TPL_RECEIPT_READY")
    receipt = {"receipt_no": "32060126-0009", "url": "https://einvoice.nt.example.cn/r/9", "amount_fen": 30000}
    for _ in range(2):  # the HIS retries: one receipt, one message each
        answer = his.open("/his/v1/bills/%s/receipt" % bill, json=receipt | {"issued_at": "2026-11-30T15:00:00+08:00"})
        assert answer.status_code == 200, answer.get_json()
        run_jobs(app)
    assert template_messages(client, "oa-m-son")[-1:] == ["OA_TPL_RECEIPT_READY"]
    assert template_messages(client, "oa-m-son").count("OA_TPL_RECEIPT_READY") == 1
    assert subscribe_messages(client, "o-m-mum").count("TPL_RECEIPT_READY") == 1


def test_an_overdue_reminder_reaches_the_official_account_user_once_per_stage_R17(app, client, runner, his, family):
    his.items("V1", ("1", "exam", "CT", 1, 30000))
    his.event("V1", "visit_finished", at="2026-11-22T11:00:00+08:00")
    run_jobs(app)
    for now in ("2026-11-23T11:30:00+08:00", "2026-11-23T12:30:00+08:00"):  # overdue since 11:00; a re-run
        out = runner.invoke(args=["jobs", "run-sweeps", "--now", now])
        assert out.exit_code == 0, out.output
        run_jobs(app)
    found = client.get("/sandbox/wechat/template-messages?openid=oa-m-son").get_json()["messages"]
    overdue = [m for m in found if m["template_id"] == "OA_TPL_BILL_OVERDUE"]
    assert len(overdue) == 1 and overdue[0]["data"]["amount2"]["value"] == "300.00元"
    assert "TPL_BILL_OVERDUE" not in subscribe_messages(client, "o-m-son")


def test_a_person_who_unfollowed_the_official_account_gets_the_message_in_the_mini_program_once(
    app, client, his, family
):
    """WeChat refuses template messages to someone who unfollowed the account (43004): the son,
    who also uses the mini-program, gets the subscribe message there instead, and only that."""
    client.post("/sandbox/wechat/oa-followers", json={"openid": "oa-m-son", "follows": False})
    subscribed(client, family["first"], "o-m-son", "TPL_VISIT_CALLED")
    his.event("V1", "called", at="2026-11-22T08:40:00+08:00")
    run_jobs(app)
    assert template_messages(client, "oa-m-son") == []
    assert subscribe_messages(client, "o-m-son") == ["TPL_VISIT_CALLED"]


def test_an_official_account_only_user_who_unfollowed_gets_nothing_and_nothing_breaks(
    app, client, oa_login, verify, bind, his, family
):
    daughter = oa_login("oa-m-daughter")  # the official account only: no mini-program openid
    assert verify(daughter, name="钱女", id_number=make_id_number()).status_code == 200
    bind(daughter, family["mum"], family["mum_patient"], permissions=["view", "accompany"])
    client.post("/sandbox/wechat/oa-followers", json={"openid": "oa-m-daughter", "follows": False})
    his.event("V1", "called", at="2026-11-22T08:40:00+08:00")
    run_jobs(app)
    assert template_messages(client, "oa-m-daughter") == []
    assert template_messages(client, "oa-m-son") == ["OA_TPL_VISIT_CALLED"]  # the others still get theirs
