"""The window desk: lookup, window signing (R6, R7), window consent (R15), disputes (R12)."""

import base64
import re

import pytest

from postpay.billing.models import Dispute, Item
from postpay.console.models import AuditEntry
from postpay.contracts.models import Contract
from postpay.extensions import db
from postpay.family.models import Binding
from postpay.payments.models import Refund
from tests.conftest import bearer, last_sms_code, run_jobs
from tests.pngs import png


@pytest.fixture
def visit_bill(person, signed, his):
    """``visit_bill(openid, no) -> (token, patient, bill_id, item ids)``: a signed patient's finished, due bill."""

    def _make(openid="o-c-1", no="C-1", number="13700000101", **identity):
        token, patient = person(openid, **identity)
        assert signed(token, patient["id"], number).status_code == 201
        visit = his.visit(no, patient)
        items = his.items(no, ("%s-1" % no, "lab", "血常规", 1, 2000), ("%s-2" % no, "exam", "CT平扫", 1, 30000))
        his.event(no, "visit_finished")
        return token, patient, visit["bill_id"], [i["item_id"] for i in items]

    return _make


def test_lookup_by_identity_number_and_by_phone_shows_masked_data(app, staff, person, phone):
    token, patient = person("o-c-look", name="钱老太", birth="19460101")
    phone(token, "13912345678")
    clerk = staff("clerk")
    assert 'method="post"' in clerk.get("/console/").text  # the number goes in a form body, never a URL
    resp = clerk.post("/console/lookup", data={"q": patient["id_number_plain"]})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/console/patients/" + patient["id"])
    page = clerk.get(resp.headers["Location"]).text
    assert "钱老太" in page and patient["id"] and patient["id_number"] in page
    assert patient["id_number_plain"] not in page
    by_phone = clerk.post("/console/lookup", data={"q": "13912345678"})
    assert by_phone.headers["Location"].endswith(patient["id"])
    missing = clerk.post("/console/lookup", data={"q": "13900000000"})
    assert missing.status_code == 302 and "未找到该患者" in clerk.get(missing.headers["Location"]).text
    bad = clerk.post("/console/lookup", data={"q": "abc"})
    assert "请输入18位身份证号或11位手机号" in clerk.get(bad.headers["Location"]).text
    assert clerk.post("/console/lookup", data={"q": patient["id_number_plain"]}, csrf=False).status_code == 400
    assert clerk.get("/console/lookup?q=" + patient["id_number_plain"]).status_code == 405
    with app.app_context():
        actions = [e.action for e in AuditEntry.query.filter_by(patient_id=patient["id"])]
        assert actions.count("lookup") == 2 and "view_patient" in actions
        assert all(patient["id_number_plain"] not in str(e.detail) for e in AuditEntry.query)


def _sign_form(clerk, patient_id, **override):
    body = {
        "commitment_version": "2026.1",
        "sms_code": "000000",
        "signature_png": "data:image/png;base64," + base64.b64encode(png()).decode(),
        "back": "/console/patients/" + patient_id,
    } | override
    return clerk.post("/console/patients/%s/contracts" % patient_id, data=body)


def test_r6_r7_window_signing_needs_the_id_check_the_pad_signature_and_the_sms_code(app, client, staff, person):
    _, patient = person("o-c-sign", name="孙大爷", birth="19500505")
    clerk = staff("signer")
    pid = patient["id"]
    page = clerk.get("/console/patients/" + pid).text
    assert 'id="pad"' in page and "发送验证码" in page
    unchecked = clerk.post(
        "/console/patients/%s/sms-code" % pid, data={"phone": "13600000001", "back": "/console/patients/" + pid}
    )
    assert unchecked.status_code == 302 and "请先核验" in clerk.get("/console/patients/" + pid).text
    sent = clerk.post("/console/patients/%s/sms-code" % pid, data={"phone": "13600000001", "id_checked": "yes"})
    assert sent.status_code == 302
    code = last_sms_code(client, "13600000001")
    assert (
        "验证码不正确"
        in clerk.get(
            _sign_form(clerk, pid, sms_code="999999" if code != "999999" else "111111").headers["Location"]
        ).text
    )
    bad_png = _sign_form(clerk, pid, sms_code=code, signature_png="data:image/png;base64,aGVsbG8=")
    assert "签名图片" in clerk.get(bad_png.headers["Location"]).text
    ok = _sign_form(clerk, pid, sms_code=code)
    assert "签约成功" in clerk.get(ok.headers["Location"]).text
    with app.app_context():
        contract = Contract.query.filter_by(patient_id=pid).one()
        assert contract.channel.value == "window" and contract.phone == "13600000001"
        assert contract.signer_user_id is None and contract.signature_png == png()
        assert AuditEntry.query.filter_by(action="sign_contract", patient_id=pid).count() == 1
    again = clerk.post("/console/patients/%s/sms-code" % pid, data={"phone": "13600000002", "id_checked": "yes"})
    assert "已签约" in clerk.get(again.headers["Location"]).text


def test_r15_window_consent_for_an_elder_without_a_phone(app, client, staff, person, phone):
    son_token, _ = person("o-c-son", name="李强")
    _, mum = person("o-c-mum", name="李母", birth="19450303")
    asked = client.post(
        "/api/v1/family/bindings",
        json={
            "relative": {"name": "李母", "id_number": mum["id_number_plain"]},
            "relationship": "parent",
            "permissions": ["view", "pay"],
        },
        headers=bearer(son_token),
    ).get_json()["binding"]["id"]
    clerk = staff("consent")
    url = "/console/patients/%s/bindings/%s/consent" % (mum["id"], asked)
    assert "窗口确认绑定" in clerk.get("/console/patients/" + mum["id"]).text
    clerk.post(url, data={})
    with app.app_context():
        assert db.session.get(Binding, asked).status.value == "pending"  # no ID check, no consent
    assert clerk.post(url, data={"id_checked": "yes"}).status_code == 302
    with app.app_context():
        binding = db.session.get(Binding, asked)
        assert binding.status.value == "active" and binding.consent_channel == "window"
    twice = clerk.get(clerk.post(url, data={"id_checked": "yes"}).headers["Location"]).text
    assert 'class="flash error"' in twice


def test_r15_an_elder_with_her_own_phone_consents_herself(app, client, staff, person, phone):
    son_token, _ = person("o-c-son2", name="周强")
    mum_token, mum = person("o-c-mum2", name="周母", birth="19450303")
    phone(mum_token, "13711112222")
    asked = client.post(
        "/api/v1/family/bindings",
        json={
            "relative": {"name": "周母", "id_number": mum["id_number_plain"]},
            "relationship": "parent",
            "permissions": ["view"],
        },
        headers=bearer(son_token),
    ).get_json()["binding"]["id"]
    clerk = staff("consent2")
    resp = clerk.post("/console/patients/%s/bindings/%s/consent" % (mum["id"], asked), data={"id_checked": "yes"})
    assert "本人小程序" in clerk.get(resp.headers["Location"]).text
    with app.app_context():
        assert db.session.get(Binding, asked).status.value == "pending"


def test_r12_confirming_a_paid_item_voids_it_tells_the_his_and_starts_the_refund(app, client, staff, visit_bill, his):
    token, patient, bill_id, (lab, ct) = visit_bill("o-c-disp", "D-1")
    assert (
        client.post(
            "/api/v1/bills/%s/disputes" % bill_id, json={"item_ids": [ct], "reason": "CT未做"}, headers=bearer(token)
        ).status_code
        == 201
    )
    paid = client.post(
        "/api/v1/payments", json={"bill_ids": [bill_id]}, headers=bearer(token) | {"Idempotency-Key": "disp-key-0001"}
    ).get_json()["payment"]
    client.post("/sandbox/wechatpay/orders/%s/pay" % paid["out_trade_no"])
    clerk = staff("desk")
    queue = clerk.get("/console/disputes").text
    assert "CT平扫" in queue and "CT未做" in queue
    dispute = re.search(r"/console/disputes/(dp_[^/]+)/decision", queue).group(1)
    resp = clerk.post("/console/disputes/%s/decision" % dispute, data={"decision": "confirm"})
    assert "退款已发起" in clerk.get(resp.headers["Location"]).text
    run_jobs(app)
    with app.app_context():
        assert db.session.get(Item, ct).voided_at is not None
        refund = Refund.query.filter_by(item_id=ct).one()
        assert refund.amount_fen == 30000 and refund.status == "processing"
    voids = his.open("/his/v1/voids", method="GET").get_json()
    assert [(v["his_item_no"], v["paid"], v["amount_fen"]) for v in voids["voids"]] == [("D-1-2", True, 30000)]
    assert his.open("/his/v1/voids?cursor=yesterday", method="GET").status_code == 422
    later = his.open("/his/v1/voids?cursor=" + voids["cursor"], method="GET").get_json()
    assert later["voids"] == [] and later["cursor"] == voids["cursor"]
    assert voids["next_cursor"] == voids["cursor"]  # every feed names its cursor next_cursor
    assert his.at("HA01").open("/his/v1/voids", method="GET").get_json()["voids"] == []  # another hospital's
    twice = clerk.post("/console/disputes/%s/decision" % dispute, data={"decision": "confirm"})
    assert "已处理" in clerk.get(twice.headers["Location"]).text


def test_r12_rejecting_needs_a_reason_which_the_patient_then_sees(app, client, staff, visit_bill):
    token, _, bill_id, (lab, _) = visit_bill("o-c-rej", "D-2")
    client.post(
        "/api/v1/bills/%s/disputes" % bill_id, json={"item_ids": [lab], "reason": "没抽血"}, headers=bearer(token)
    )
    clerk = staff("desk2")
    with app.app_context():
        dispute = Dispute.query.one().id
    bare = clerk.post("/console/disputes/%s/decision" % dispute, data={"decision": "reject"})
    assert "驳回时请填写原因" in clerk.get(bare.headers["Location"]).text
    clerk.post("/console/disputes/%s/decision" % dispute, data={"decision": "reject", "reason": "检验科有采血记录"})
    bill = client.get("/api/v1/bills/" + bill_id, headers=bearer(token)).get_json()["bill"]
    found = [i["dispute"] for i in bill["items"] if i["dispute"]]
    assert found[0]["status"] == "rejected" and found[0]["decision_reason"] == "检验科有采血记录"
    with app.app_context():
        assert db.session.get(Item, lab).voided_at is None


def test_staff_of_another_hospital_see_nothing_of_this_one(app, staff, visit_bill, client):
    token, patient, bill_id, (lab, _) = visit_bill("o-c-scope", "S-1")
    client.post("/api/v1/bills/%s/disputes" % bill_id, json={"item_ids": [lab], "reason": "x"}, headers=bearer(token))
    other = staff("haian", hospital="HA01")
    page = other.get("/console/patients/" + patient["id"]).text
    assert "S-1" not in page and "血常规" not in page and "本院暂无诊后付账单" in page
    assert "血常规" not in other.get("/console/disputes").text
    with app.app_context():
        dispute = Dispute.query.one().id
    for url, data in (
        ("/console/disputes/%s/decision" % dispute, {"decision": "confirm"}),
        ("/console/bills/%s/payments" % bill_id, {"mode": "cash"}),
    ):
        resp = other.post(url, data=data)
        assert "未找到" in other.get(resp.headers["Location"]).text
    with app.app_context():
        assert Dispute.query.one().status.value == "pending" and db.session.get(Item, lab).voided_at is None
    admin = staff("root", role="admin", hospital="HA01")
    assert "血常规" in admin.get("/console/patients/" + patient["id"]).text
