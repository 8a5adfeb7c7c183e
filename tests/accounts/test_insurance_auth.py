"""Verified identity through the medical-insurance e-voucher authorization."""

import datetime as dt

from postpay.accounts.models import Patient, User
from tests.conftest import bearer, make_id_number


def test_verified_person_becomes_the_accounts_own_patient(app, client, login, verify):
    token = login("o-v1")
    number = make_id_number(region="320602", birth="19480312", seq=1)
    resp = verify(token, name="张建国", id_number=number, insurance_type="employee", insured_region="320602")
    assert resp.status_code == 200
    patient = resp.get_json()["patient"]
    assert patient["name"] == "张建国"
    assert patient["id_number"] == number[:6] + "********" + number[-4:]
    assert (patient["insured_region"], patient["insurance_type"], patient["insured_status"]) == (
        "320602",
        "employee",
        "normal",
    )
    with app.app_context():
        row = db_patient(patient["id"])
        assert row.birth_date == dt.date(1948, 3, 12) and row.sex == "M"
        assert row.verified_at is not None
        assert User.query.filter_by(openid="o-v1").one().patient_id == row.id
    me = client.get("/api/v1/me", headers=bearer(token)).get_json()
    assert [p["id"] for p in me["user"]["patients"]] == [patient["id"]]


def db_patient(patient_id):
    from postpay.extensions import db

    return db.session.get(Patient, patient_id)


def test_one_identity_number_is_one_patient_across_accounts(app, login, verify):
    number = make_id_number(birth="19900101")
    first = verify(login("o-v2"), id_number=number).get_json()["patient"]
    second = verify(login("o-v3"), id_number=number.lower(), insured_status="suspended").get_json()["patient"]
    assert first["id"] == second["id"]
    assert second["insured_status"] == "suspended"  # the latest verification wins
    with app.app_context():
        assert Patient.query.count() == 1


def test_an_account_verified_as_one_person_cannot_become_another(login, verify):
    token = login("o-v4")
    own = make_id_number(birth="19700101")
    assert verify(token, id_number=own).status_code == 200
    resp = verify(token, id_number=make_id_number(birth="19710101"))
    assert resp.status_code == 409 and resp.get_json()["error"]["code"] == "IDENTITY_CONFLICT"
    assert verify(token, id_number=own, insured_status="suspended").status_code == 200  # re-verifying oneself is fine


def test_unknown_and_reused_auth_codes_are_refused(client, login):
    token = login("o-v5")
    person = {
        "name": "李四",
        "id_number": make_id_number(),
        "insured_region": "320602",
        "insurance_type": "resident",
        "insured_status": "normal",
    }
    code = client.post("/sandbox/medins/auth-codes", json=person).get_json()["auth_code"]
    assert client.post("/api/v1/me/insurance-auth", json={"auth_code": code}, headers=bearer(token)).status_code == 200
    for auth_code in (code, "no-such-code"):
        resp = client.post("/api/v1/me/insurance-auth", json={"auth_code": auth_code}, headers=bearer(token))
        assert resp.status_code == 400 and resp.get_json()["error"]["code"] == "INVALID_AUTH_CODE"


def test_an_invalid_check_digit_from_the_platform_is_not_stored(app, login, verify):
    number = make_id_number()
    bad = number[:17] + ("0" if number[17] != "0" else "1")
    resp = verify(login("o-v6"), id_number=bad)
    assert resp.status_code == 502
    with app.app_context():
        assert Patient.query.count() == 0


def test_our_key_unknown_to_the_platform_fails_cleanly(app, login, verify):
    from wechat.medins import generate_sm2_keypair

    app.config["MEDINS_PRIVATE_KEY"] = generate_sm2_keypair()[0]  # not the key the platform knows
    resp = verify(login("o-v7"))
    assert resp.status_code == 502 and resp.get_json()["error"]["code"] == "UPSTREAM_ERROR"


def test_a_forged_platform_answer_is_rejected(app, login, verify):
    from wechat.medins import generate_sm2_keypair

    app.config["MEDINS_PLATFORM_PUBLIC_KEY"] = generate_sm2_keypair()[1]  # someone else signs
    resp = verify(login("o-v8"))
    assert resp.status_code == 502
    with app.app_context():
        assert Patient.query.count() == 0


def test_insurance_auth_needs_a_login(client):
    assert client.post("/api/v1/me/insurance-auth", json={"auth_code": "x"}).status_code == 401


def test_userquery_gives_the_payauthno_kept_encrypted_with_its_validity_and_1101_the_psnno(app, login, verify):
    from sqlalchemy import text

    from postpay.extensions import db

    number = make_id_number(region="320602", birth="19600606", seq=3)
    resp = verify(login("o-v9"), id_number=number, pay_auth_expires_in=600)
    assert resp.status_code == 200
    assert "pay_auth_no" not in str(resp.get_json()) and "psn_no" not in str(resp.get_json())
    with app.app_context():
        row = db_patient(resp.get_json()["patient"]["id"])
        assert row.pay_auth_no.startswith("AUTH") and row.psn_no.startswith("320602")
        left = (row.pay_auth_expires_at - dt.datetime.now(dt.UTC)).total_seconds()
        assert 500 < left <= 600  # as long as the platform said
        stored = db.session.execute(text("SELECT pay_auth_no FROM patients WHERE id = :id"), {"id": row.id}).scalar()
        assert row.pay_auth_no not in stored  # encrypted at rest


def test_the_payauthno_is_never_logged(app, login, verify, caplog):
    caplog.set_level("DEBUG")
    resp = verify(login("o-v10"))
    with app.app_context():
        pay_auth_no = db_patient(resp.get_json()["patient"]["id"]).pay_auth_no
    assert pay_auth_no and pay_auth_no not in caplog.text


def test_a_wrong_partner_secret_is_a_platform_fault(app, login, verify):
    app.config["MEDINS_USERQUERY_SECRET"] = "not-the-secret-tencent-issued"
    resp = verify(login("o-v11"))
    assert resp.status_code == 502 and resp.get_json()["error"]["code"] == "UPSTREAM_ERROR"
    with app.app_context():
        assert Patient.query.count() == 0


def test_an_unreachable_userquery_is_a_platform_fault(app, login, verify):
    token = login("o-v12")  # WeChat login first: the sandbox moves away below
    app.config["POSTPAY_SANDBOX_URL"] = "http://127.0.0.1:9/sandbox"  # nothing listens there
    resp = verify(token)
    assert resp.status_code == 502 and resp.get_json()["error"]["code"] == "UPSTREAM_ERROR"
