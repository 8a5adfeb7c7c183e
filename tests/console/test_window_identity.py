"""R8 at the window without an e-voucher: staff check the identity card, 1101 confirms its name and
number, and the person becomes a verified patient (``verified_by`` window) with the staff member in
the audit log. With R15: the elder a child asked to bind consents there."""

from postpay.accounts.models import Patient
from postpay.console.models import AuditEntry
from postpay.extensions import db
from postpay.family.models import Binding
from tests.conftest import bearer
from tests.console.conftest import flash
from tests.insured import ask_binding, insured


def test_r8_staff_verify_an_identity_card_with_1101_and_the_audit_names_them(app, client, staff):
    elder = insured(client, "褚阿公", birth="19420815")
    clerk = staff("verifier")
    assert "身份证实名" in clerk.get("/console/").text
    resp = clerk.post("/console/patients", data=elder | {"id_checked": "yes"})
    page = flash(clerk, resp)
    assert "已通过医保平台核验身份：褚阿公" in page and "窗口核验身份证" in page
    assert elder["id_number"] not in page and elder["id_number"][:6] + "********" in page
    with app.app_context():
        patient = Patient.query.one()
        assert patient.verified_by == "window" and patient.verified_at and patient.psn_no.startswith("320602")
        entry = AuditEntry.query.filter_by(action="verify_identity").one()
        assert (entry.username, entry.patient_id) == ("verifier", patient.id)
        assert entry.detail == {
            "channel": "window",
            "id_number": elder["id_number"][:6] + "********" + elder["id_number"][-4:],
        }
    # The same person again: the same patient, not a second one.
    flash(clerk, clerk.post("/console/patients", data=elder | {"id_checked": "yes"}))
    with app.app_context():
        assert Patient.query.count() == 1


def test_r8_a_name_the_platform_does_not_hold_creates_no_patient(app, client, staff):
    elder = insured(client, "卫阿婆")
    clerk = staff("verifier2")
    refusals = {
        "姓名与身份证号不一致": elder | {"name": "卫阿姨", "id_checked": "yes"},
        "请先核验患者身份证件": elder,
        "身份证号校验位不正确": elder
        | {"id_number": elder["id_number"][:-1] + ("1" if elder["id_number"][-1] != "1" else "2"), "id_checked": "yes"},
        "请输入身份证上的姓名": elder | {"name": " ", "id_checked": "yes"},
    }
    for message, form in refusals.items():
        page = flash(clerk, clerk.post("/console/patients", data=form))
        assert message in page and 'class="flash error"' in page, message
    with app.app_context():
        assert Patient.query.count() == 0
        assert AuditEntry.query.filter_by(action="verify_identity").count() == 0


def test_r8_r15_an_elder_without_an_account_consents_at_the_window_never_the_asker(app, client, staff, person):
    son_token, son = person("o-wi-son", name="蒋强")
    mum = insured(client, "蒋母", birth="19450303")
    binding_id = ask_binding(client, son_token, mum).get_json()["binding"]["id"]
    clerk = staff("consent-r8")
    # Staff on the asker's own page cannot consent for the elder.
    wrong = clerk.post("/console/patients/%s/bindings/%s/consent" % (son["id"], binding_id), data={"id_checked": "yes"})
    assert "未找到该绑定申请" in flash(clerk, wrong)
    with app.app_context():
        assert db.session.get(Binding, binding_id).status.value == "pending"
    # The elder comes with her card: verified at the window, then her consent.
    page = flash(clerk, clerk.post("/console/patients", data=mum | {"id_checked": "yes"}))
    assert "窗口确认绑定" in page
    with app.app_context():
        mum_patient = Patient.query.filter_by(name="蒋母").one()
        assert mum_patient.verified_by == "window"  # the card was seen now
    url = "/console/patients/%s/bindings/%s/consent" % (mum_patient.id, binding_id)
    assert "已确认亲情绑定" in flash(clerk, clerk.post(url, data={"id_checked": "yes"}))
    with app.app_context():
        binding = db.session.get(Binding, binding_id)
        assert binding.status.value == "active" and binding.consent_channel == "window"
    me = client.get("/api/v1/me", headers=bearer(son_token)).get_json()["user"]
    assert [p["relationship"] for p in me["patients"]] == ["self", "parent"]
