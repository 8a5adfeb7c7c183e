"""R8 with R15: a child binds a parent who never used the service. 1101 confirms the name and
number, the parent becomes a verified patient without an account, and the binding waits for the
parent's own consent, which never comes from the asker."""

from postpay.accounts.models import Patient, User
from postpay.extensions import db
from postpay.family.models import Binding
from tests.conftest import bearer
from tests.insured import ask_binding, insured


def test_a_child_binds_a_parent_who_has_no_account_R8_R15(app, client, person):
    child_token, _ = person("o-pp-child", name="孙晓明")
    mum = insured(client, "孙阿娣")
    resp = ask_binding(client, child_token, mum)
    assert resp.status_code == 201, resp.get_json()
    binding = resp.get_json()["binding"]
    assert binding["status"] == "pending" and "patient_id" not in binding
    assert binding["relative"] == {
        "name": "孙*娣",
        "id_number": mum["id_number"][:6] + "********" + mum["id_number"][-4:],
    }
    with app.app_context():
        parent = Patient.query.filter(Patient.name == "孙阿娣").one()
        assert parent.verified_at is not None and parent.verified_by == "relative" and parent.psn_no
        assert User.query.filter_by(patient_id=parent.id).count() == 0  # a verified patient with no account
        raw = db.session.execute(db.text("SELECT id_number FROM patients WHERE id = :i"), {"i": parent.id}).scalar()
        assert mum["id_number"] not in raw  # encrypted at rest
    # The asker cannot consent for the parent.
    url = "/api/v1/family/bindings/%s/consent" % binding["id"]
    assert client.post(url, json={}, headers=bearer(child_token)).status_code == 404
    assert client.get("/api/v1/me", headers=bearer(child_token)).get_json()["user"]["patients"][1:] == []


def test_the_parent_consents_later_in_her_own_account_R8_R15(app, client, person):
    child_token, _ = person("o-pp-child2", name="吴晓明")
    mum = insured(client, "吴阿娣")
    binding_id = ask_binding(client, child_token, mum).get_json()["binding"]["id"]
    mum_token, mum_patient = person("o-pp-mum2", name="吴阿娣", id_number=mum["id_number"])
    received = client.get("/api/v1/family/bindings", headers=bearer(mum_token)).get_json()["received"]
    assert [b["id"] for b in received] == [binding_id] and received[0]["requester"]["name"] == "吴*明"
    ok = client.post("/api/v1/family/bindings/%s/consent" % binding_id, json={}, headers=bearer(mum_token))
    assert ok.status_code == 200 and ok.get_json()["binding"]["status"] == "active"
    with app.app_context():
        assert db.session.get(Binding, binding_id).consent_channel == "miniprogram"
        assert db.session.get(Patient, mum_patient["id"]).verified_by == "e_voucher"  # her own e-voucher now
    assert mum_patient["verified_by"] == "e_voucher"
    me = client.get("/api/v1/me", headers=bearer(child_token)).get_json()["user"]
    assert [p["relationship"] for p in me["patients"]] == ["self", "parent"]


def test_someone_the_platform_does_not_confirm_is_not_found_and_nothing_is_stored_R8(app, client, person):
    child_token, _ = person("o-pp-child3")
    mum = insured(client, "郑阿娣")
    wrong_name = ask_binding(client, child_token, dict(mum, name="郑阿弟"))
    nobody = ask_binding(client, child_token, {"name": "郑阿娣", "id_number": mum["id_number"][:-4] + "0000"})
    unknown = ask_binding(client, child_token, {"name": "郑阿娣", "id_number": "11010519491231002X"})
    bodies = [r.get_json() for r in (wrong_name, nobody, unknown)]
    assert {r.status_code for r in (wrong_name, nobody, unknown)} == {422}
    assert all(b == bodies[0] for b in bodies) and bodies[0]["error"]["code"] == "RELATIVE_NOT_FOUND"
    assert "参保人员" in bodies[0]["error"]["message"]
    with app.app_context():
        assert Patient.query.filter(Patient.name.like("郑%")).count() == 0


def test_a_relatives_request_does_not_replace_a_stronger_confirmation_R8(app, client, person):
    child_token, _ = person("o-pp-child4", name="冯晓明")
    _, mum = person("o-pp-mum4", name="冯阿娣", birth="19480312")
    with app.app_context():  # the platform now holds a new name for her: 1101 is asked again
        db.session.get(Patient, mum["id"]).name = "冯旧名"
        db.session.commit()
    assert ask_binding(client, child_token, {"name": "冯阿娣", "id_number": mum["id_number_plain"]}).status_code == 201
    with app.app_context():
        row = db.session.get(Patient, mum["id"])
        assert row.name == "冯阿娣" and row.verified_by == "e_voucher"
