"""Eligibility (R1-R5, R9): every failing reason with a stable code."""

import pytest

from postpay.accounts.models import Patient
from postpay.contracts.eligibility import evaluate
from postpay.credit.service import record_arrears
from postpay.extensions import db
from tests.conftest import bearer, make_id_number


def reasons(client, token, patient_id=None):
    url = "/api/v1/postpay/eligibility" + ("?patient_id=" + patient_id if patient_id else "")
    resp = client.get(url, headers=bearer(token))
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def test_local_insured_adult_without_contract_lacks_only_the_contract_R9(client, person):
    token, _ = person("o-e1")
    answer = reasons(client, token)
    assert answer["eligible"] is False
    assert [r["code"] for r in answer["reasons"]] == ["NO_CONTRACT"]
    assert answer["contract"] is None


def test_every_failing_reason_is_returned_not_just_the_first_R1_R5(client, person):
    token, _ = person(
        "o-e2",
        insured_region="310101",  # Shanghai
        insurance_type="other",
        insured_status="suspended",
        id_number=make_id_number(region="310101", birth="20150101"),
    )
    codes = [r["code"] for r in reasons(client, token)["reasons"]]
    assert codes == ["NOT_LOCAL_INSURED", "INSURANCE_TYPE", "INSURED_STATUS_ABNORMAL", "UNDER_AGE", "NO_CONTRACT"]
    assert all(r["message"] for r in reasons(client, token)["reasons"])


@pytest.mark.parametrize("region", ["320602", "320685", "320681"])
def test_nantong_regions_are_local_R1(client, person, region):
    token, _ = person("o-e3" + region, insured_region=region, id_number=make_id_number(region=region))
    assert "NOT_LOCAL_INSURED" not in [r["code"] for r in reasons(client, token)["reasons"]]


def test_insured_regions_are_configuration_R1(app, client, person):
    app.config["POSTPAY_INSURED_REGIONS"] = ["310101"]
    token, _ = person("o-e4", insured_region="320602")
    assert "NOT_LOCAL_INSURED" in [r["code"] for r in reasons(client, token)["reasons"]]


def test_fourteen_years_is_the_minimum_age_R5(app, person):
    _, patient = person("o-e5", id_number=make_id_number(birth="20121122"))
    with app.app_context():
        row = db.session.get(Patient, patient["id"])
        import datetime as dt

        assert "UNDER_AGE" in [r.code for r in evaluate(row, on=dt.date(2026, 11, 21))]
        assert "UNDER_AGE" not in [r.code for r in evaluate(row, on=dt.date(2026, 11, 22))]


def test_an_arrears_record_suspends_until_repaired_R3_R18(app, client, person):
    token, patient = person("o-e6")
    with app.app_context():
        record = record_arrears(patient["id"], ["bl_x"])
        db.session.commit()
        record_id = record.id
    assert "ARREARS" in [r["code"] for r in reasons(client, token)["reasons"]]
    with app.app_context():
        from postpay.clock import utcnow
        from postpay.credit.models import CreditRecord

        db.session.get(CreditRecord, record_id).repaired_at = utcnow()
        db.session.commit()
    assert "ARREARS" not in [r["code"] for r in reasons(client, token)["reasons"]]


def test_an_unverified_account_is_told_to_verify(client, login):
    token = login("o-e7")
    resp = client.get("/api/v1/postpay/eligibility", headers=bearer(token))
    assert resp.status_code == 404  # no own patient yet: nothing to answer for


def test_signed_patient_is_eligible_R9(client, person, phone, signed):
    token, patient = person("o-e8")
    phone(token, "13811110008")
    assert signed(token, patient["id"], "13811110008").status_code == 201
    answer = reasons(client, token)
    assert answer["eligible"] is True and answer["reasons"] == []
    assert answer["contract"]["status"] == "active"
