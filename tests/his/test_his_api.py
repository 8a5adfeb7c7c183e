"""The HIS API: signing, idempotency, validation, visit start (R9) and items (R2, R4, R9)."""

import time

import pytest

from postpay.accounts.models import Patient
from postpay.billing.models import Item
from postpay.extensions import db
from postpay.hospitals.models import Hospital
from tests.conftest import bearer, item, make_id_number

PHONE = "13566660001"


@pytest.fixture
def signed_patient(person, phone, signed):
    """A verified patient with an active post-pay contract."""
    token, patient = person("o-h-signed", name="周大爷", birth="19500505")
    assert signed(token, patient["id"], PHONE).status_code == 201
    return token, patient


def test_signed_patient_registers_post_pay_with_a_day_bill_R9(his, signed_patient):
    answer = his.visit("V1", signed_patient[1])
    assert answer["postpay"] is True and answer["reasons"] == [] and answer["bill_id"]


def test_unsigned_visit_paid_out_of_pocket_stays_pay_as_you_go_for_its_whole_life_R9(client, his, person, signed):
    token, patient = person("o-h-unsigned")
    answer = his.visit("V2", patient)
    assert answer["postpay"] is False and [r["code"] for r in answer["reasons"]] == ["NO_CONTRACT"]
    first = his.items("V2", ("V2-0", "exam", "挂号诊查", 1, 1200))[0]  # charged before signing
    assert (first["deferred"], first["pay_now_reason"]) == (False, "PAYG")
    assert signed(token, patient["id"], PHONE).status_code == 201  # signs mid-visit
    answer = his.items("V2", ("V2-1", "lab", "血常规", 1, 2000))[0]
    assert (answer["deferred"], answer["pay_now_reason"]) == (False, "PAYG")
    assert his.open("/his/v1/visits/V2", method="GET").get_json()["postpay"] is False
    assert his.visit("V3", patient)["postpay"] is True  # the next visit is post-pay


def test_unknown_patient_is_created_unverified_and_matched_by_blind_index(app, his):
    stranger = {"name": "吴某", "id_number_plain": make_id_number(birth="19660606")}
    answer = his.visit("V4", stranger)
    assert answer["postpay"] is False
    assert [r["code"] for r in answer["reasons"]] == ["NOT_VERIFIED", "NO_CONTRACT"]
    his.visit("V5", stranger | {"id_number_plain": stranger["id_number_plain"].lower()})
    with app.app_context():
        patients = Patient.query.all()
        assert len(patients) == 1 and patients[0].verified_at is None


def test_retries_change_nothing_and_answer_the_same(app, his, signed_patient):
    first = his.visit("V6", signed_patient[1])
    assert his.visit("V6", signed_patient[1]) == first
    other = {"name": "别人", "id_number_plain": make_id_number(birth="19770707")}
    clash = his.open(
        "/his/v1/visits",
        json={
            "his_visit_no": "V6",
            "patient": {"name": "别人", "id_number": other["id_number_plain"]},
            "department": "x",
            "doctor": "y",
            "registered_at": "2026-11-22T09:00:00+08:00",
        },
    )
    assert clash.status_code == 409
    items = his.items("V6", ("V6-1", "drug", "阿司匹林", 2, 1550), ("V6-2", "exam", "心电图", 1, 3000))
    assert his.items("V6", ("V6-1", "drug", "阿司匹林", 2, 1550), ("V6-2", "exam", "心电图", 1, 3000)) == items
    changed = his.open("/his/v1/visits/V6/items", json={"items": [item("V6-1", "drug", "阿司匹林", 3, 1550)]})
    assert changed.status_code == 409 and changed.get_json()["error"]["code"] == "ITEM_CONFLICT"
    event = his.event("V6", "called", at="2026-11-22T09:30:00+08:00")
    assert his.event("V6", "called", at="2026-11-22T09:30:00+08:00") == event
    with app.app_context():
        assert Item.query.count() == 2


@pytest.mark.parametrize(
    "bad, code",
    [
        ({"amount_fen": 3101}, "AMOUNT_MISMATCH"),
        ({"amount_fen": -1}, "VALIDATION_ERROR"),
        ({"unit_price_fen": -5}, "VALIDATION_ERROR"),
        ({"unit_price_fen": 10**12, "amount_fen": 10**12}, "VALIDATION_ERROR"),
        ({"quantity": 0}, "VALIDATION_ERROR"),
        ({"quantity": 1.0005, "amount_fen": 1550}, "INVALID_QUANTITY"),
        ({"quantity": "2"}, "VALIDATION_ERROR"),
        ({"category": "surgery"}, "VALIDATION_ERROR"),
        ({"unit_price_fen": 15.5}, "VALIDATION_ERROR"),
        ({"exclusion": "no_such_kind"}, "UNKNOWN_EXCLUSION"),
    ],
)
def test_items_are_validated(his, signed_patient, bad, code):
    his.visit("V7", signed_patient[1])
    body = item("V7-1", "drug", "阿司匹林", 2, 1550) | bad
    resp = his.open("/his/v1/visits/V7/items", json={"items": [body]})
    assert resp.status_code == 422 and resp.get_json()["error"]["code"] == code


def test_amount_rule_rounds_half_up_to_whole_fen(his, signed_patient):
    his.visit("V8", signed_patient[1])
    ok = his.open(
        "/his/v1/visits/V8/items",
        json={
            "items": [
                {
                    "his_item_no": "V8-1",
                    "category": "drug",
                    "name": "颗粒",
                    "quantity": 0.5,
                    "unit_price_fen": 333,
                    "amount_fen": 167,
                },
                {
                    "his_item_no": "V8-2",
                    "category": "drug",
                    "name": "片剂",
                    "quantity": 1.234,
                    "unit_price_fen": 1000,
                    "amount_fen": 1234,
                },
            ]
        },
    )
    assert ok.status_code == 200, ok.get_json()


def test_herbal_consumables_and_treatment_are_paid_now_by_hospital_data_R4(app, his, signed_patient):
    his.visit("V9", signed_patient[1])
    answers = his.items(
        "V9",
        ("a", "herbal", "中药饮片", 7, 1800),
        ("b", "consumable", "一次性注射器", 2, 150),
        ("c", "treatment", "针灸", 1, 6000),
        ("d", "lab", "血常规", 1, 2000),
    )
    assert [(a["deferred"], a["pay_now_reason"]) for a in answers] == [
        (False, "CATEGORY"),
        (False, "CATEGORY"),
        (False, "CATEGORY"),
        (True, None),
    ]
    with app.app_context():  # data, not code: another hospital may defer consumables
        Hospital.query.filter_by(code="NT01").one().pay_now_categories = ["herbal"]
        db.session.commit()
    later = his.items("V9", ("e", "consumable", "敷料", 1, 500))
    assert later[0]["deferred"] is True


def test_excluded_visits_and_items_are_not_deferred_R2(his, signed_patient):
    accident = his.visit("V10", signed_patient[1], exclusion="third_party_liability")
    assert accident["postpay"] is False and [r["code"] for r in accident["reasons"]] == ["EXCLUDED_VISIT"]
    his.visit("V11", signed_patient[1], registered_at="2026-11-22T10:00:00+08:00")
    flagged = his.items("V11", ("a", "exam", "眼科激光", 1, 80000, {"exclusion": "eye_laser"}))
    assert flagged[0]["deferred"] is False and flagged[0]["pay_now_reason"] == "EXCLUDED"


def test_items_paid_early_are_not_billed_again_R9(client, his, signed_patient):
    token, patient = signed_patient
    visit = his.visit("V12", patient)
    answers = his.items("V12", ("a", "exam", "CT", 1, 30000, {"paid": True}), ("b", "lab", "血常规", 1, 2000))
    assert [(a["deferred"], a["pay_now_reason"]) for a in answers] == [(False, "PAID_EARLY"), (True, None)]
    bill = client.get("/api/v1/bills/" + visit["bill_id"], headers=bearer(token)).get_json()["bill"]
    assert bill["amount_fen"] == 2000


@pytest.mark.parametrize("tamper", ["stale", "replay", "secret", "hospital"])
def test_his_requests_must_be_signed_fresh_and_once(client, his, signed_patient, tamper):
    body = b'{"items": []}'
    headers = his.signed.headers("POST", "/his/v1/visits/X/items", body)
    if tamper == "stale":
        headers = his.signed.headers("POST", "/his/v1/visits/X/items", body, timestamp=time.time() - 400)
    elif tamper == "replay":
        client.post("/his/v1/visits/X/items", data=body, headers=headers, content_type="application/json")
    elif tamper == "secret":
        headers = his.at("HA01").signed.headers("POST", "/his/v1/visits/X/items", body)
        headers["X-Hospital-Id"] = "NT01"
    elif tamper == "hospital":
        headers["X-Hospital-Id"] = "NOPE"
    resp = client.post("/his/v1/visits/X/items", data=body, headers=headers, content_type="application/json")
    assert resp.status_code == 401


def test_a_hospital_sees_only_its_own_visits(his, signed_patient):
    his.visit("V13", signed_patient[1])
    resp = his.at("HA01").open("/his/v1/visits/V13/items", json={"items": [item("x", "lab", "血常规", 1, 2000)]})
    assert resp.status_code == 404 and resp.get_json()["error"]["code"] == "VISIT_NOT_FOUND"
